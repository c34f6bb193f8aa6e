/**
 * The Kubeflow runtime: a notebook submitted to Kubeflow Pipelines and watched into the run store, so a Kubeflow
 * run looks like a local run from outside (same RunRecord, per-step states, per-step logs).
 *
 * submit: validate (compile) → build step images (content-addressed: unchanged steps are found, not rebuilt) →
 * compile the spec with the images by digest → find/create the experiment → reuse the pipeline version holding
 * this exact spec, or upload a new version (or pipeline) → create the run → record it (runtime `kubeflow`,
 * `external.kfpRunId`, `url` to the KFP UI) → watch.
 *
 * watch: polls the run with backoff (fast while things change, slower while they don't), maps run and task
 * states into the record, and streams the step pods' `main` container logs through the Kubernetes layer into the
 * store. When KFP or the cluster goes away the record is left as it was and polling backs off (up to 30 s) until
 * they answer again; `resume()` restarts watching unfinished runs after a restart of this process.
 *
 * The parts: ./submit.ts (submit), ./watch.ts (watch), ./pod-logs.ts (the step pods' logs and cell outputs),
 * ./run-record.ts (the run record), ./context.ts (what they share of this class).
 */
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import type { CompileResult } from '../../core/compile.js';
import type { LogLine, RunRecord } from '../../runs/types.js';
import type { LogOptions, RunRequest, Runtime } from '../types.js';
import { RunStore, isTerminalRun } from '../../runs/store.js';
import type { Profile } from '../../kube/profile.js';
import type { KubeConnection } from '../../kube/connect.js';
import { KfpClient } from '../../kfp/client.js';
import { KfpError } from '../../kfp/errors.js';
import { kfpEndpoint, kfpSettings, type KfpSettings } from '../../kfp/endpoint.js';
import { TERMINAL_KFP } from '../../kfp/states.js';
import type { KubeflowContext, KubeflowRuntimeEvents } from './context.js';
import { preparePipeline, submitNotebook, type PreparedPipeline, type StageRunner, type SubmitOptions, type SubmitResult } from './submit.js';
import { applyKfpRun, watchLoop } from './watch.js';
import type { ObjectStoreAccess } from './stored-logs.js';

export type { SubmitStage } from '../../runs/types.js';
export type { KubeflowRuntimeEvents } from './context.js';
export { SubmitError, compileFailure, type PreparedPipeline, type StageRunner, type SubmitOptions, type SubmitProgress, type SubmitResult } from './submit.js';
export { podTask } from './pod-logs.js';

export interface KubeflowRuntimeOptions {
  store: RunStore;
  profile: Profile;
  /** Default: a client for `kfpEndpoint(profile)`. */
  client?: KfpClient;
  /** Kubernetes connection for pod logs; `null` disables logs; default: `connect(profile)` when that works. */
  kube?: KubeConnection | null;
  /** First poll interval (default `$CELLPIPE_KFP_POLL_MS`, else 1000 ms); grows ×1.5 while nothing changes, up to `maxPollMs` (default 10 s). */
  pollMs?: number;
  maxPollMs?: number;
  /** Longest wait between attempts while KFP is unreachable (default 30 s). */
  maxBackoffMs?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * The image of the notebook this process runs in (`repo@sha256:…`), the steps' base when neither the profile nor
   * the notebook names one. Default: read from this pod inside Kubernetes (kube/own-image.ts), none elsewhere.
   */
  ownImage?: () => Promise<string | undefined>;
  /** KFP's object store access (profile `kfp.objectStore`); default: its Secret and ConfigMap, read in the namespace. */
  objectStoreAccess?: (namespace: string) => Promise<ObjectStoreAccess>;
}

/**
 * A profile's Kubeflow runtime over a run store: submits (./submit.ts), watches (./watch.ts, with the step pods'
 * logs from ./pod-logs.ts), and answers the Runtime interface (status, logs, cancel) plus retry and resume.
 */
export class KubeflowRuntime extends EventEmitter<KubeflowRuntimeEvents> implements Runtime, KubeflowContext {
  readonly store: RunStore;
  readonly profile: Profile;
  private clientPromise?: Promise<KfpClient>;
  readonly settings: KfpSettings;
  private kube: KubeConnection | null | undefined;
  readonly pollMs: number;
  readonly maxPollMs: number;
  readonly maxBackoffMs: number;
  readonly env: NodeJS.ProcessEnv;
  private readonly watchers = new Map<string, { done: Promise<RunRecord>; abort: AbortController }>();

  constructor(o: KubeflowRuntimeOptions) {
    super();
    this.store = o.store;
    this.profile = o.profile;
    this.env = o.env ?? process.env;
    this.settings = kfpSettings(o.profile, this.env);
    if (o.client) this.clientPromise = Promise.resolve(o.client);
    this.kube = o.kube;
    this.ownImageOption = o.ownImage;
    this.objectStoreAccessOption = o.objectStoreAccess;
    const envPoll = Number(this.env.CELLPIPE_KFP_POLL_MS);
    this.pollMs = o.pollMs ?? (envPoll > 0 ? envPoll : 1000);
    this.maxPollMs = o.maxPollMs ?? 10_000;
    this.maxBackoffMs = o.maxBackoffMs ?? 30_000;
  }

