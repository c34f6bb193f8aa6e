/**
 * Submitting a notebook to Kubeflow Pipelines: validate (compile, or the compiled request) → build step images
 * (content-addressed: unchanged steps are found, not rebuilt) → the spec with the images by digest → find/create the
 * experiment → reuse the pipeline version holding this exact spec, or upload a new version (or pipeline) → create
 * the run → record it (runtime `kubeflow`, `external.kfpRunId`, `url` to the KFP UI) → watch.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { JsonValue, StepGraph } from '../../core/model.js';
import { compileNotebook, compileSpec, type CompileResult } from '../../core/compile.js';
import { cellLabel } from '../../core/notebook.js';
import { sha256Hex } from '../../core/hash.js';
import { CellpipeError } from '../../core/errors.js';
import { chooseSteps } from '../../runs/partial.js';
import { notebookReader } from '../../runs/notebook-reader.js';
import { newRunId } from '../../runs/store.js';
import type { RunRecord, SubmitStage } from '../../runs/types.js';
import type { KfpClient, KfpExperiment, PipelineVersionResult } from '../../kfp/client.js';
import { kfpSettings } from '../../kfp/endpoint.js';
import { rootParameters, runtimeParameters, specDocument } from '../../kfp/parameters.js';
import type { BuildProgress } from '../../images/build.js';
import type { LocalBuilderOptions } from '../../images/requirements.js';
import type { KubeflowContext } from './context.js';
import { kubeflowRunRecord } from './run-record.js';
import { SpecTooLargeError, argoSizeProblem } from '../../kfp/argo-size.js';
import { ensureRuntimeConfigMap } from './runtime-configmap.js';
export interface SubmitProgress {
  stage: SubmitStage;
  state: 'start' | 'done';
  /** e.g. `3 images, 2 unchanged`, `reused version x`. */
  detail?: string;
  /** Image build progress (stage `build`). */
  build?: BuildProgress;
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

export class SubmitError extends CellpipeError {
  constructor(
    message: string,
    readonly compile?: CompileResult,
  ) {
    super(message);
    this.name = 'SubmitError';
  }
}

/** The error of a notebook that does not compile, naming its first error's cell; the compile goes with it. */
export function compileFailure(shown: string, r: CompileResult): SubmitError {
  const first = r.diagnostics.find((d) => d.severity === 'error');
  return new SubmitError(`${shown} does not compile${first ? `: ${first.cell !== undefined ? `${cellLabel(first.cell, first.line)}: ` : ''}${first.message}` : ''}`, r);
}


/**
 * What a run and a schedule both need, in their stages: validate (compile) → build step images → compile with the
 * images by digest → runtime parameters checked against the spec (naming the cell of a wrong one) → find/create
 * the experiment and reuse or upload the pipeline version holding this exact spec.
 */
