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
 */
import { EventEmitter } from 'node:events';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path, { dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import type { V1Pod } from '@kubernetes/client-node';
import type { JsonValue, StepGraph } from '../../core/model.js';
import { compileNotebook, compileSpec, type CompileResult } from '../../core/compile.js';
import { taskName } from '../../core/graph.js';
import { cellLabel } from '../../core/notebook.js';
import { sha256Hex } from '../../core/hash.js';
import { chooseSteps } from '../../runs/partial.js';
import type { LogLine, RunRecord, StepRecord, SubmitStage } from '../../runs/types.js';
import type { LogOptions, RunRequest, Runtime } from '../types.js';
import { RunStore, isTerminalRun, isTerminalStep, newRunId } from '../../runs/store.js';
import { kubeflowRunRecord } from './run-record.js';
import { currentRunner, runnerGone } from '../../runs/process.js';
import type { Profile } from '../../kube/profile.js';
import type { KubeConnection } from '../../kube/connect.js';
import type { PodLogStream } from '../../kube/logs.js';
import { KfpClient, type KfpExperiment, type KfpRun, type PipelineVersionResult } from '../../kfp/client.js';
import { KfpError } from '../../kfp/errors.js';
import { CellOutputsAssembler, isCellOutputsLine } from '../../runs/cell-outputs-log.js';
import { stepFailureFromLog } from '../../runs/step-failure-log.js';
import { CELL_OUTPUTS_FILE } from '../../runs/outputs.js';
import { kfpEndpoint, kfpSettings, type KfpSettings } from '../../kfp/endpoint.js';
import { rootParameters, runtimeParameters, specDocument } from '../../kfp/parameters.js';
import { TERMINAL_KFP, runState, stepPatches } from '../../kfp/states.js';
import type { BuildProgress } from '../../images/build.js';
import type { LocalBuilderOptions } from '../../images/requirements.js';
import { notebookReader } from '../../runs/notebook-reader.js';
import { sleep } from '../../runs/sleep.js';

export type { SubmitStage } from '../../runs/types.js';

export interface SubmitProgress {
  stage: SubmitStage;
  state: 'start' | 'done';
  /** e.g. `3 images, 2 unchanged`, `reused version x`. */
  detail?: string;
  /** Image build progress (stage `build`). */
  build?: BuildProgress;
}

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
}

export interface SubmitOptions {
  /** Notebook file (absolute, or relative to the process's working directory). */
  notebookPath: string;
  /** Path as recorded in the run (default: `notebookPath`). */
  shownPath?: string;
  /** Notebook text (default: read from `notebookPath`). */
  text?: string;
  /**
   * The notebook already compiled (graph only, with `baseImage()` as its default base image) and the sha256 of its
   * bytes: it is then neither read nor analysed again (a `RunRequest`, the backend's Kubeflow target).
   */
  compiled?: { result: CompileResult; notebookHash: string };
  /** Typed parameter overrides. */
  parameters?: Record<string, JsonValue>;
  /** Command-line parameter overrides (`NAME=TEXT`), converted by the parameter's type. */
  parameterTexts?: Record<string, string>;
  /**
   * Step images: `build` (default) builds and pushes them to the profile's registry; a map gives them directly
   * (`step → repo@sha256:…`); `inline` runs every step on the base image with its program inlined in the spec.
   */
  images?: 'build' | 'inline' | Record<string, string>;
  /** Start watching in the background (default true). */
  watch?: boolean;
  /** Base image for a notebook that names none (a user setting); default: the notebook pod's own image, if any. */
  defaultBaseImage?: string;
  /**
   * Id of a record the caller made before submitting (runtime `kubeflow`, state `queued`, e.g. to show the stages
   * in a UI): it is completed instead of a new one being created. A cancel asked meanwhile (`cancelRequestedAt`)
   * stops the submission before the KFP run is created, or terminates that run right after.
   */
  runId?: string;
  onProgress?: (p: SubmitProgress) => void;
  /**
   * A partial run (`--only`/`--from`, "Run this step" on a Kubeflow target): the chosen steps' tasks execute (KFP's
   * cache off for them); the others take KFP's cached outputs when their inputs are unchanged. `noCache`: every step
   * executes.
   */
  select?: { only?: string[]; from?: string; noCache?: boolean };
}

