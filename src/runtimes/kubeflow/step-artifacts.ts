/**
 * A Kubeflow step's inputs or outputs fetched from KFP's object store into the run store, so `cellpipe.load` (and the
 * sidebar's Load inputs) reads them as it reads a local run's: `<run>/steps/<step>/fetched/<inputs|outputs>/` holds
 * one folder per variable (the artifact's files, as the step runtime wrote them) and `fetched.json`, which names
 * each variable's folder, where it came from and, for inputs, the parameter values the step read. The folder appears
 * whole or not at all: it is filled under another name and renamed into place, so a crash leaves no fetched folder
 * that looks complete. What to fetch is kfp/step-artifacts.ts's; the spec is the run's pipeline version, asked of KFP.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JsonValue } from '../../core/model.js';
import { CellpipeError, hintOf } from '../../core/errors.js';
import { formatBytes } from '../../core/bytes.js';
import { KFP_DEFAULT_PIPELINE_ROOT, pipelineRootPlace, taskPrefix, type BucketPlace, type StoredObject } from '../../kfp/executor-logs.js';
import { artifactObjects, pipelineSpecOf, stepArtifactPlan, type ArtifactObjects, type ArtifactSource } from '../../kfp/step-artifacts.js';
import { specTasks, type SpecDoc } from '../../kfp/tasks.js';
import type { ObjectStore } from '../../kfp/object-store.js';
import type { RunRecord, StepRecord } from '../../runs/types.js';
import type { KubeflowContext } from './context.js';

/** The manifest's file name inside `fetched/<what>/`. */
export const FETCHED_MANIFEST = 'fetched.json';

/** One fetched variable. */
export interface FetchedValue {
  /** Its artifact folder, relative to the manifest's folder. */
  path: string;
  /** The step whose execution wrote it, and the store key prefix it was read from. */
  step: string;
  source: string;
  bytes: number;
  /** Set when KFP took the producing step from its cache: the cellpipe run whose KFP run executed it. */
  fromRun?: string;
}

export interface FetchedManifest {
  format: 'cellpipe.fetched/v1';
  run: string;
  step: string;
  what: 'inputs' | 'outputs';
  kfpRunId: string;
  values: Record<string, FetchedValue>;
  /** Inputs: the parameters the step reads, with the run's values. */
  parameters: Record<string, JsonValue>;
  fetchedAt: string;
}

export class FetchError extends CellpipeError {}

/** Where a step's fetched inputs or outputs live in the run store. */
export function fetchedDir(ctx: Pick<KubeflowContext, 'store'>, runId: string, step: string, what: 'inputs' | 'outputs'): string {
  return path.join(ctx.store.stepDir(runId, step), 'fetched', what);
}

/** What was fetched before for the step, when it is all there (a folder appears only whole). */
export async function readFetched(ctx: Pick<KubeflowContext, 'store'>, runId: string, step: string, what: 'inputs' | 'outputs'): Promise<{ dir: string; manifest: FetchedManifest; fetched: false } | undefined> {
  const dir = fetchedDir(ctx, runId, step, what);
  const manifest = await readFile(path.join(dir, FETCHED_MANIFEST), 'utf8').then((t) => JSON.parse(t) as FetchedManifest, () => undefined);
  return manifest?.format === 'cellpipe.fetched/v1' ? { dir, manifest, fetched: false } : undefined;
}

/** Longest wait for the namespace's Secret and ConfigMap. */
const ACCESS_WAIT_MS = 15_000;
/** Earlier runs looked at, at most, for the execution KFP's cache reused. */
const CACHE_CANDIDATES = 20;

function why(s: StepRecord | undefined): string {
  if (!s) return 'is not in the run';
  return { failed: 'failed', skipped: 'was skipped', cancelled: 'was cancelled', pending: 'never started', running: 'is still running' }[s.state as string] ?? `is ${s.state}`;
}

/**
 * Fetches step `step`'s inputs (`what: 'inputs'`) or outputs of the Kubeflow run `record` into the run store, unless
 * they were fetched before (`refresh` fetches again). Throws a FetchError saying what to do when they cannot be.
 */