export async function preparePipeline(ctx: KubeflowContext, o: SubmitOptions, stage: StageRunner): Promise<PreparedPipeline> {
  const progress = o.onProgress ?? (() => {});
  const path = resolve(o.notebookPath);
  const shown = o.shownPath ?? o.notebookPath;
  const text = o.compiled ? undefined : (o.text ?? (await readFile(path, 'utf8')));
  const notebookHash = o.compiled?.notebookHash ?? sha256Hex(text!);

  const defaultBaseImage = o.compiled ? undefined : await ctx.baseImage(o.defaultBaseImage, o.runId);
  const checked = await stage('validate', async () => {
    const r = o.compiled?.result ?? compileNotebook(text!, { path: shown, graphOnly: true, defaultBaseImage, readNotebook: notebookReader(path) });
    if (!r.ok || !r.graph) throw compileFailure(shown, r);
    await checkReachable(ctx, r.graph, o.images ?? defaultImages(ctx.profile));
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

  const imageMode = o.images ?? defaultImages(ctx.profile);
  const built = await stage('build', async () => {
    if (imageMode === 'inline') return { images: undefined as Record<string, string> | undefined, unchanged: 0, files: '' };
    if (typeof imageMode === 'object') return { images: imageMode, unchanged: Object.keys(imageMode).length, files: '' };
    return buildImages(ctx, checked, dirname(path), (b) => progress({ stage: 'build', state: 'start', build: b }));
  }, (b) => (b.images ? `${Object.keys(b.images).length} images, ${b.unchanged} unchanged${b.files}` : 'no images (programs inlined)'));
  // Without images the runtime is mounted from a ConfigMap where the namespace allows it (see argo-size.ts).
  const runtime = built.images ? undefined : await runtimeSource(ctx, o.runId);

  // The graph stays as validated: only the spec is made again, with the images by digest.
  const compiled = compileSpec(checked, {
    ...(execute ? { execute } : {}),
    ...(built.images ? { images: built.images, programDir: '/cellpipe/steps', workdir: '/cellpipe/work' } : { runtime }),
  });
  if (!compiled.ok || !compiled.yaml || !compiled.specHash) throw new SubmitError(`${shown} does not compile with the built images`, compiled);
  const yaml = compiled.yaml;
  const specHash = compiled.specHash;
  const spec = specDocument(yaml);
  const tooLarge = argoSizeProblem(spec, { runtimeInlined: runtime === 'inline' });
  // Refused before the upload. With the runtime inlined (no access to the namespace's ConfigMaps) it is said, not
  // refused, for now: the tests against the stand-in KFP submit plain 4-step specs without a cluster (issue 22).
  if (tooLarge && runtime !== 'inline') throw new SpecTooLargeError(`${shown}: ${tooLarge.message}`, tooLarge.hint);
  if (tooLarge) ctx.warn(o.runId ?? '', `${shown}: ${tooLarge.message} — ${tooLarge.hint}`);
  const parameters = runtimeParameters(rootParameters(spec, graph.parameters), { values: o.parameters, texts: o.parameterTexts });
  const pipelineName = String((spec.pipelineInfo as { name: string }).name);
  const client = await ctx.kfp();

  const { experiment, upload, ns } = await stage('upload', async () => {
    const health = await client.healthz();
    const ns = health.multi_user === false ? undefined : ctx.profile.namespace;
    const experimentName = ctx.settings.experiment ?? (graph.pipeline.experiment || 'Default');
    const [experiment, upload] = await Promise.all([
      client.ensureExperiment(experimentName, ns),
      client.ensurePipelineVersion(yaml, specHash, { name: pipelineName, description: graph.pipeline.description, namespace: ns }),
    ]);
    return { experiment, upload, ns };
  }, (u) => `${u.upload.action === 'reused' ? 'reused the version with this spec' : u.upload.action === 'version' ? 'uploaded a new version' : 'uploaded a new pipeline'}`);
  return { shown, notebookHash, graph, yaml, specHash, parameters, pipelineName, client, experiment, upload, namespace: ns };
}

/**
 * Where the steps of a spec without images get the step runtime: `configmap` once the runtime's ConfigMap exists in
 * the profile's namespace (where KFP runs the pods), else `inline` in every step's command, saying why.
 */
async function runtimeSource(ctx: KubeflowContext, runId = ''): Promise<'inline' | 'configmap'> {
  const conn = await ctx.kubeConnection(runId, ctx.profile.namespace);
  if (!conn) return 'inline';
  try {
    await ensureRuntimeConfigMap(conn);
    return 'configmap';
  } catch (err) {
    ctx.warn(runId, `the step runtime is inlined in every step (a run of many steps may not fit in Argo): its ConfigMap could not be made: ${(err as Error).message}`);
    return 'inline';
  }
}

/** Compile, build, upload and run a notebook; see the module comment. */
export async function submitNotebook(ctx: KubeflowContext, o: SubmitOptions): Promise<SubmitResult> {
  const progress = o.onProgress ?? (() => {});
  const timings = { validate: 0, build: 0, upload: 0, run: 0 } as Record<SubmitStage, number>;
  const cancelled = async () => {
    if (o.runId === undefined) return;
    const r = await ctx.store.get(o.runId);
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
  const made = o.runId !== undefined ? await ctx.store.get(o.runId) : undefined;
  if (o.runId !== undefined && !made) throw new SubmitError(`no run ${o.runId} in ${ctx.store.dir} to submit into`);
  const { shown, notebookHash, graph, yaml, specHash, parameters, pipelineName, client, experiment, upload } = await preparePipeline(ctx, o, stage);
  const namespace = ctx.profile.namespace;

  const id = made?.id ?? newRunId();
  const kfpRun = await stage('run', () =>
    client.createRun({
      displayName: `${pipelineName} ${id}`,
      description: `cellpipe run ${id} of ${shown}`,
      experimentId: experiment.experiment_id,
      pipelineId: upload.pipelineId,
      pipelineVersionId: upload.pipelineVersionId,
      parameters,
      pipelineRoot: ctx.settings.pipelineRoot,
      serviceAccount: ctx.settings.serviceAccount,
    }),
  (r) => r.run_id);

  const record = kubeflowRunRecord({ id, notebook: shown, notebookHash, specHash, profile: ctx.profile.name, parameters, graph }, {
    kfpRunId: kfpRun.run_id,
    url: client.runUrl(kfpRun.run_id),
    experimentId: experiment.experiment_id,
    namespace: experiment.namespace || namespace,
    pipelineId: upload.pipelineId,
    pipelineVersionId: upload.pipelineVersionId,
    pipelineName,
  });
  let stored = record;
  if (made) {
    const now = await ctx.store.get(id);
    if (now?.cancelRequestedAt) {
      // Cancelled while the run was being created: keep the request, end the KFP run; the watcher records it.
      record.cancelRequestedAt = now.cancelRequestedAt;
      await client.terminateRun(kfpRun.run_id).catch((err: unknown) => ctx.warn(id, `terminating ${kfpRun.run_id}: ${(err as Error).message}`));
    }
    // A run change never restates the run's identity or steps (the store refuses it as damage).
    const { id: _id, notebook: _notebook, steps: _steps, ...change } = record;
    stored = await ctx.store.update(id, { ...change, createdAt: made.createdAt, finishedAt: undefined, reason: undefined });
    record.createdAt = made.createdAt;
    if (stored.cancelRequestedAt && !record.cancelRequestedAt) {
      // A cancel that came in between the check above and this update saw no KFP run yet: end it now.
      record.cancelRequestedAt = stored.cancelRequestedAt;
      await client.terminateRun(kfpRun.run_id).catch((err: unknown) => ctx.warn(id, `terminating ${kfpRun.run_id}: ${(err as Error).message}`));
    }
  } else {
    await ctx.store.create(record);
  }
  ctx.changed(structuredClone(stored));
  if (o.watch !== false) void ctx.watch(id);
  return { runId: id, record, upload, timings, yaml };
}

/**
 * Step images unless told: built and pushed to the profile's registry. A notebook pod's implied profile without a
 * registry (no `$CELLPIPE_REGISTRY`) runs every step on the notebook's own image with its program in the spec.
 */
function defaultImages(profile: KubeflowContext['profile']): 'build' | 'inline' {
  return profile.implicit === 'notebook-pod' && !profile.registry ? 'inline' : 'build';
}

/**
 * Kubeflow Pipelines, the registry step images go to and the registries of their base images must answer before
 * anything is built: otherwise the submission fails now, naming what is unreachable and the setting that names it.
 */
async function checkReachable(ctx: KubeflowContext, graph: StepGraph, imageMode: SubmitOptions['images']): Promise<void> {
  const { baseRegistries, describeUnreachable, registryAnswers, unreachable } = await import('./preflight.js');
  const s = kfpSettings(ctx.profile, ctx.env);
  const insecure = ctx.profile.insecureRegistry === true;
  const needed: import('./preflight.js').Needed[] = [{
    what: s.host ? `Kubeflow Pipelines at ${s.host}` : `Kubeflow Pipelines through the cluster's API (service ${s.kfpNamespace}/${s.service})`,
    field: s.auth === 'kube' ? "'kubeconfig' and 'context'" : "'kfp.host'",
    check: async () => (await ctx.kfp()).healthz(),
  }];
  if (imageMode === 'build' && ctx.profile.registry) {
    const push = ctx.profile.registry.split('/')[0];
    needed.push({ what: `the registry ${push} (where step images are pushed)`, field: "'registry'", check: () => registryAnswers(push, insecure) });
    const bases = baseRegistries([
      { ref: graph.pipeline.baseImage, field: ctx.profile.baseImage ? "'baseImage'" : "'baseImage' (or the notebook's base image)" },
      ...graph.steps.filter((st) => st.image).map((st) => ({ ref: st.image!, field: `the image: tag of step ${st.name}` })),
    ]);
    for (const b of bases) {
      if (b.registry !== push) needed.push({ what: `the registry ${b.registry} (base images)`, field: b.field, check: () => registryAnswers(b.registry, insecure) });
    }
  }
  const missing = await unreachable(needed);
  if (!missing.length) return;
  const { message, hint } = describeUnreachable(ctx.profile.name, missing);
  throw new SubmitError(`${message} — ${hint}`);
}

/**
 * How requirements images are built, from the profile's `build`: `kaniko` → a Job in the profile's namespace;
 * `buildah` → this machine; `auto` → buildah when installed, else kaniko (e.g. inside a notebook pod).
 * Undefined means the default (buildah), which says what to install when it is missing.
 */
async function requirementsBuilder(ctx: KubeflowContext): Promise<((o: LocalBuilderOptions) => Promise<string>) | undefined> {
  const strategy = ctx.profile.build ?? 'auto';
  if (strategy === 'buildah') return undefined;
  if (strategy === 'auto') {
    const { buildahAvailable } = await import('../../images/requirements.js');
    if (await buildahAvailable(ctx.env)) return undefined;
  }
  const conn = await ctx.kubeConnection('', ctx.profile.namespace);
  if (!conn) {
    if (strategy === 'kaniko') throw new SubmitError(`profile '${ctx.profile.name}' builds with kaniko, but the cluster cannot be reached (see the warning above)`);
    return undefined;
  }
  const { kanikoRequirementsBuilder } = await import('../../kube/kaniko-requirements.js');
  return kanikoRequirementsBuilder(conn, { image: ctx.profile.kaniko?.image, hostNetwork: ctx.profile.kaniko?.hostNetwork });
}

async function buildImages(ctx: KubeflowContext, r: CompileResult, notebookDir: string, onProgress: (b: BuildProgress) => void) {
  if (!ctx.profile.registry) {
    throw new SubmitError(`profile '${ctx.profile.name}' has no 'registry': set where step images are pushed (e.g. registry.example.com/team/pipelines)`);
  }
  const { buildNotebookImages, NotebookBuildError } = await import('../../images/notebook.js');
  let result;
  try {
    result = await buildNotebookImages(r, notebookDir, {
      registry: ctx.profile.registry,
      base: ctx.profile.baseImage,
      insecure: ctx.profile.insecureRegistry,
      onProgress,
      buildRequirements: await requirementsBuilder(ctx),
      pip: ctx.profile.pip,
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
