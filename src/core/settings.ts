/**
 * Notebook-level settings: Kale's `metadata.kubeflow_notebook` read as Kale writes it, overridden by cellpipe's own
 * `metadata.cellpipe` (which is what cellpipe writes).
 */
import type { Diagnostic, PipelineSettings, VolumeMount } from './model.js';
import { isObject } from './notebook.js';
import { parseCellTags } from './tags.js';
import { checkEnvVar, sortedEnv } from './env.js';

export const DEFAULT_BASE_IMAGE = 'python:3.11-slim';

/** A PersistentVolumeClaim's name: a DNS subdomain (RFC 1123), as Kubernetes checks it. */
const CLAIM_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface NotebookSettings extends PipelineSettings {
  /** Tags applied to every step before its own (Kale's `steps_defaults`). */
  stepDefaults: string[];
  /** Environment variables of every step (`metadata.cellpipe.env`); a step's `env:` tags win. */
  env: Record<string, string>;
}

/** `defaultBaseImage`: the base image when the notebook names none (the user's setting; else DEFAULT_BASE_IMAGE). */
export function readSettings(metadata: Record<string, unknown>, notebookPath: string | undefined, defaultBaseImage?: string): { settings: NotebookSettings; diagnostics: Diagnostic[] } {
  const kale = isObject(metadata.kubeflow_notebook) ? metadata.kubeflow_notebook : {};
  const own = isObject(metadata.cellpipe) ? metadata.cellpipe : {};
  const diagnostics: Diagnostic[] = [];
  const str = (...values: unknown[]) => values.find((v): v is string => typeof v === 'string' && v.trim() !== '')?.trim();
  const experiment = isObject(kale.experiment) ? kale.experiment.name : undefined;
  const rawName = str(own.pipeline_name, kale.pipeline_name) ?? stem(notebookPath) ?? 'pipeline';
  const name = pipelineName(rawName);
  if (name !== rawName) {
    diagnostics.push({
      severity: 'info', code: 'pipeline-name', message: `pipeline name '${rawName}' is used as '${name}' (Kubeflow allows lowercase letters, digits and -)`,
    });
  }
  const volumes: VolumeMount[] = [];
  const exposed: ExposedVolume[] = [];
  const rawVolumes = Array.isArray(own.volumes) ? own.volumes : Array.isArray(kale.volumes) ? kale.volumes : [];
  rawVolumes.forEach((v, i) => {
    if (!isObject(v)) return;
    const mountPoint = str(v.mount_point, v.mountPoint);
    const claim = str(v.name);
    const type = str(v.type) ?? 'pvc';
    if (!mountPoint || !claim || type !== 'pvc') {
      diagnostics.push({
        severity: 'warning', code: 'unsupported-volume', message: `volume ${i + 1} in the notebook settings is ignored: cellpipe mounts existing PVCs (type 'pvc' with name and mount_point)`,
        hint: 'create the claim in the namespace and list it as {type: pvc, name, mount_point}',
      });
      return;
    }
    if (!CLAIM_NAME.test(claim) || claim.length > 253) {
      diagnostics.push({
        severity: 'error', code: 'invalid-volume', message: `volume ${i + 1} in the notebook settings: '${claim}' is not a name Kubernetes gives a claim`,
        hint: 'use the PersistentVolumeClaim\'s name as `kubectl get pvc` shows it: lower-case letters, digits, - and .',
      });
      return;
    }
    volumes.push({ name: claim, mountPoint });
    if (v.expose_as_env_var === true) exposed.push({ claim, mountPoint, at: i });
  });
  const defaults = own.steps_defaults !== undefined
    ? readStepDefaults(own.steps_defaults, 'metadata.cellpipe.steps_defaults')
    : readStepDefaults(kale.steps_defaults, 'metadata.kubeflow_notebook.steps_defaults');
  diagnostics.push(...defaults.diagnostics);
  const caching = readPipelineCaching(own.enable_caching !== undefined ? own.enable_caching : kale.enable_caching, diagnostics);
  const env = readNotebookEnv(own.env, 'metadata.cellpipe.env');
  diagnostics.push(...env.diagnostics);
  // A name set in metadata.cellpipe.env on purpose wins over the one a volume implies.
  const stepEnv = sortedEnv({ ...volumeEnv(exposed, diagnostics), ...env.env });
  return {
    settings: {
      name,
      description: str(own.pipeline_description, kale.pipeline_description) ?? '',
      experiment: str(own.experiment_name, kale.experiment_name, experiment) ?? 'Default',
      baseImage: str(own.base_image, own.docker_image, kale.docker_image, kale.base_image) ?? str(defaultBaseImage) ?? DEFAULT_BASE_IMAGE,
      volumes,
      // Kale 2.3: the pipeline's enable_caching=false turns caching off for every step but one whose own cache: says otherwise.
      stepDefaults: caching === false ? ['cache:disabled', ...defaults.tags] : defaults.tags,
      env: stepEnv,
    },
    diagnostics,
  };
}

/** A volume whose mount path every step gets as an environment variable (Kale 2.3's `expose_as_env_var`). */
interface ExposedVolume {
  claim: string;
  mountPoint: string;
  /** 0-based place in the volumes list. */
  at: number;
}

