/**
 * `secret:<secret>:<key>:<ENV>` outside Kubernetes. On Kubeflow the variable comes from the Kubernetes secret; a
 * local or container run has no Kubernetes secret to read, so it takes the variable from the environment cellpipe
 * runs in (the name itself) or else from a local file, `CELLPIPE_SECRETS_FILE`, shaped as Kubernetes secrets are
 * (`{"<secret>": {"<key>": "<value>"}}`). What it finds is said in the step's log by name
 * and source, never by value; a variable left unset is said too (it used to be silently missing).
 */
import * as fs from 'node:fs';
import type { SecretEnv } from '../core/model.js';

export interface LocalSecrets {
  /** Variables to set in the step's process (from the file; the environment's own pass through anyway). */
  values: Record<string, string>;
  /** One line a secret for the step's log: where each came from, or that it is not set and how to set it. */
  notes: string[];
}

/** The file's secrets, or why it can't be used (said once per step in the log). */
function readSecretsFile(file: string): { secrets: Record<string, Record<string, unknown>> } | { problem: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { problem: `CELLPIPE_SECRETS_FILE ${file} can't be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) return { secrets: doc as Record<string, Record<string, unknown>> };
  } catch {
    // said below, without quoting the file (it holds secrets)
  }
  return { problem: `CELLPIPE_SECRETS_FILE ${file} is not a JSON object of secrets ({"<secret>": {"<key>": "<value>"}})` };
}

/** What a step's `secret:` tags get in a run outside Kubernetes (`env`: the environment cellpipe runs in). */
export function localSecrets(secrets: readonly SecretEnv[], env: NodeJS.ProcessEnv): LocalSecrets {
  const out: LocalSecrets = { values: {}, notes: [] };
  if (!secrets.length) return out;
  const file = env.CELLPIPE_SECRETS_FILE;
  const read = file ? readSecretsFile(file) : undefined;
  if (read && 'problem' in read) out.notes.push(read.problem);
  for (const s of secrets) {
    const tag = `secret:${s.secret}:${s.key}:${s.env}`;
    if (env[s.env] !== undefined) {
      out.notes.push(`${s.env} (${tag}) is taken from the environment cellpipe runs in`);
      continue;
    }
    const value = read && 'secrets' in read ? read.secrets[s.secret]?.[s.key] : undefined;
    if (typeof value === 'string') {
      out.values[s.env] = value;
      out.notes.push(`${s.env} (${tag}) is set from CELLPIPE_SECRETS_FILE`);
      continue;
    }
    out.notes.push(
      `${s.env} is not set: ${tag} names a Kubernetes secret, which runs outside Kubernetes don't read; ` +
      (file
        ? `CELLPIPE_SECRETS_FILE has no "${s.key}" in "${s.secret}"`
        : `set ${s.env} in the environment cellpipe runs in, or point CELLPIPE_SECRETS_FILE at a JSON file {"${s.secret}": {"${s.key}": "…"}}`),
    );
  }
  return out;
}