  /** The KFP client (made on first use from the profile, unless one was given). */
  kfp(): Promise<KfpClient> {
    this.clientPromise ??= kfpEndpoint(this.profile, this.env).then((e) => new KfpClient(e));
    return this.clientPromise;
  }

  /** The Kubernetes connection for logs, made on first use; null when there is none (logs then unavailable). */
  async kubeConnection(runId: string, namespace: string): Promise<KubeConnection | null> {
    if (this.kube === undefined) {
      try {
        const { connect } = await import('../../kube/connect.js');
        this.kube = connect({ ...this.profile, namespace }, this.env);
      } catch (err) {
        this.kube = null;
        this.emit('warning', runId, `step logs are not available: ${(err as Error).message}`);
      }
    }
    return this.kube;
  }

  logsOff(): boolean {
    return this.kube === null;
  }

  private readonly objectStoreAccessOption?: (namespace: string) => Promise<ObjectStoreAccess>;

  /**
   * KFP's object store access in `namespace` (./stored-logs.ts), read through the cluster connection — one is made for
   * it when pod logs are off (`kube: null`): a quick `cellpipe status` follows no pod, but may read a log back.
   */
  async objectStoreAccess(runId: string, namespace: string): Promise<ObjectStoreAccess> {
    if (this.objectStoreAccessOption) return this.objectStoreAccessOption(namespace);
    const settings = this.settings.objectStore;
    if (!settings) throw new Error(`profile '${this.profile.name}' sets no kfp.objectStore`);
    const { accessFromCluster } = await import('./stored-logs.js');
    let conn = this.kube === null ? null : await this.kubeConnection(runId, namespace);
    if (!conn) {
      const { connect } = await import('../../kube/connect.js');
      conn = connect({ ...this.profile, namespace }, this.env);
    }
    return accessFromCluster(conn.namespace === namespace ? conn : { ...conn, namespace }, settings);
  }

  warn(runId: string, message: string): void {
    this.emit('warning', runId, message);
  }

  changed(record: RunRecord): void {
    this.emit('change', record);
  }

  logged(runId: string, step: string, line: LogLine): void {
    this.emit('log', runId, step, line);
  }

  /**
   * What a run and a schedule both need, in their stages: validate (compile) → build step images → compile with the
   * images by digest → runtime parameters checked against the spec → the experiment and the pipeline version.
   */
  preparePipeline(o: SubmitOptions, stage: StageRunner): Promise<PreparedPipeline> {
    return preparePipeline(this, o, stage);
  }

  /** Compile (unless `o.compiled`), build, upload and run a notebook; see ./submit.ts. */
  submitNotebook(o: SubmitOptions): Promise<SubmitResult> {
    return submitNotebook(this, o);
  }

  private readonly ownImageOption?: () => Promise<string | undefined>;
  private ownImageFound?: Promise<string | undefined>;

  /** This notebook pod's own image (looked up once), or undefined outside a pod or when it cannot be read. */
  private ownImage(runId: string | undefined): Promise<string | undefined> {
    this.ownImageFound ??= (async () => {
      if (this.ownImageOption) return this.ownImageOption();
      const { ownPod, readOwnImage } = await import('../../kube/own-image.js');
      const pod = ownPod(this.env);
      if (!pod) return undefined;
      const { connect } = await import('../../kube/connect.js');
      const found = await readOwnImage(connect({ name: 'this notebook pod', inCluster: true, namespace: pod.namespace }, this.env), pod.name, this.env);
      if (found.why) this.emit('warning', runId ?? '', `${found.why}; steps use python:3.11-slim unless the profile or the notebook names a base image`);
      else if (found.image && !found.image.byDigest) this.emit('warning', runId ?? '', `the notebook pod's image ${found.image.image} has no pulled digest; steps use it by tag`);
      return found.image?.image;
    })().catch(() => undefined);
    return this.ownImageFound;
  }

  /** The default base image of a notebook that names none: the profile's, else the user's setting, else this notebook pod's own. */
  async baseImage(userDefault: string | undefined, runId?: string): Promise<string | undefined> {
    return this.profile.baseImage ?? userDefault ?? (await this.ownImage(runId));
  }

  /**
   * RunRequest form (the Runtime interface): submits the compiled request — its graph and programs (compiled with
   * `baseImage()` as the default base), its parameters; `cache: false` executes every step. The notebook is not read
   * again: `request.notebook` (its metadata names the declared files) and the notebook's folder (`workdir`, where the
   * files the steps read are packaged from) come with the request.
   */
  async submit(request: RunRequest): Promise<string> {
    const base = request.workdir ? resolve(request.workdir) : process.cwd();
    const path = resolve(base, request.notebookPath);
    const result: CompileResult = { ok: true, graph: request.graph, programs: request.programs, diagnostics: [], ...(request.notebook ? { notebook: request.notebook } : {}) };
    const r = await this.submitNotebook({
      notebookPath: path,
      shownPath: request.notebookPath,
      compiled: { result, notebookHash: request.notebookHash },
      parameters: request.parameters,
      ...(request.cache === false ? { select: { noCache: true } } : {}),
    });
    return r.runId;
  }

