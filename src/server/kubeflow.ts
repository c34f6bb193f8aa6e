/**
 * The backend's Kubeflow side: the profiles a user can run on, one `KubeflowRuntime` per profile and run store
 * (made on first use — the runtime writes into the store that holds the notebook's runs), and the list of Kubeflow
 * runs this backend submitted, so a restarted backend watches the unfinished ones again.
 *
 * Nothing here is loaded until a Kubeflow route is used: the runtime module (and through it the Kubernetes client)
 * is imported lazily, so a backend used for local runs only never pays for it.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Profile } from '../kube/profile.js';
import type { RunStore } from '../runs/store.js';
import { isTerminalRun } from '../runs/store.js';
import type { KubeflowRuntime } from '../runtimes/kubeflow/runtime.js';
import type { KfpClient } from '../kfp/client.js';
import { HttpError } from './http.js';
import { writeStateFile } from './state-file.js';
import { pidExists } from '../runs/process.js';

export interface KubeflowOptions {
  /** Reads the profiles (default: the profiles file, see kube/profile.ts). */
  loadProfiles?: () => Promise<Map<string, Profile>>;
  /** Makes the runtime of a profile writing into `store` (default: `new KubeflowRuntime({store, profile})`). */
  makeRuntime?: (profile: Profile, store: RunStore) => KubeflowRuntime | Promise<KubeflowRuntime>;
  /** JSON file remembering the Kubeflow runs this backend submitted (default: `$XDG_STATE_HOME/cellpipe/backend-kubeflow-runs.json`). */
  stateFile?: string;
  /** How often `/events` asks KFP about a Kubeflow run this backend does not watch (default 2000 ms). */
  refreshMs?: number;
  /** Where warnings go (KFP unreachable, logs unavailable …); default: stderr. */
  warn?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** What `GET /api/profiles` tells about a profile: never tokens, token files or other credentials. */
export interface ProfileSummary {
  name: string;
  kind: 'kubeflow';
  namespace: string;
  /** Where step images are pushed; absent when the profile cannot build images. */
  registry?: string;
  /** Base URL of the Kubeflow Pipelines UI (`<kfpUi>/#/runs/details/<kfp run id>`), when known. */
  kfpUi?: string;
  /** A mistake in the profile, or the cluster it needs out of reach; it cannot be used until it is fixed. */
  error?: string;
  /** What to do about `error`: the field to set, in the checker's own words. */
  hint?: string;
  /**
   * Where it is defined: the profiles file or JupyterLab's settings (which win on a name in both); `notebook-pod`:
   * written nowhere, implied by the Kubeflow notebook pod the backend runs in (no profiles file there).
   */
  source: 'file' | 'settings' | 'notebook-pod';
}

/** How messages name profiles that come from JupyterLab's settings. */
export const SETTINGS_SOURCE = 'JupyterLab settings (cellpipe › Profiles)';

interface Collected {
  profiles: Map<string, Profile>;
  sources: Map<string, ProfileSummary['source']>;
  /** Profiles that are defined but wrong, with what is wrong. */
  errors: Map<string, string>;
  /** Where the file is (absent when profiles come from `loadProfiles`), and why it could not be read. */
  file?: string;
  fileError?: string;
}

interface Remembered {
  dir: string;
  profile: string;
  /** The backend process watching it (another live backend's runs are left to it). */
  pid?: number;
}

export function defaultStateFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || path.join(env.HOME || homedir(), '.local', 'state');
  return path.join(base, 'cellpipe', 'backend-kubeflow-runs.json');
}

/** How long the picker waits for a cluster to answer before listing its profile as unreachable. */
const CLUSTER_CHECK_MS = 4000;

/**
 * The kubeconfig readable, its API server answering and the namespace there — before the profile is offered; what
 * is wrong and how to fix it otherwise (a KubeError's own message and hint).
 */
async function checkCluster(p: Profile, env: NodeJS.ProcessEnv): Promise<{ error: string; hint?: string } | undefined> {
  const { connect, checkNamespace } = await import('../kube/connect.js');
  try {
    const conn = connect(p, env);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`the cluster's API server ${conn.server} did not answer within ${CLUSTER_CHECK_MS / 1000} s`), {
        hint: `check the network, or 'kubeconfig' and 'context' of profile '${p.name}' (cellpipe doctor --profile ${p.name})`,
      })), CLUSTER_CHECK_MS);
    });
    await Promise.race([checkNamespace(conn), late]).finally(() => clearTimeout(timer));
    return undefined;
  } catch (err) {
    const hint = (err as { hint?: unknown }).hint;
    return { error: (err as Error).message, ...(typeof hint === 'string' ? { hint } : {}) };
  }
}

export class KubeflowTargets {
  private readonly runtimes = new Map<string, Promise<KubeflowRuntime>>();
  /** Profiles from JupyterLab's settings, unchecked. */
  private labProfiles: Record<string, unknown> = {};
  private readonly env: NodeJS.ProcessEnv;
  /** The remembered runs; JupyterLab's last settings are kept beside it. */
  readonly stateFile: string;
  private stateWrite: Promise<void> = Promise.resolve();