/** The variable name Kale 2.3 gives a volume's mount path: `KALE_VOLUME_` and the claim's name, upper case, `_` for the rest. */
export function volumeEnvName(claim: string): string {
  return `KALE_VOLUME_${claim.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * `KALE_VOLUME_<CLAIM>=<mount point>` for each exposed volume. Two claims that give the same name (`my-data`,
 * `my.data`) are refused, as Kale's compiler refuses them: one would silently hide the other's path.
 */
function volumeEnv(exposed: ExposedVolume[], diagnostics: Diagnostic[]): Record<string, string> {
  const env: Record<string, string> = {};
  const from = new Map<string, ExposedVolume>();
  for (const v of exposed) {
    const name = volumeEnvName(v.claim);
    const other = from.get(name);
    if (other) {
      diagnostics.push({
        severity: 'error', code: 'volume-env-clash',
        message: `volumes ${other.at + 1} ('${other.claim}') and ${v.at + 1} ('${v.claim}') in the notebook settings both expose their mount path as ${name}`,
        hint: 'rename one of the claims, or turn off expose_as_env_var on one of them',
      });
      continue;
    }
    from.set(name, v);
    env[name] = v.mountPoint;
  }
  return env;
}

/** The pipeline's `enable_caching` (Kale 2.3): true, false, or not set; anything else is said and ignored. */
function readPipelineCaching(raw: unknown, diagnostics: Diagnostic[]): boolean | undefined {
  if (raw === undefined || raw === null || typeof raw === 'boolean') return raw ?? undefined;
  diagnostics.push({ severity: 'warning', code: 'invalid-setting', message: `enable_caching in the notebook settings is ${JSON.stringify(raw)}, not true or false, and is ignored`, hint: 'write "enable_caching": false to turn caching off for every step' });
  return undefined;
}

/**
 * `steps_defaults`: tags every step gets, as Kale reads them — a list of tags (what Kale's panel writes, e.g. the
 * PodDefault labels `label:access-ml-pipeline:true`), or the parsed form `{labels, annotations, limits}` Kale's SDK
 * keeps. Kale takes `limit:`, `annotation:` and `label:`; cellpipe takes every step option. Entries that are not
 * step options are left out with a warning; bad values are errors, named by their place in the metadata.
 */
export function readStepDefaults(raw: unknown, field: string): { tags: string[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const entries: unknown[] = Array.isArray(raw) ? raw : isObject(raw) ? tagsOfParsedDefaults(raw) : [];
  if (raw !== undefined && raw !== null && !Array.isArray(raw) && !isObject(raw)) {
    diagnostics.push({ severity: 'warning', code: 'invalid-setting', message: `${field} is not a list of tags and is ignored`, hint: `write ${field} as a list, e.g. ["label:team:ml", "limit:memory:2Gi"]` });
  }
  const tags: string[] = [];
  entries.forEach((entry, i) => {
    const at = `${field}[${i}]`;
    if (typeof entry !== 'string') {
      diagnostics.push({ severity: 'warning', code: 'invalid-setting', message: `${at} is not a tag and is ignored`, hint: 'list tags as strings, e.g. "label:team:ml"' });
      return;
    }
    const parsed = parseCellTags({ index: -1, type: 'code', source: '', tags: [entry] });
    for (const d of parsed.diagnostics) {
      diagnostics.push({ severity: d.severity, code: d.code, message: `${at}: ${d.message}`, ...(d.hint ? { hint: d.hint } : {}) });
    }
    if (parsed.diagnostics.some((d) => d.severity !== 'info')) return; // an info (secret:) keeps the tag
    if (parsed.tags.role || parsed.tags.prev.length) {
      diagnostics.push({
        severity: 'warning', code: 'misplaced-tag', message: `${at}: '${entry.trim()}' is not a step option and is ignored`,
        hint: 'steps_defaults lists options every step gets (limit:, annotation:, label:, image:, cache:, secret:, requirements:, timeout:, retries:); put roles, step names and prev: on cells',
      });
      return;
    }
    tags.push(entry.trim());
  });
  return { tags, diagnostics };
}

/**
 * `metadata.cellpipe.env`: `{NAME: value}` for every step. Numbers and booleans are taken as their text (as YAML
 * and Kubernetes would write them); names and values are checked as `env:` tags are, errors named by their key.
 */
export function readNotebookEnv(raw: unknown, field: string): { env: Record<string, string>; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const env: Record<string, string> = {};
  if (raw === undefined || raw === null) return { env, diagnostics };
  if (!isObject(raw)) {
    diagnostics.push({ severity: 'error', code: 'invalid-setting', message: `${field} must be a mapping of variable names to values`, hint: `write ${field} as {"DATASET_URL": "https://example.com/data.csv"}` });
    return { env, diagnostics };
  }
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      diagnostics.push({ severity: 'error', code: 'invalid-setting', message: `${field}.${name} must be a text value, not ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`, hint: `write "${name}": "value"` });
      continue;
    }
    const text = String(value);
    const bad = checkEnvVar(name, text);
    if (bad) diagnostics.push({ severity: 'error', code: bad.code, message: `${field}.${name}: ${bad.message}`, hint: bad.hint });
    else env[name] = text;
  }
  return { env: sortedEnv(env), diagnostics };
}

/** Kale's parsed form `{labels: {k: v}, annotations: {k: v}, limits: {k: v}}`, back as the tags it came from. */
function tagsOfParsedDefaults(raw: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, prefix] of [['labels', 'label'], ['annotations', 'annotation'], ['limits', 'limit']] as const) {
    const map = raw[key];
    if (!isObject(map)) continue;
    for (const [k, v] of Object.entries(map)) out.push(`${prefix}:${k}:${String(v)}`);
  }
  return out;
}

/** Kubeflow's rule for pipeline names: `^[a-z0-9][a-z0-9-]{0,127}$`. */
export function pipelineName(raw: string): string {
  const cleaned = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 128);
  return cleaned || 'pipeline';
}

function stem(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const base = path.split(/[\\/]/).pop() ?? '';
  return base.replace(/\.ipynb$/i, '') || undefined;
}