  /** Watches a run until it ends (one watcher per run; a second call returns the same promise). */
  watch(runId: string, signal?: AbortSignal): Promise<RunRecord> {
    const existing = this.watchers.get(runId);
    if (existing) return existing.done;
    const abort = new AbortController();
    signal?.addEventListener('abort', () => abort.abort(), { once: true });
    const done = watchLoop(this, runId, abort.signal).finally(() => this.watchers.delete(runId));
    this.watchers.set(runId, { done, abort });
    return done;
  }

  /** Stops every watcher (the runs go on in Kubeflow; `resume` picks them up again). */
  async stopWatching(): Promise<void> {
    const stopping = [...this.watchers.values()];
    for (const w of stopping) w.abort.abort();
    // Resolved once no watcher writes into the store any more (a restarted backend takes over from here).
    await Promise.allSettled(stopping.map((w) => w.done));
  }

  /** Restarts watching every unfinished Kubeflow run of this profile in the store; returns their ids. */
  async resume(): Promise<string[]> {
    const ids: string[] = [];
    for (const r of await this.store.list()) {
      if (r.runtime !== 'kubeflow' || r.profile !== this.profile.name || isTerminalRun(r.state) || !r.external?.kfpRunId) continue;
      ids.push(r.id);
      void this.watch(r.id);
    }
    return ids;
  }

  /** The stored record, refreshed once from KFP when the run is unfinished and nobody watches it. */
  async status(runId: string): Promise<RunRecord> {
    const record = await this.store.get(runId);
    if (!record) throw new Error(`no run ${runId}`);
    if (isTerminalRun(record.state) || this.watchers.has(runId) || !record.external?.kfpRunId) return record;
    try {
      return (await applyKfpRun(this, record, await (await this.kfp()).getRun(record.external.kfpRunId))).record;
    } catch {
      return record;
    }
  }

  /**
   * Asks KFP once for the run's state and writes it into the record. `fresh` is false (and `error` says why) when
   * KFP did not answer, or the run is not in KFP yet; the stored record is returned then.
   */
  async refresh(runId: string): Promise<{ record: RunRecord; fresh: boolean; error?: string }> {
    const record = await this.store.get(runId);
    if (!record) throw new Error(`no run ${runId}`);
    const kfpRunId = record.external?.kfpRunId;
    if (!kfpRunId) return { record, fresh: false, error: `the run has not been created in Kubeflow yet (stage: ${record.stage ?? 'unknown'})` };
    try {
      const run = await (await this.kfp()).getRun(kfpRunId);
      return { record: (await applyKfpRun(this, (await this.store.get(runId)) ?? record, run)).record, fresh: true };
    } catch (err) {
      return { record, fresh: false, error: (err as Error).message };
    }
  }

  logs(runId: string, step: string, options: LogOptions = {}): AsyncIterable<LogLine> {
    return this.store.readLogs(runId, step, { fromLine: options.fromLine, follow: options.follow });
  }

  /** Asks KFP to terminate the run; the watcher records the end (`cancelled`). */
  async cancel(runId: string): Promise<void> {
    const record = await this.store.get(runId);
    if (!record || record.runtime !== 'kubeflow') throw new Error(`no Kubeflow run ${runId}`);
    if (isTerminalRun(record.state)) return;
    await this.store.update(runId, { cancelRequestedAt: new Date().toISOString() });
    // Still being submitted (see SubmitOptions.runId): the submission stops at its next stage.
    if (!record.external?.kfpRunId) return;
    const client = await this.kfp();
    try {
      await client.terminateRun(record.external.kfpRunId);
    } catch (err) {
      // KFP refuses to terminate a run that is already terminating or has ended (400, "Row not found"): a second
      // cancel has nothing left to do.
      if (!(err instanceof KfpError && err.kind === 'invalid')) throw err;
      const state = (await client.getRun(record.external.kfpRunId)).state;
      if (state !== 'CANCELING' && !(state && TERMINAL_KFP.includes(state))) throw err;
    }
  }

  /** Retries the failed steps of a finished run in KFP and watches it again. */
  async retry(runId: string): Promise<void> {
    const record = await this.store.get(runId);
    if (!record?.external?.kfpRunId) throw new Error(`no Kubeflow run ${runId}`);
    await (await this.kfp()).retryRun(record.external.kfpRunId);
    const r = await this.store.update(runId, { state: 'running', finishedAt: undefined, reason: undefined, cancelRequestedAt: undefined });
    this.emit('change', structuredClone(r));
    void this.watch(runId);
  }
}
