/**
 * Registry credentials from where users already keep them: the Docker config (`$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`: `auths`, `credHelpers`, `credsStore`) and Kubernetes `kubernetes.io/dockerconfigjson`
 * secrets (the same JSON, base64'd under `.dockerconfigjson`).
 * Credential helpers are run as `docker-credential-<name> get` with the host on stdin — argv only, never a shell —
 * and only when the helper binary is on PATH.
 */
import { spawn } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (`identitytoken` in the Docker config). */
  identityToken?: string;
  /** A ready bearer token for the registry (`registrytoken`). */
  registryToken?: string;
}

/** The parts of a Docker `config.json` cellpipe reads. */
export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Looks up the credential for one registry host; `undefined` means anonymous. */
export type CredentialSource = (registry: string) => Promise<Credential | undefined>;

/** Reads the Docker config the way the docker CLI does; a missing file is an empty config. */
export async function loadDockerConfig(env: NodeJS.ProcessEnv = process.env): Promise<DockerConfig> {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    return JSON.parse(text) as DockerConfig;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}) — fix or remove it`);
  }
}

/**
 * The Docker config inside a Kubernetes secret of type `kubernetes.io/dockerconfigjson`: accepts the Secret object
 * (as `kubectl get secret -o json` prints it), its decoded `.dockerconfigjson` text, or the parsed config.
 */
export function dockerConfigFromSecret(secret: unknown): DockerConfig {
  let value: unknown = secret;
  if (typeof value === 'string') value = JSON.parse(value);
  const obj = value as { kind?: string; data?: Record<string, string>; stringData?: Record<string, string> };
  if (obj && (obj.kind === 'Secret' || obj.data || obj.stringData)) {
    const raw = obj.stringData?.['.dockerconfigjson'] ??
      (obj.data?.['.dockerconfigjson'] ? Buffer.from(obj.data['.dockerconfigjson'], 'base64').toString('utf8') : undefined);
    if (raw === undefined) {
      throw new Error('the secret has no .dockerconfigjson key — create it with kubectl create secret docker-registry');
    }
    return JSON.parse(raw) as DockerConfig;
  }
  return obj as DockerConfig;
}

/** Keys under which the docker CLI may have stored a host's entry in `auths`. */
function authKeys(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
  if (registry === 'docker.io' || registry === 'registry-1.docker.io' || registry === 'index.docker.io') {
    keys.unshift('https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io');
  }
  return keys;
}

/** Finds `name` on PATH as an executable file. */
export async function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const dir of (env.PATH || '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin; resolves `undefined` when it knows none. */
export async function runCredentialHelper(
  helper: string,
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credential | undefined> {
  if (!/^[A-Za-z0-9_.-]+$/.test(helper)) throw new Error(`credential helper name '${helper}' is not a plain name`);
  const bin = await findExecutable(`docker-credential-${helper}`, env);
  if (!bin) return undefined;
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(bin, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(registry);
  });
  if (out.code !== 0) {
    if (/credentials not found/i.test(out.stdout + out.stderr)) return undefined;
    throw new Error(`docker-credential-${helper} get failed for ${registry} (exit ${out.code}): ${out.stderr.trim() || out.stdout.trim()}`);
  }
  const parsed = JSON.parse(out.stdout) as { Username?: string; Secret?: string };
  if (!parsed.Secret) return undefined;
  // Helpers return `<token>` as username for identity tokens, as the docker CLI does.
  if (parsed.Username === '<token>') return { identityToken: parsed.Secret };
  return { username: parsed.Username, password: parsed.Secret };
}

/** Resolves a host's credential from a Docker config: `credHelpers[host]`, then `auths`, then `credsStore`. */
export async function credentialFromDockerConfig(
  config: DockerConfig,
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credential | undefined> {
  const keys = authKeys(registry);
  for (const key of keys) {
    const helper = config.credHelpers?.[key];
    if (helper) {
      const cred = await runCredentialHelper(helper, key, env);
      if (cred) return cred;
    }
  }
  for (const key of keys) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    if (entry.identitytoken) return { identityToken: entry.identitytoken };
    if (entry.registrytoken) return { registryToken: entry.registrytoken };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new Error(`Docker config auths['${key}'].auth is not base64 of user:password`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username !== undefined) return { username: entry.username, password: entry.password ?? '' };
  }
  if (config.credsStore) return runCredentialHelper(config.credsStore, registry, env);
  return undefined;
}

/** A credential source backed by one Docker config (from a file or a Kubernetes secret). */
export function dockerConfigSource(config: DockerConfig, env: NodeJS.ProcessEnv = process.env): CredentialSource {
  return (registry) => credentialFromDockerConfig(config, registry, env);
}

/** The default source: the user's Docker config, read once. */
export function defaultCredentialSource(env: NodeJS.ProcessEnv = process.env): CredentialSource {
  let config: Promise<DockerConfig> | undefined;
  return async (registry) => {
    config ??= loadDockerConfig(env);
    return credentialFromDockerConfig(await config, registry, env);
  };
}

/** Builds a Docker config JSON holding one basic credential (for handing to buildah/skopeo through --authfile). */
export function dockerConfigFor(registry: string, cred: Credential | undefined): DockerConfig {
  if (!cred?.username) return { auths: {} };
  const auth = Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64');
  return { auths: { [registry]: { auth } } };
}