  /** How often `/events` asks KFP about a Kubeflow run this backend does not watch. */
  get refreshMs(): number {
    return this.o.refreshMs ?? 2000;
  }

  constructor(private readonly o: KubeflowOptions = {}) {
    this.env = o.env ?? process.env;
    this.stateFile = o.stateFile ?? defaultStateFile(this.env);
  }

  /** The environment profiles are read with (`cellpipe doctor` checks them with it too). */
  get environment(): NodeJS.ProcessEnv {
    return this.env;
  }

  /** The profiles file new profiles are added to; undefined when profiles come from elsewhere (`loadProfiles`). */
  async profilesFile(): Promise<string | undefined> {
    if (this.o.loadProfiles) return undefined;
    return (await import('../kube/profile.js')).profilesPath(this.env);
  }

  private warn(message: string): void {
    (this.o.warn ?? ((m: string) => process.stderr.write(`cellpipe backend: ${m}\n`)))(message);
  }

  /** Replaces the profiles that come from JupyterLab's settings (name → settings in the profiles file's format). */
  setLabProfiles(profiles: Record<string, unknown>): void {
    this.labProfiles = { ...profiles };
  }

  /** The file's profiles (a missing file has none) and JupyterLab's, each checked; the settings win on a name in both. */
  private async collect(): Promise<Collected> {
    const { checkProfile, loadProfiles, profilesPath } = await import('../kube/profile.js');
    const c: Collected = { profiles: new Map(), sources: new Map(), errors: new Map() };
    if (!this.o.loadProfiles) c.file = profilesPath(this.env);
    try {
      const fromFile = this.o.loadProfiles ? await this.o.loadProfiles() : await loadProfiles(this.env);
      for (const [name, p] of fromFile) {
        c.profiles.set(name, p);
        c.sources.set(name, p.implicit ?? 'file');
      }
    } catch (err) {
      const message = (err as Error).message;
      // No file yet is no error: the file's profiles are just none.
      if (!/^no profiles file/.test(message)) c.fileError = message;
    }
    for (const [name, raw] of Object.entries(this.labProfiles)) {
      c.profiles.delete(name);
      c.sources.set(name, 'settings');
      try {
        c.profiles.set(name, checkProfile(name, raw, SETTINGS_SOURCE, this.env));
      } catch (err) {
        c.errors.set(name, (err as Error).message);
      }
    }
    return c;
  }

  /** Every usable profile by name (a damaged profiles file contributes none). */
  async profiles(): Promise<Map<string, Profile>> {
    return (await this.collect()).profiles;
  }

  /** Every profile, for the target picker, with what is wrong with it; `error` when the profiles file is unreadable. */
  async summaries(): Promise<{ profiles: ProfileSummary[]; file?: string; error?: string }> {
    const c = await this.collect();
    const { kfpSettings, profileNeedsCluster } = await import('../kfp/endpoint.js');
    const out: ProfileSummary[] = [];
    const checks: Promise<void>[] = [];
    for (const [name, source] of c.sources) {
      const p = c.profiles.get(name);
      if (!p) {
        out.push({ name, kind: 'kubeflow', namespace: '', source, error: c.errors.get(name) });
        continue;
      }
      const s: ProfileSummary = { name: p.name, kind: 'kubeflow', namespace: p.namespace, source };
      if (p.registry) s.registry = p.registry;
      try {
        const settings = kfpSettings(p, this.env);
        if (settings.uiUrl) s.kfpUi = settings.uiUrl;
        if (profileNeedsCluster(p, this.env, settings)) {
          checks.push(checkCluster(p, this.env).then((problem) => void (problem && Object.assign(s, problem))));
        }
      } catch (err) {
        s.error = (err as Error).message;
        const hint = (err as { hint?: unknown }).hint;
        if (typeof hint === 'string') s.hint = hint;
      }
      out.push(s);
    }
    await Promise.all(checks);
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { profiles: out, ...(c.file ? { file: c.file } : {}), ...(c.fileError ? { error: c.fileError } : {}) };
  }

  /** A profile by name, or a 400 saying what is wrong with it or naming the known ones. */
  async profile(name: string): Promise<Profile> {
    const c = await this.collect();
    const all = c.profiles;
    const wrong = c.errors.get(name);
    if (wrong) throw new HttpError(400, `target '${name}': ${wrong}`, `Fix the profile in ${SETTINGS_SOURCE}, or choose another target.`);
    if (!all.has(name) && c.fileError) {
      throw new HttpError(400, `target '${name}': ${c.fileError}`, 'Choose the Local target, or fix the profiles file.');
    }
    const p = all.get(name);
    if (!p) {
      const known = [...all.keys()];
      throw new HttpError(400, `unknown target '${name}': no such profile`, `Use "local"${known.length ? ` or one of the profiles: ${known.join(', ')}` : ' (no profiles are defined)'}.`);
    }
    return p;
  }

