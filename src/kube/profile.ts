/**
 * cellpipe profiles: where to run (cluster, namespace) and where images go (registry), by name.
 *
 * File: YAML at `$CELLPIPE_PROFILES`, else `~/.config/cellpipe/profiles.yaml`:
 *
 * ```yaml
 * profiles:
 *   prod:                          # the name used by `--profile prod`
 *     kubeconfig: ~/.kube/config   # optional; default: $KUBECONFIG, then ~/.kube/config
 *     context: my-cluster          # optional; default: the kubeconfig's current context
 *     inCluster: false             # optional; true inside a pod: use the pod's service account
 *     namespace: kubeflow-user     # required: where jobs and pods are created and read
 *     registry: registry.example.com/team   # where step images are pushed
 *     insecureRegistry: false      # plain HTTP / self-signed registry
 *     baseImage: python:3.12-slim  # default base image of the steps
 *     build: auto                  # how requirements images are built: buildah (here), kaniko (a Job in the
 *                                  # namespace) or auto (buildah when installed, else kaniko)
 *     pip: { indexUrl: https://pypi.example.com/simple }   # optional: where those builds get packages
 *                                  # (also extraIndexUrl, trustedHost); no credentials in the URL
 *     kaniko: { image: registry.example.com/mirror/kaniko:v1.23.2-debug, hostNetwork: false }   # optional
 *     kfp: { host: https://kubeflow.example.com/pipeline }   # Kubeflow Pipelines settings, read by the kubeflow runtime
 * ```
 *
 * Inside a Kubeflow notebook pod with no profiles file, the profile `kubeflow` is implied by the pod itself
 * (./notebook-pod.ts): nothing to write.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { pipSettingsProblem, type PipSettings } from '../images/requirements.js';
import { notebookPodProfile, type PodFiles } from './notebook-pod.js';

export interface Profile {
  name: string;
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
  namespace: string;
  registry?: string;
  insecureRegistry?: boolean;
  baseImage?: string;
  /** Builder of requirements images: `buildah` (this machine), `kaniko` (a Job in `namespace`), `auto` (default). */
  build?: 'auto' | 'buildah' | 'kaniko';
  pip?: PipSettings;
  /** The kaniko Job: its executor image (a `-debug` variant; default gcr.io's) and whether it uses the node's network. */
  kaniko?: { image?: string; hostNetwork?: boolean };
  kfp?: Record<string, unknown>;
  /** Not written anywhere: implied by the Kubeflow notebook pod this process runs in (./notebook-pod.ts). */
  implicit?: 'notebook-pod';
}

/** Where the profiles file is, given the environment. */
export function profilesPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CELLPIPE_PROFILES) return env.CELLPIPE_PROFILES;
  return join(env.HOME || homedir(), '.config', 'cellpipe', 'profiles.yaml');
}

function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  return path === '~' || path.startsWith('~/') ? join(env.HOME || homedir(), path.slice(1)) : path;
}

/** The profile a Kubeflow notebook pod implies, when there is no profiles file (`err` is why it could not be read). */
function implied(err: unknown, env: NodeJS.ProcessEnv, pod: PodFiles): Profile | undefined {
  return (err as { noFile?: boolean }).noFile ? notebookPodProfile(env, pod) : undefined;
}

/**
 * Reads every profile from the profiles file; throws with the file and field at fault. Inside a Kubeflow notebook
 * pod, the profile the pod implies comes after the file's (or alone, without a file): adding a profile for another
 * cluster does not take away this notebook's own; a profile of the same name in the file replaces it.
 */
export async function loadProfiles(env: NodeJS.ProcessEnv = process.env, pod: PodFiles = {}): Promise<Map<string, Profile>> {
  let raw: Record<string, unknown>;
  try {
    raw = await readProfiles(env);
  } catch (err) {
    const p = implied(err, env, pod);
    if (p) return new Map([[p.name, p]]);
    throw err;
  }
  const out = new Map<string, Profile>();
  for (const [name, value] of Object.entries(raw)) out.set(name, checkProfile(name, value, profilesPath(env), env));
  const own = notebookPodProfile(env, pod);
  if (own && !out.has(own.name)) out.set(own.name, own);
  return out;
}

/**
 * The configured profiles' names, in file order; undefined when there is no profiles file (and no notebook pod that
 * implies one). Throws for a broken file.
 */
export async function profileNames(env: NodeJS.ProcessEnv = process.env, pod: PodFiles = {}): Promise<string[] | undefined> {
  try {
    const names = Object.keys(await readProfiles(env));
    const own = notebookPodProfile(env, pod);
    return own && !names.includes(own.name) ? [...names, own.name] : names;
  } catch (err) {
    const p = implied(err, env, pod);
    if (p) return [p.name];
    if ((err as { noFile?: boolean }).noFile) return undefined;
    throw err;
  }
}