export interface SubmitResult {
  runId: string;
  record: RunRecord;
  upload: PipelineVersionResult;
  /** Milliseconds per stage. */
  timings: Record<SubmitStage, number>;
  yaml: string;
}

/** Runs one submit stage: reports its start and end, times it, and may refuse to start it (a cancelled submit). */
export type StageRunner = <T>(name: SubmitStage, fn: () => Promise<T>, detail?: (v: T) => string) => Promise<T>;

/** A notebook made ready to run on Kubeflow (see `KubeflowRuntime.preparePipeline`). */
export interface PreparedPipeline {
  shown: string;
  notebookHash: string;
  graph: StepGraph;
  yaml: string;
  specHash: string;
  parameters: Record<string, JsonValue>;
  pipelineName: string;
  client: KfpClient;
  experiment: KfpExperiment;
  upload: PipelineVersionResult;
  /** The namespace KFP objects go in (undefined on single-user KFP). */
  namespace?: string;
}

export class SubmitError extends Error {
  constructor(
    message: string,
    readonly compile?: CompileResult,
  ) {
    super(message);
    this.name = 'SubmitError';
  }
}

export interface KubeflowRuntimeEvents {
  change: [record: RunRecord];
  log: [runId: string, step: string, line: LogLine];
  /** Problems that do not stop the run: KFP unreachable (retrying), logs unavailable, … */
  warning: [runId: string, message: string];
}

const NODE_NAME = 'workflows.argoproj.io/node-name';
/** Emits the lines other processes store for a run's steps, each once (for a watcher that does not stream them). */
class StoredLogTail {
  private readonly next = new Map<string, number>();
  constructor(
    private readonly store: RunStore,
    private readonly runId: string,
    private readonly emit: (step: string, line: LogLine) => void,
  ) {}

  async poll(record: RunRecord): Promise<void> {
    for (const s of record.steps) {
      let n = this.next.get(s.name) ?? 0;
      for await (const line of this.store.readLogs(this.runId, s.name, { fromLine: n })) {
        n++;
        this.emit(s.name, line);
      }
      this.next.set(s.name, n);
    }
  }
}

/** How long a finished step's state waits for the rest of its pod's log before it is written anyway. */
const LOG_WAIT_MS = 10_000;

/** Step pods of a run: the latest pod per step, and the pods whose logs are completely stored. */
interface PodTracking {
  podOf: Map<string, string>;
  logged: Set<string>;
}

/**
 * The task a KFP executor pod runs, from Argo's node-name annotation: `<wf>.root.<task>.executor`, where Argo v4 (KFP
 * 2.17's) marks each retryable node's attempt, `<wf>(0).root(0).<task>(0).executor(0)`.
 */
export function podTask(pod: V1Pod): string | undefined {
  const node = pod.metadata?.annotations?.[NODE_NAME];
  return node ? /\.([^.()]+)(?:\(\d+\))?\.executor(?:\(\d+\))?$/.exec(node)?.[1] : undefined;
}