export async function fetchStepArtifacts(ctx: KubeflowContext, record: RunRecord, step: string, what: 'inputs' | 'outputs', o: { refresh?: boolean } = {}): Promise<{ dir: string; manifest: FetchedManifest; fetched: boolean }> {
  const dir = fetchedDir(ctx, record.id, step, what);
  if (!o.refresh) {
    const before = await readFetched(ctx, record.id, step, what);
    if (before) return before;
  }
  const rstep = record.steps.find((s) => s.name === step);
  if (!rstep) throw new FetchError(`run ${record.id} has no step '${step}'; its steps are: ${record.steps.map((s) => s.name).join(', ')}`);
  const settings = ctx.settings.objectStore;
  if (!settings) {
    const { profilesPath } = await import('../../kube/profile.js');
    throw new FetchError(
      `run ${record.id} ran on Kubeflow: the variables of its step '${step}' are in KFP's object store, but profile '${ctx.profile.name}' does not say where that store is (no 'kfp.objectStore')`,
      `add it to profile '${ctx.profile.name}' in ${profilesPath(ctx.env)}: under 'kfp:', 'objectStore: { endpoint: http://seaweedfs.kubeflow:9000 }' — the S3 API of KFP's store as this machine reaches it (KFP's manifests: service seaweedfs, or minio-service, port 9000, in namespace kubeflow; 'kubectl port-forward' one from outside the cluster)`,
    );
  }
  const kfpRunId = record.external?.kfpRunId;
  if (!kfpRunId) throw new FetchError(`run ${record.id} was never created in Kubeflow Pipelines (it stopped at its ${record.stage ?? 'submit'} stage): it has no artifacts`);
  if (what === 'outputs' && rstep.state !== 'succeeded' && rstep.state !== 'cached') {
    throw new FetchError(`step '${step}' has no outputs in run ${record.id}: it ${why(rstep)}`, 'load its inputs instead, to run it in the kernel');
  }

  const client = await ctx.kfp();
  const { pipelineId, pipelineVersionId } = record.external ?? {};
  if (!pipelineId || !pipelineVersionId) throw new FetchError(`run ${record.id} does not name its pipeline version in Kubeflow Pipelines, so which steps feed '${step}' is not known`);
  const [run, version] = await inContext(`reading run ${record.id}'s pipeline from Kubeflow Pipelines (which steps feed '${step}')`, Promise.all([client.getRun(kfpRunId), client.getPipelineVersion(pipelineId, pipelineVersionId)]));
  const spec = pipelineSpecOf(version.pipeline_spec);
  const plan = stepArtifactPlan(spec, step, what, { ...(run.runtime_config?.parameters ?? {}), ...record.parameters });
  if (what === 'inputs') {
    const notRun = [...new Set(plan.artifacts.map((a) => a.step))]
      .map((p) => [p, record.steps.find((s) => s.name === p)] as const)
      .filter(([, s]) => s?.state !== 'succeeded' && s?.state !== 'cached');
    if (notRun.length) {
      const [p, s] = notRun[0];
      throw new FetchError(
        `step '${step}' did not get its inputs in run ${record.id}: step '${p}', which makes ${plan.artifacts.filter((a) => a.step === p).map((a) => `'${a.name}'`).join(', ')}, ${why(s)}`,
        `load the inputs of '${p}' instead, or pick a run in which '${p}' succeeded`,
      );
    }
  }

  const namespace = record.external?.namespace ?? ctx.profile.namespace;
  let store: ObjectStore;
  let root: BucketPlace;
  try {
    const access = await withTimeout(ctx.objectStoreAccess(record.id, namespace), ACCESS_WAIT_MS, `the Secret '${settings.secret}' in namespace ${namespace} was not read within ${ACCESS_WAIT_MS / 1000}s`);
    const rootUri = run.runtime_config?.pipeline_root || access.defaultPipelineRoot || KFP_DEFAULT_PIPELINE_ROOT;
    const place = pipelineRootPlace(rootUri);
    if (!place) throw new FetchError(`run ${record.id}'s pipeline root ${rootUri} is not an S3 (minio:// or s3://) location`, "cellpipe reads KFP's object store over the S3 API only");
    root = place;
    const { ObjectStore } = await import('../../kfp/object-store.js');
    store = new ObjectStore({ endpoint: settings.endpoint, region: settings.region, root, credentials: access.credentials });
  } catch (err) {
    if (err instanceof FetchError) throw err;
    throw new FetchError(`KFP's object store cannot be read for run ${record.id}: ${(err as Error).message}`, hintOf(err) ?? `the Secret '${settings.secret}' (keys accesskey, secretkey) in namespace ${namespace} must be readable with the profile's Kubernetes connection`);
  }
  const pipeline = record.external?.pipelineName ?? (spec as SpecDoc & { pipelineInfo?: { name?: string } }).pipelineInfo?.name;
  if (!pipeline) throw new FetchError(`run ${record.id}'s pipeline has no name (pipelineInfo.name)`);

  const listings = new Map<string, Promise<StoredObject[]>>();
  const list = (prefix: string) => {
    let l = listings.get(prefix);
    if (!l) listings.set(prefix, (l = store.list(prefix)));
    return l;
  };
  const found: { source: ArtifactSource; objects: ArtifactObjects; fromRun?: string }[] = [];
  const doing = `fetching the ${what} of step '${step}' of run ${record.id}`;
  for (const source of plan.artifacts) {
    const prefix = taskPrefix(root, { pipeline, runId: kfpRunId, task: source.task });
    const objects = artifactObjects(await inContext(doing, list(prefix)), prefix, source.key);
    if (objects) {
      found.push({ source, objects });
      continue;
    }
    // Only a step KFP took from its cache has its outputs elsewhere: one that executed here and left none lost them.
    const producer = record.steps.find((s) => s.name === source.step);
    if (producer?.state === 'cached') {
      const cached = await inContext(doing, fromEarlierRun(ctx, record, spec, source, { pipeline, root, list }));
      if (cached) {
        found.push({ source, ...cached });
        continue;
      }
      throw new FetchError(
        `'${source.name}' (made by step '${source.step}') is not in run ${record.id}'s folder of ${store.describe()}: KFP took step '${source.step}' from its cache, reusing an execution of an earlier KFP run whose artifacts stay under that run's folder, and no Kubeflow run of pipeline '${pipeline}' in ${ctx.store.dir} executed it with these parameters`,
        `load from the run where '${source.step}' executed (\`cellpipe runs\` lists them), or make it execute: Run this step on '${source.step}' with this Kubeflow target (\`cellpipe submit NOTEBOOK --profile ${ctx.profile.name} --only ${source.step}\`)`,
      );
    }
    throw new FetchError(
      `'${source.name}' (made by step '${source.step}') is not in ${store.describe()}: nothing complete under ${prefix}<execution>/${source.key}/`,
      `KFP's launcher uploads a step's outputs there when it succeeds; a store emptied since (a lifecycle rule, a reinstall) loses them — run the pipeline again`,
    );
  }

  // Filled under a name of its own, then renamed into place: a crash leaves a '.partial-' folder, never a whole-looking one.
  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  await removeAbandoned(parent);
  const partial = path.join(parent, `.partial-${what}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const values: Record<string, FetchedValue> = {};
  try {
    // Made first: a step that reads no step's values (a first step) has only its parameters to write.
    await mkdir(partial);
    for (const f of found) {
      let bytes = 0;
      for (const file of f.objects.files) {
        const target = path.join(partial, f.source.name, ...file.path.split('/'));
        await mkdir(path.dirname(target), { recursive: true });
        bytes += await inContext(doing, store.download(file.key, target));
      }
      values[f.source.name] = { path: f.source.name, step: f.source.step, source: f.objects.prefix, bytes, ...(f.fromRun ? { fromRun: f.fromRun } : {}) };
    }
    const manifest: FetchedManifest = { format: 'cellpipe.fetched/v1', run: record.id, step, what, kfpRunId, values, parameters: plan.parameters, fetchedAt: new Date().toISOString() };
    await writeFile(path.join(partial, FETCHED_MANIFEST), JSON.stringify(manifest, null, 1) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
    return { dir, manifest, fetched: true };
  } catch (err) {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
    if (err instanceof CellpipeError) throw err;
    throw new FetchError(`fetching ${what} of step '${step}' of run ${record.id} into ${parent}: ${(err as Error).message}`);
  }
}

/**
 * The execution KFP's cache reused for `source`'s producer: the newest other Kubeflow run in this store of the same
 * pipeline, created before this one, in which that step executed (succeeded) with the same parameter values and left
 * the artifact. KFP's cache key is the task's component and inputs; a run of the same pipeline version with the same
 * parameters is the execution it keys to, the code being the same (the step's image by digest is in the spec).
 */
async function fromEarlierRun(
  ctx: KubeflowContext,
  record: RunRecord,
  spec: SpecDoc,
  source: ArtifactSource,
  at: { pipeline: string; root: BucketPlace; list: (prefix: string) => Promise<StoredObject[]> },
): Promise<{ objects: ArtifactObjects; fromRun: string } | undefined> {
  const producer = specTasks(spec).get(source.step);
  if (!producer) return undefined;
  const same = JSON.stringify(producer.parameters(record.parameters));
  const candidates = (await ctx.store.list())
    .filter((r) => r.id !== record.id && r.runtime === 'kubeflow' && r.external?.kfpRunId && r.createdAt <= record.createdAt)
    .filter((r) => (r.external?.pipelineName ?? at.pipeline) === at.pipeline && r.steps.some((s) => s.name === source.step && s.state === 'succeeded'))
    .filter((r) => JSON.stringify(producer.parameters(r.parameters)) === same)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
    .slice(0, CACHE_CANDIDATES);
  for (const r of candidates) {
    const prefix = taskPrefix(at.root, { pipeline: at.pipeline, runId: r.external!.kfpRunId, task: source.task });
    const objects = artifactObjects(await at.list(prefix), prefix, source.key);
    if (objects) return { objects, fromRun: r.id };
  }
  return undefined;
}

/** Folders a fetch that crashed left half-filled (its process is gone): removed, as nothing reads them. */
async function removeAbandoned(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const m = /^\.partial-(?:inputs|outputs)-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') await rm(path.join(parent, name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

/** What the store says when it fails, prefixed with what was being fetched (its own message names the store and key). */
async function inContext<T>(doing: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof CellpipeError) throw new FetchError(`${doing}: ${err.message}`, hintOf(err));
    throw err;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A line per fetched variable, for the CLI. */
export function describeFetched(m: FetchedManifest): string[] {
  return Object.entries(m.values).map(([name, v]) => `${name}: ${formatBytes(v.bytes)} from step '${v.step}'${v.fromRun ? ` (KFP's cache: executed in run ${v.fromRun})` : ''}`);
}