  /** The runtime of `profile` over `store` (one per profile and store directory). */
  runtime(profile: Profile, store: RunStore): Promise<KubeflowRuntime> {
    // A profile edited in the settings gets a new runtime; runs already watched keep theirs.
    const key = `${JSON.stringify(profile)}\0${store.dir}`;
    let r = this.runtimes.get(key);
    if (!r) {
      r = (async () => {
        const rt = this.o.makeRuntime
          ? await this.o.makeRuntime(profile, store)
          : new (await import('../runtimes/kubeflow/runtime.js')).KubeflowRuntime({ store, profile, env: this.env });
        rt.on('warning', (runId, message) => this.warn(`run ${runId}: ${message}`));
        rt.on('change', (record) => {
          if (isTerminalRun(record.state)) void this.forget(record.id);
        });
        return rt;
      })();
      r.catch(() => this.runtimes.delete(key));
      this.runtimes.set(key, r);
    }
    return r;
  }

  /** A KFP client for `profile` (what its runtimes use), for requests that concern no run store. */
  async client(profile: Profile): Promise<KfpClient> {
    const [{ kfpEndpoint }, { KfpClient }] = await Promise.all([import('../kfp/endpoint.js'), import('../kfp/client.js')]);
    return new KfpClient(await kfpEndpoint(profile, this.env));
  }

  /** The runtime for a stored Kubeflow record, or undefined when its profile is no longer defined. */
  async runtimeFor(profileName: string | undefined, store: RunStore): Promise<KubeflowRuntime | undefined> {
    if (!profileName) return undefined;
    let p: Profile | undefined;
    try {
      p = (await this.profiles()).get(profileName);
    } catch {
      p = undefined;
    }
    return p ? this.runtime(p, store) : undefined;
  }

  // --- runs this backend submitted ---------------------------------------------------------------------

  private async readState(): Promise<Record<string, Remembered>> {
    try {
      const doc = JSON.parse(await readFile(this.stateFile, 'utf8')) as { runs?: Record<string, Remembered> };
      return doc.runs && typeof doc.runs === 'object' ? doc.runs : {};
    } catch {
      return {};
    }
  }

  private change(fn: (runs: Record<string, Remembered>) => void): Promise<void> {
    this.stateWrite = this.stateWrite.then(async () => {
      const runs = await this.readState();
      fn(runs);
      await writeStateFile(this.stateFile, { runs });
    }).catch((err: unknown) => this.warn(`cannot update ${this.stateFile}: ${(err as Error).message}`));
    return this.stateWrite;
  }

  remember(runId: string, dir: string, profile: string): Promise<void> {
    return this.change((runs) => {
      runs[runId] = { dir, profile, pid: process.pid };
    });
  }

  forget(runId: string): Promise<void> {
    return this.change((runs) => {
      delete runs[runId];
    });
  }

  /**
   * After a restart: watches again every unfinished run this backend submitted. A run whose submission was cut
   * short (no KFP run id) is marked failed. Returns the run ids watched again, by store directory.
   */
  async resume(openStore: (dir: string) => Promise<RunStore>): Promise<Record<string, string[]>> {
    const runs = await this.readState();
    const out: Record<string, string[]> = {};
    for (const [runId, { dir, profile, pid }] of Object.entries(runs)) {
      // Another backend that is still running (e.g. a second JupyterLab) watches its own runs.
      if (pid !== undefined && pid !== process.pid && pidExists(pid)) continue;
      try {
        const store = await openStore(dir);
        const record = await store.get(runId);
        if (!record || isTerminalRun(record.state)) {
          await this.forget(runId);
          continue;
        }
        if (!record.external?.kfpRunId) {
          await store.update(runId, {
            state: 'failed',
            reason: `interrupted: the backend stopped during the '${record.stage ?? 'validate'}' stage, before the run was created in Kubeflow; start it again`,
            finishedAt: new Date().toISOString(),
          });
          await this.forget(runId);
          continue;
        }
        const rt = await this.runtimeFor(profile, store);
        if (!rt) {
          this.warn(`run ${runId}: profile '${profile}' is no longer defined (profiles file or JupyterLab settings); it is not watched`);
          continue;
        }
        if (!out[dir]) out[dir] = [];
        out[dir].push(runId);
        await this.remember(runId, dir, profile);
        void rt.watch(runId).catch((err: unknown) => this.warn(`run ${runId}: ${(err as Error).message}`));
      } catch (err) {
        this.warn(`resuming run ${runId}: ${(err as Error).message}`);
      }
    }
    return out;
  }

  /** Stops watching (the runs go on in Kubeflow; the next backend resumes them). */
  async close(): Promise<void> {
    for (const r of this.runtimes.values()) {
      try {
        await (await r).stopWatching();
      } catch {
        // a runtime that could not be made watches nothing
      }
    }
    await this.stateWrite;
  }
}