export class KubeflowRuntime extends EventEmitter<KubeflowRuntimeEvents> implements Runtime {
  readonly store: RunStore;
  readonly profile: Profile;
  private clientPromise?: Promise<KfpClient>;
  readonly settings: KfpSettings;
  private kube: KubeConnection | null | undefined;
  private readonly pollMs: number;
  private readonly maxPollMs: number;
  private readonly maxBackoffMs: number;
  private readonly env: NodeJS.ProcessEnv;
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
  private async kubeConnection(runId: string, namespace: string): Promise<KubeConnection | null> {
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

  /**
   * What a run and a schedule both need, in their stages: validate (compile) → build step images → compile with the
   * images by digest → runtime parameters checked against the spec (naming the cell of a wrong one) → find/create
   * the experiment and reuse or upload the pipeline version holding this exact spec.
   */
  async preparePipeline(o: SubmitOptions, stage: StageRunner): Promise<PreparedPipeline> {
    const progress = o.onProgress ?? (() => {});
    const path = resolve(o.notebookPath);
    const shown = o.shownPath ?? o.notebookPath;
    const text = o.compiled ? undefined : (o.text ?? (await readFile(path, 'utf8')));
    const notebookHash = o.compiled?.notebookHash ?? sha256Hex(text!);

    const defaultBaseImage = o.compiled ? undefined : await this.baseImage(o.defaultBaseImage, o.runId);
    const checked = await stage('validate', async () => {
      const r = o.compiled?.result ?? compileNotebook(text!, { path: shown, graphOnly: true, defaultBaseImage, readNotebook: notebookReader(path) });
      if (!r.ok || !r.graph) {
        const first = r.diagnostics.find((d) => d.severity === 'error');
        throw new SubmitError(
          `${shown} does not compile${first ? `: ${first.cell !== undefined ? `${cellLabel(first.cell, first.line)}: ` : ''}${first.message}` : ''}`,
          r,
        );
      }
      await this.checkReachable(r.graph, o.images ?? 'build');
      return r;
    });
    const graph = checked.graph!;
    // A partial run's steps, checked before anything is built.
    let execute: string[] | undefined;
    if (o.select?.noCache) execute = graph.steps.map((s) => s.name);
    else if (o.select?.only || o.select?.from !== undefined) {
      try {
        execute = [...chooseSteps(graph, o.select)];
      } catch (err) {
        throw new SubmitError((err as Error).message);
      }
    }

    const imageMode = o.images ?? 'build';
    const built = await stage('build', async () => {
      if (imageMode === 'inline') return { images: undefined as Record<string, string> | undefined, unchanged: 0, files: '' };
      if (typeof imageMode === 'object') return { images: imageMode, unchanged: Object.keys(imageMode).length, files: '' };
      return this.buildImages(checked, dirname(path), (b) => progress({ stage: 'build', state: 'start', build: b }));
    }, (b) => (b.images ? `${Object.keys(b.images).length} images, ${b.unchanged} unchanged${b.files}` : 'no images (programs inlined)'));

    // The graph stays as validated: only the spec is made again, with the images by digest.
    const compiled = compileSpec(checked, {
      ...(execute ? { execute } : {}),
      ...(built.images ? { images: built.images, programDir: '/cellpipe/steps', workdir: '/cellpipe/work' } : {}),
    });
    if (!compiled.ok || !compiled.yaml || !compiled.specHash) throw new SubmitError(`${shown} does not compile with the built images`, compiled);
    const yaml = compiled.yaml;
    const specHash = compiled.specHash;
    const spec = specDocument(yaml);
    const parameters = runtimeParameters(rootParameters(spec, graph.parameters), { values: o.parameters, texts: o.parameterTexts });
    const pipelineName = String((spec.pipelineInfo as { name: string }).name);
    const client = await this.kfp();

    const { experiment, upload, ns } = await stage('upload', async () => {
      const health = await client.healthz();
      const ns = health.multi_user === false ? undefined : this.profile.namespace;
      const experimentName = this.settings.experiment ?? (graph.pipeline.experiment || 'Default');
      const [experiment, upload] = await Promise.all([
        client.ensureExperiment(experimentName, ns),
        client.ensurePipelineVersion(yaml, specHash, { name: pipelineName, description: graph.pipeline.description, namespace: ns }),
      ]);
      return { experiment, upload, ns };
    }, (u) => `${u.upload.action === 'reused' ? 'reused the version with this spec' : u.upload.action === 'version' ? 'uploaded a new version' : 'uploaded a new pipeline'}`);
    return { shown, notebookHash, graph, yaml, specHash, parameters, pipelineName, client, experiment, upload, namespace: ns };
  }

  /** The default base image of a notebook that names none: the profile's, else the user's setting, else this notebook pod's own. */
  async baseImage(userDefault: string | undefined, runId?: string): Promise<string | undefined> {
    return this.profile.baseImage ?? userDefault ?? (await this.ownImage(runId));
  }

  /** Compile, build, upload and run a notebook; see the module comment. */
  async submitNotebook(o: SubmitOptions): Promise<SubmitResult> {
    const progress = o.onProgress ?? (() => {});
    const timings = { validate: 0, build: 0, upload: 0, run: 0 } as Record<SubmitStage, number>;
    const cancelled = async () => {
      if (o.runId === undefined) return;
      const r = await this.store.get(o.runId);
      if (r?.cancelRequestedAt) throw new SubmitError(`run ${o.runId} was cancelled before it was submitted to Kubeflow`);
    };
    const stage: StageRunner = async (name, fn, detail) => {
      await cancelled();
      const t0 = performance.now();
      progress({ stage: name, state: 'start' });
      const v = await fn();
      timings[name] = performance.now() - t0;
      progress({ stage: name, state: 'done', detail: detail?.(v) });
      return v;
    };
    const made = o.runId !== undefined ? await this.store.get(o.runId) : undefined;
    if (o.runId !== undefined && !made) throw new SubmitError(`no run ${o.runId} in ${this.store.dir} to submit into`);
    const { shown, notebookHash, graph, yaml, specHash, parameters, pipelineName, client, experiment, upload } = await this.preparePipeline(o, stage);
    const namespace = this.profile.namespace;

    const id = made?.id ?? newRunId();
    const kfpRun = await stage('run', () =>
      client.createRun({
        displayName: `${pipelineName} ${id}`,
        description: `cellpipe run ${id} of ${shown}`,
        experimentId: experiment.experiment_id,
        pipelineId: upload.pipelineId,
        pipelineVersionId: upload.pipelineVersionId,
        parameters,
        pipelineRoot: this.settings.pipelineRoot,
        serviceAccount: this.settings.serviceAccount,
      }),
    (r) => r.run_id);

    const record = kubeflowRunRecord({ id, notebook: shown, notebookHash, specHash, profile: this.profile.name, parameters, graph }, {
      kfpRunId: kfpRun.run_id,
      url: client.runUrl(kfpRun.run_id),
      experimentId: experiment.experiment_id,
      namespace: experiment.namespace || namespace,
      pipelineId: upload.pipelineId,
      pipelineVersionId: upload.pipelineVersionId,
    });
    let stored = record;
    if (made) {
      const now = await this.store.get(id);
      if (now?.cancelRequestedAt) {
        // Cancelled while the run was being created: keep the request, end the KFP run; the watcher records it.
        record.cancelRequestedAt = now.cancelRequestedAt;
        await client.terminateRun(kfpRun.run_id).catch((err: unknown) => this.emit('warning', id, `terminating ${kfpRun.run_id}: ${(err as Error).message}`));
      }
      // A run change never restates the run's identity or steps (the store refuses it as damage).
      const { id: _id, notebook: _notebook, steps: _steps, ...change } = record;
      stored = await this.store.update(id, { ...change, createdAt: made.createdAt, finishedAt: undefined, reason: undefined });
      record.createdAt = made.createdAt;
      if (stored.cancelRequestedAt && !record.cancelRequestedAt) {
        // A cancel that came in between the check above and this update saw no KFP run yet: end it now.
        record.cancelRequestedAt = stored.cancelRequestedAt;
        await client.terminateRun(kfpRun.run_id).catch((err: unknown) => this.emit('warning', id, `terminating ${kfpRun.run_id}: ${(err as Error).message}`));
      }
    } else {
      await this.store.create(record);
    }
    this.emit('change', structuredClone(stored));
    if (o.watch !== false) void this.watch(id);
    return { runId: id, record, upload, timings, yaml };
  }

  /**
   * Kubeflow Pipelines, the registry step images go to and the registries of their base images must answer before
   * anything is built: otherwise the submission fails now, naming what is unreachable and the setting that names it.
   */
  private async checkReachable(graph: StepGraph, imageMode: SubmitOptions['images']): Promise<void> {
    const { baseRegistries, describeUnreachable, registryAnswers, unreachable } = await import('./preflight.js');
    const s = kfpSettings(this.profile, this.env);
    const insecure = this.profile.insecureRegistry === true;
    const needed: import('./preflight.js').Needed[] = [{
      what: s.host ? `Kubeflow Pipelines at ${s.host}` : `Kubeflow Pipelines through the cluster's API (service ${s.kfpNamespace}/${s.service})`,
      field: s.auth === 'kube' ? "'kubeconfig' and 'context'" : "'kfp.host'",
      check: async () => (await this.kfp()).healthz(),
    }];
    if (imageMode === 'build' && this.profile.registry) {
      const push = this.profile.registry.split('/')[0];
      needed.push({ what: `the registry ${push} (where step images are pushed)`, field: "'registry'", check: () => registryAnswers(push, insecure) });
      const bases = baseRegistries([
        { ref: graph.pipeline.baseImage, field: this.profile.baseImage ? "'baseImage'" : "'baseImage' (or the notebook's base image)" },
        ...graph.steps.filter((st) => st.image).map((st) => ({ ref: st.image!, field: `the image: tag of step ${st.name}` })),
      ]);
      for (const b of bases) {
        if (b.registry !== push) needed.push({ what: `the registry ${b.registry} (base images)`, field: b.field, check: () => registryAnswers(b.registry, insecure) });
      }
    }
    const missing = await unreachable(needed);
    if (!missing.length) return;
    const { message, hint } = describeUnreachable(this.profile.name, missing);
    throw new SubmitError(`${message} — ${hint}`);
  }

  /**
   * How requirements images are built, from the profile's `build`: `kaniko` → a Job in the profile's namespace;
   * `buildah` → this machine; `auto` → buildah when installed, else kaniko (e.g. inside a notebook pod).
   * Undefined means the default (buildah), which says what to install when it is missing.
   */
  private async requirementsBuilder(): Promise<((o: LocalBuilderOptions) => Promise<string>) | undefined> {
    const strategy = this.profile.build ?? 'auto';
    if (strategy === 'buildah') return undefined;
    if (strategy === 'auto') {
      const { buildahAvailable } = await import('../../images/requirements.js');
      if (await buildahAvailable(this.env)) return undefined;
    }
    const conn = await this.kubeConnection('', this.profile.namespace);
    if (!conn) {
      if (strategy === 'kaniko') throw new SubmitError(`profile '${this.profile.name}' builds with kaniko, but the cluster cannot be reached (see the warning above)`);
      return undefined;
    }
    const { kanikoRequirementsBuilder } = await import('../../kube/kaniko-requirements.js');
    return kanikoRequirementsBuilder(conn, { image: this.profile.kaniko?.image, hostNetwork: this.profile.kaniko?.hostNetwork });
  }

  private async buildImages(r: CompileResult, notebookDir: string, onProgress: (b: BuildProgress) => void) {
    if (!this.profile.registry) {
      throw new SubmitError(`profile '${this.profile.name}' has no 'registry': set where step images are pushed (e.g. registry.example.com/team/pipelines)`);
    }
    const { buildNotebookImages, NotebookBuildError } = await import('../../images/notebook.js');
    let result;
    try {
      result = await buildNotebookImages(r, notebookDir, {
        registry: this.profile.registry,
        base: this.profile.baseImage,
        insecure: this.profile.insecureRegistry,
        onProgress,
        buildRequirements: await this.requirementsBuilder(),
        pip: this.profile.pip,
      });
    } catch (err) {
      if (err instanceof NotebookBuildError) throw new SubmitError(err.message);
      throw err;
    }
    // The files the steps read that went into the images, and those that could not (the CLI's build prints them all).
    const files = result.files.outcomes;
    const packaged = files.filter((f) => f.travels).length;
    const left = files.length - packaged;
    const filesNote = files.length ? `, ${packaged} file${packaged === 1 ? '' : 's'} packaged${left ? ` (${left} not: ${files.filter((f) => !f.travels).map((f) => `${f.path} ${f.why}`).join(', ')})` : ''}` : '';
    return { images: result.images, unchanged: Object.values(result.steps).filter((s) => s.unchanged).length, files: filesNote };
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
    const done = this.watchLoop(runId, abort.signal).finally(() => this.watchers.delete(runId));
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

  private stepTasks(record: RunRecord): { name: string; task: string }[] {
    let tasks: Record<string, string> = {};
    try {
      tasks = JSON.parse(record.external?.tasks ?? '{}') as Record<string, string>;
    } catch {
      /* older record: derive below */
    }
    return record.steps.map((s) => ({ name: s.name, task: tasks[s.name] ?? taskName(s.name) }));
  }

  /**
   * Writes what KFP says into the record. `logPending(step)`: true while the step's pod log is still being stored;
   * such a step keeps its state until the log is complete (and the run its state until no step waits), so whoever
   * follows a log until its step ends gets every line.
   */
  private async apply(record: RunRecord, run: KfpRun, logPending: (step: string) => boolean = () => false): Promise<{ record: RunRecord; changed: boolean; held: boolean }> {
    const terminated = record.cancelRequestedAt !== undefined;
    let changed = false;
    let held = false;
    const patches = stepPatches(run, this.stepTasks(record), terminated);
    let current = record;
    for (const s of record.steps) {
      const patch = patches[s.name];
      if (!patch) continue;
      // A step that was running when the user cancelled fails in KFP because it was terminated.
      if (terminated && patch.state === 'failed' && s.state === 'running') patch.state = 'cancelled';
      if (patch.state && isTerminalStep(patch.state) && !isTerminalStep(s.state) && logPending(s.name)) {
        delete patch.state;
        delete patch.finishedAt;
        held = true;
      }
      // What the pod told (an OOM kill, an eviction) says more than KFP's generic "task failed: exit code N".
      if (patch.error && s.error?.type && ['OOMKilled', 'Evicted'].includes(s.error.type)) delete patch.error;
      const diff: Partial<StepRecord> = {};
      for (const [k, v] of Object.entries(patch) as [keyof StepRecord, unknown][]) {
        if (JSON.stringify(s[k]) !== JSON.stringify(v)) (diff as Record<string, unknown>)[k] = v;
      }
      if (Object.keys(diff).length) {
        current = await this.store.updateStep(record.id, s.name, diff);
        changed = true;
      }
    }
    const kfpState = runState(run.state, terminated);
    const state = held && isTerminalRun(kfpState) ? current.state : kfpState;
    const runPatch: Partial<RunRecord> = {};
    if (state !== current.state) runPatch.state = state;
    if (!current.startedAt && state !== 'queued') {
      const started = run.state_history?.find((h) => h.state === 'RUNNING')?.update_time;
      runPatch.startedAt = started ?? new Date().toISOString();
    }
    if (isTerminalRun(state) && !current.finishedAt) {
      runPatch.finishedAt = run.finished_at && !run.finished_at.startsWith('1970') ? run.finished_at : new Date().toISOString();
      if (state === 'failed' && run.error?.message) runPatch.reason = run.error.message;
      if (state === 'cancelled') runPatch.reason = 'terminated';
    }
    if (Object.keys(runPatch).length) {
      current = await this.store.update(record.id, runPatch);
      changed = true;
    }
    if (changed) this.emit('change', structuredClone(current));
    return { record: current, changed, held };
  }

  private async watchLoop(runId: string, signal: AbortSignal): Promise<RunRecord> {
    const first = await this.store.get(runId);
    if (!first) throw new Error(`no run ${runId} in ${this.store.dir}`);
    let record: RunRecord = first;
    const kfpRunId = record.external?.kfpRunId;
    if (!kfpRunId) throw new Error(`run ${runId} is not a Kubeflow run (no KFP run id)`);
    let delay = this.pollMs;
    let outage: string | undefined;
    let logs: PodLogStream | undefined;
    let logsFailed = false;
    let tail: StoredLogTail | undefined;
    let leased = false;
    const pods: PodTracking = { podOf: new Map(), logged: new Set() };
    // Since when each step has waited for its pod's log (at most LOG_WAIT_MS).
    const waitingSince = new Map<string, number>();
    const logPending = (step: string): boolean => {
      if (!logs || logsFailed) return false;
      const pod = pods.podOf.get(step);
      if (!pod || pods.logged.has(pod)) return false;
      const since = waitingSince.get(step) ?? Date.now();
      waitingSince.set(step, since);
      return Date.now() - since < LOG_WAIT_MS;
    };
    try {
      while (!signal.aborted && !isTerminalRun(record.state)) {
        // One process per run watches it (whoever came first: the backend or a CLI --watch): it asks KFP, writes the
        // states and streams the pod logs. Another one follows the store, and takes over when that process is gone.
        const holder = record.logWatcher;
        if (!leased && holder !== undefined && !(holder.pid === process.pid && holder.host === hostname()) && !runnerGone(holder)) {
          tail ??= new StoredLogTail(this.store, runId, (step, line) => this.emit('log', runId, step, line));
          await tail.poll(record);
          await sleep(this.pollMs, signal);
          const now: RunRecord = (await this.store.get(runId)) ?? record;
          if (JSON.stringify(now) !== JSON.stringify(record)) this.emit('change', structuredClone(now));
          record = now;
          continue;
        }
        if (!leased) {
          record = await this.store.update(runId, { logWatcher: currentRunner() });
          leased = true;
        }
        let run: KfpRun | undefined;
        try {
          run = await (await this.kfp()).getRun(kfpRunId);
          if (outage) {
            this.emit('warning', runId, `Kubeflow Pipelines answers again; watching run ${kfpRunId} resumed`);
            outage = undefined;
            delay = this.pollMs;
          }
        } catch (err) {
          const e = err instanceof KfpError ? err : new KfpError('api', (err as Error).message, 'retry');
          if (e.kind === 'not-found') {
            record = await this.store.update(runId, { state: 'failed', reason: `the run ${kfpRunId} no longer exists in Kubeflow Pipelines`, finishedAt: new Date().toISOString() });
            this.emit('change', structuredClone(record));
            break;
          }
          // Unreachable, 5xx, or credentials that may be refreshed: keep the record as it is and try again later.
          if (!outage) this.emit('warning', runId, `${e.message} — will keep trying (the run goes on in Kubeflow)`);
          outage = e.message;
          delay = Math.min(Math.max(delay, this.pollMs) * 2, this.maxBackoffMs);
          await sleep(delay, signal);
          continue;
        }
        if (signal.aborted) break;
        // Re-read: another process (or `cancel`) may have changed the record meanwhile.
        record = (await this.store.get(runId)) ?? record;
        if (!logs && !logsFailed && run.state !== 'PENDING' && this.kube !== null) {
          // Lines stored before a takeover were shown from the store.
          if (tail) await tail.poll(record);
          // One stream for the whole run: it follows every step pod as it appears, until the run is over.
          logs = await this.startLogs(record, kfpRunId, pods);
          // A fatal stream error (e.g. no permission to read pods) is reported once and not retried.
          void logs?.done.catch(() => (logsFailed = true));
          // Know the pods that exist already before writing step states (a short step may be over by now).
          if (logs) await Promise.race([logs.synced, sleep(LOG_WAIT_MS, signal)]);
        }
        const applied = await this.apply(record, run, logPending);
        record = applied.record;
        delay = applied.changed ? this.pollMs : Math.min(delay * 1.5, this.maxPollMs);
        if (applied.held) delay = this.pollMs;
        else if (run.state && TERMINAL_KFP.includes(run.state)) break;
        await sleep(delay, signal);
      }
    } finally {
      if (logs) {
        // Let the stream read what the finished pods wrote (bounded), then stop.
        const deadline = Date.now() + 5000;
        while (!signal.aborted && !logsFailed && Date.now() < deadline && [...pods.podOf.values()].some((p) => !pods.logged.has(p))) await sleep(50, signal);
        logs.stop();
        await logs.done.catch(() => {});
      }
      // A follower shows what was stored up to the end (once it streams itself, its lines are shown as they come).
      if (tail && !leased) await tail.poll(record).catch(() => {});
      if (leased) {
        const released = await this.store.update(runId, { logWatcher: undefined }).catch(() => undefined);
        if (released) {
          record = released;
          this.emit('change', structuredClone(record));
        }
      }
    }
    return record;
  }

  private async startLogs(record: RunRecord, kfpRunId: string, pods: PodTracking): Promise<PodLogStream | undefined> {
    const conn = await this.kubeConnection(record.id, record.external?.namespace ?? this.profile.namespace);
    if (!conn) return undefined;
    const { streamPodLogs } = await import('../../kube/logs.js');
    const byTask = new Map(this.stepTasks(record).map((s) => [s.task, s.name]));
    const runId = record.id;
    // Lines a previous watcher (a restarted backend, a CLI that stopped) already stored are read again from the
    // pods; the first that many of each step are dropped so the stored log has each line once.
    const stored = new Map<string, number>();
    for (const s of record.steps) {
      let n = 0;
      for await (const l of this.store.readLogs(runId, s.name)) if (l.stream !== 'system') n++;
      if (n) stored.set(s.name, n);
    }
    const outputs = new Map<string, CellOutputsAssembler>();
    const stream = streamPodLogs({
      conn,
      selector: `pipeline/runid=${kfpRunId}`,
      stepOf: (pod) => {
        const task = podTask(pod);
        const step = task ? byTask.get(task) : undefined;
        const name = pod.metadata?.name;
        if (!step || !name) return undefined;
        if (pods.podOf.get(step) !== name) {
          pods.podOf.set(step, name);
          void this.store.updateStep(runId, step, { pod: name }).then((r) => this.emit('change', structuredClone(r)), () => {});
        }
        return step;
      },
      containersOf: () => ['main'],
      stopWhenDone: false,
      sink: async (step, line) => {
        // The Kubernetes log API merges stdout and stderr: the prefix alone tells these lines.
        if (isCellOutputsLine(line.text)) {
          await this.storeCellOutputs(runId, step, outputs, line.text);
          return;
        }
        const skip = stored.get(step) ?? 0;
        if (skip > 0 && line.stream !== 'system') {
          stored.set(step, skip - 1);
          return;
        }
        await this.store.appendLog(runId, step, line);
        this.emit('log', runId, step, line);
        // KFP reports no error text for a failed task: the step runtime's last line says which cell raised what.
        const failure = stepFailureFromLog(step, line.text);
        if (failure) this.emit('change', structuredClone(await this.store.updateStep(runId, step, { error: failure })));
      },
      onWarning: (m) => this.emit('warning', runId, m),
      // The pod's ending is recorded before the watcher may take the step's log as complete.
      onPodDone: (pod, step) => void this.recordPodOutcome(conn, runId, step, pod).finally(() => pods.logged.add(pod)),
    });
    stream.done.catch((err: unknown) => this.emit('warning', runId, `step logs stopped: ${(err as Error).message}`));
    return stream;
  }

  /** A chunk of a step's cell outputs from its log; the whole document goes where a local step writes it. */
  private async storeCellOutputs(runId: string, step: string, outputs: Map<string, CellOutputsAssembler>, text: string): Promise<void> {
    let a = outputs.get(step);
    if (!a) outputs.set(step, (a = new CellOutputsAssembler()));
    const json = a.accept(text);
    if (json === undefined) return;
    const file = path.join(this.store.stepDir(runId, step), CELL_OUTPUTS_FILE);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, json);
    await rename(`${file}.tmp`, file);
    const r = await this.store.updateStep(runId, step, { cellOutputs: path.relative(this.store.dir, file) });
    this.emit('change', structuredClone(r));
  }

  /**
   * A finished step pod's exit code, and an error for an ending its log cannot tell (an OOM kill at the memory
   * limit, an eviction): in the step record and as a system line in its log.
   */
  private async recordPodOutcome(conn: KubeConnection, runId: string, step: string, podName: string): Promise<void> {
    try {
      const { podOutcome } = await import('../../kube/pod-outcome.js');
      const outcome = podOutcome(await conn.core.readNamespacedPod({ name: podName, namespace: conn.namespace }));
      if (!outcome || outcome.exitCode === undefined) return;
      const line = outcome.error ? { time: new Date().toISOString(), stream: 'system' as const, text: outcome.error.message } : undefined;
      if (line) {
        await this.store.appendLog(runId, step, line);
        this.emit('log', runId, step, line);
      }
      const r = await this.store.updateStep(runId, step, { exitCode: outcome.exitCode, ...(outcome.error ? { error: outcome.error } : {}) });
      this.emit('change', structuredClone(r));
    } catch (err) {
      this.emit('warning', runId, `reading how pod ${podName} ended: ${(err as Error).message}`);
    }
  }

  /** The stored record, refreshed once from KFP when the run is unfinished and nobody watches it. */
  async status(runId: string): Promise<RunRecord> {
    const record = await this.store.get(runId);
    if (!record) throw new Error(`no run ${runId}`);
    if (isTerminalRun(record.state) || this.watchers.has(runId) || !record.external?.kfpRunId) return record;
    try {
      return (await this.apply(record, await (await this.kfp()).getRun(record.external.kfpRunId))).record;
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
      return { record: (await this.apply((await this.store.get(runId)) ?? record, run)).record, fresh: true };
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