async function readProfiles(env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const path = profilesPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw Object.assign(
        new Error(`no profiles file at ${path}: create it (see 'cellpipe doctor --help' for the format) or set CELLPIPE_PROFILES`),
        { noFile: true },
      );
    }
    throw err;
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  const profiles = (doc as { profiles?: unknown } | null)?.profiles;
  if (!profiles || typeof profiles !== 'object' || Array.isArray(profiles)) {
    throw new Error(`${path}: expected a top-level 'profiles:' mapping of profile names to settings`);
  }
  return profiles as Record<string, unknown>;
}

/** Reads one profile by name (mistakes in other profiles do not matter). */
export async function loadProfile(name: string, env: NodeJS.ProcessEnv = process.env, pod: PodFiles = {}): Promise<Profile> {
  let all: Record<string, unknown>;
  try {
    all = await readProfiles(env);
  } catch (err) {
    const p = implied(err, env, pod);
    if (!p) throw err;
    if (p.name === name) return p;
    throw Object.assign(new Error(`no profile '${name}': there is no profiles file at ${profilesPath(env)}, and this Kubeflow notebook pod implies only '${p.name}'`), { noFile: true });
  }
  if (!Object.hasOwn(all, name)) {
    const own = notebookPodProfile(env, pod);
    if (own?.name === name) return own;
    const known = [...Object.keys(all), ...(own ? [own.name] : [])];
    throw new Error(`no profile '${name}' in ${profilesPath(env)}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
  }
  return checkProfile(name, all[name], profilesPath(env), env);
}

/** Checks one profile's settings (`path`: where it comes from, for messages); throws naming the field at fault. */
export function checkProfile(name: string, raw: unknown, path: string, env: NodeJS.ProcessEnv = process.env): Profile {
  const where = `${path}: profiles.${name}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where}: expected a mapping of settings`);
  const r = raw as Record<string, unknown>;
  const str = (key: string): string | undefined => {
    const v = r[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`${where}.${key}: expected a non-empty string`);
    return v;
  };
  const bool = (key: string): boolean | undefined => {
    const v = r[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new Error(`${where}.${key}: expected true or false`);
    return v;
  };
  const namespace = str('namespace');
  if (!namespace) throw new Error(`${where}.namespace: missing; set the Kubernetes namespace cellpipe works in`);
  const kubeconfig = str('kubeconfig');
  const build = str('build');
  if (build !== undefined && !['auto', 'buildah', 'kaniko'].includes(build)) {
    throw new Error(`${where}.build: '${build}' is not one of auto, buildah, kaniko`);
  }
  const section = (key: string): Record<string, unknown> | undefined => {
    const v = r[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}.${key}: expected a mapping`);
    return v as Record<string, unknown>;
  };
  const fields = (key: string, known: Record<string, 'string' | 'boolean'>): Record<string, string | boolean> | undefined => {
    const m = section(key);
    if (!m) return undefined;
    for (const [k, v] of Object.entries(m)) {
      if (!(k in known)) throw new Error(`${where}.${key}.${k}: unknown setting (known: ${Object.keys(known).join(', ')})`);
      if (typeof v !== known[k] || v === '') throw new Error(`${where}.${key}.${k}: expected ${known[k] === 'string' ? 'a non-empty string' : 'true or false'}`);
    }
    return m as Record<string, string | boolean>;
  };
  const pip = fields('pip', { indexUrl: 'string', extraIndexUrl: 'string', trustedHost: 'string' }) as PipSettings | undefined;
  const pipProblem = pip && pipSettingsProblem(pip);
  if (pipProblem) throw new Error(`${where}.pip.${pipProblem}`);
  const kaniko = fields('kaniko', { image: 'string', hostNetwork: 'boolean' }) as Profile['kaniko'];
  const kfp = r.kfp;
  if (kfp !== undefined && (typeof kfp !== 'object' || kfp === null || Array.isArray(kfp))) {
    throw new Error(`${where}.kfp: expected a mapping`);
  }
  return {
    name,
    kubeconfig: kubeconfig ? resolve(expandHome(kubeconfig, env)) : undefined,
    context: str('context'),
    inCluster: bool('inCluster'),
    namespace,
    registry: str('registry'),
    insecureRegistry: bool('insecureRegistry'),
    baseImage: str('baseImage'),
    build: build as Profile['build'],
    ...(pip ? { pip } : {}),
    ...(kaniko ? { kaniko } : {}),
    kfp: kfp as Record<string, unknown> | undefined,
  };
}
