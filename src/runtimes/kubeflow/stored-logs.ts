/**
 * Step logs read back from KFP's object store when a Kubeflow run ends and a step that ran has no stored log: its
 * pod was gone before anyone followed it (a run submitted without --watch, one that ended while JupyterLab was
 * closed). KFP's launcher uploads every executor's log there (kfp/executor-logs.ts says where); the lines go through
 * the same path as a pod's (./pod-logs.ts), so the page shows them under the cells like any log. Off unless the
 * profile sets `kfp.objectStore`; what cannot be read is a warning on the run, never a failed run.
 */
import type { KfpRun } from '../../kfp/client.js';
import type { ObjectStoreSettings } from '../../kfp/endpoint.js';
import { KFP_DEFAULT_PIPELINE_ROOT, pipelineRootPlace, taskPrefix } from '../../kfp/executor-logs.js';
import type { ExecutorLog, ObjectStoreCredentials } from '../../kfp/object-store.js';
import type { KubeConnection } from '../../kube/connect.js';
import { formatBytes } from '../../core/bytes.js';
import { hintOf } from '../../core/errors.js';
import type { CellOutputsAssembler } from '../../runs/cell-outputs-log.js';
import type { RunRecord, StepState } from '../../runs/types.js';
import type { KubeflowContext } from './context.js';
import { stepTasks, storeStepLine } from './pod-logs.js';

/** What reading the store needs from the run's namespace: KFP's access key, and the launcher's pipeline root. */
export interface ObjectStoreAccess {
  credentials: ObjectStoreCredentials;
  /** `defaultPipelineRoot` of the namespace's `kfp-launcher` ConfigMap (Kubeflow's multi-user profiles set one). */
  defaultPipelineRoot?: string;
}

/** Steps whose executor ran, so KFP has their log; a cancelled one only if it had started. */
const RAN: readonly StepState[] = ['succeeded', 'failed', 'cancelled'];

/** Longest wait for the namespace's Secret and ConfigMap: an API server that does not answer must not hold the run's end. */
const ACCESS_WAIT_MS = 15_000;

/**
 * Read-backs under way in this process, by store and run: a second caller (the page refreshing a run while a slow
 * read-back records its end) waits for the first, then finds the logs stored and reads nothing twice.
 */
const underWay = new Map<string, Promise<unknown>>();

/** Reads the access from the cluster, as KFP's launcher does (its Secret, its ConfigMap). */
export async function accessFromCluster(conn: KubeConnection, settings: ObjectStoreSettings): Promise<ObjectStoreAccess> {
  const { readConfigMapValue, readSecretValues } = await import('../../kube/namespace-objects.js');
  const keys = await readSecretValues(conn, settings.secret, ['accesskey', 'secretkey']);
  // A launcher ConfigMap cellpipe may not read leaves KFP's default root: only the multi-user layout is missed then.
  const root = await readConfigMapValue(conn, 'kfp-launcher', 'defaultPipelineRoot').catch(() => undefined);
  return { credentials: { accessKey: keys.accesskey, secretKey: keys.secretkey }, ...(root ? { defaultPipelineRoot: root } : {}) };
}

/** Whether the step has stored log lines of its own (the lines cellpipe adds, `system`, do not count). */
async function hasLog(ctx: KubeflowContext, runId: string, step: string): Promise<boolean> {
  for await (const line of ctx.store.readLogs(runId, step)) if (line.stream !== 'system') return true;
  return false;
}

/**
 * For each step of an ended run that ran and has no log of its own (and whose pod log is not being read: `podLogOpen`),
 * its last execution's log from KFP's object store, into the store. `run` is KFP's run (its pipeline root). True when
 * a log was stored.
 */
export async function readBackStepLogs(ctx: KubeflowContext, record: RunRecord, run: KfpRun, podLogOpen: (step: string) => boolean = () => false): Promise<boolean> {
  const settings = ctx.settings.objectStore;
  const kfpRunId = record.external?.kfpRunId;
  if (!settings || !kfpRunId) return false;
  const key = `${ctx.store.dir}\n${record.id}`;
  while (underWay.has(key)) await underWay.get(key)!.catch(() => {});
  // Set before anything is awaited, so a caller that comes meanwhile waits for this one.
  const reading = readBack(ctx, settings, kfpRunId, record, run, podLogOpen);
  underWay.set(key, reading);
  try {
    return await reading;
  } finally {
    if (underWay.get(key) === reading) underWay.delete(key);
  }
}

async function readBack(ctx: KubeflowContext, settings: ObjectStoreSettings, kfpRunId: string, record: RunRecord, run: KfpRun, podLogOpen: (step: string) => boolean): Promise<boolean> {
  const state = new Map(record.steps.map((s) => [s.name, s]));
  const missing: { name: string; task: string }[] = [];
  for (const s of stepTasks(record)) {
    const step = state.get(s.name)!;
    if (!RAN.includes(step.state) || podLogOpen(s.name)) continue;
    if (!(await hasLog(ctx, record.id, s.name))) missing.push(s);
  }
  if (!missing.length) return false;
  let stored = false;
  try {
    const namespace = record.external?.namespace ?? ctx.profile.namespace;
    const access = await withTimeout(ctx.objectStoreAccess(record.id, namespace), ACCESS_WAIT_MS, `the Secret '${settings.secret}' in namespace ${namespace} was not read within ${ACCESS_WAIT_MS / 1000}s`);
    const rootUri = run.runtime_config?.pipeline_root || access.defaultPipelineRoot || KFP_DEFAULT_PIPELINE_ROOT;
    const root = pipelineRootPlace(rootUri);
    if (!root) throw Object.assign(new Error(`the run's pipeline root ${rootUri} is not an S3 (minio:// or s3://) location`), { hint: "cellpipe reads KFP's object store over the S3 API only" });
    const { ObjectStore, findExecutorLog } = await import('../../kfp/object-store.js');
    const store = new ObjectStore({ endpoint: settings.endpoint, region: settings.region, root, credentials: access.credentials });
    const pipeline = await pipelineName(ctx, record);
    const notFound: string[] = [];
    const outputs = new Map<string, CellOutputsAssembler>();
    for (const s of missing) {
      const log = await findExecutorLog(store, { pipeline, runId: kfpRunId, task: s.task });
      if (log) {
        await storeExecutorLog(ctx, record.id, s.name, log, outputs);
        stored = true;
      } else if (state.get(s.name)!.state !== 'cancelled') notFound.push(`${s.name} (under ${taskPrefix(root, { pipeline, runId: kfpRunId, task: s.task })})`);
    }
    if (notFound.length) ctx.warn(record.id, `no log in ${store.describe()} for ${notFound.join(', ')}: KFP uploads each step's log there unless its API server sets PUBLISH_LOGS=false`);
  } catch (err) {
    const hint = hintOf(err);
    // The store's errors say which store (and request) themselves.
    ctx.warn(record.id, `the steps' logs could not be read back from KFP's object store: ${(err as Error).message}${hint ? ` — ${hint}` : ''}`);
  }
  return stored;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The pipeline's name as KFP knows it: recorded at submission; asked of KFP for records made before that. */
async function pipelineName(ctx: KubeflowContext, record: RunRecord): Promise<string> {
  const recorded = record.external?.pipelineName;
  if (recorded) return recorded;
  const { pipelineId, pipelineVersionId } = record.external ?? {};
  if (!pipelineId || !pipelineVersionId) throw new Error('the record names no pipeline version to find the pipeline\'s name by');
  const spec = (await (await ctx.kfp()).getPipelineVersion(pipelineId, pipelineVersionId)).pipeline_spec;
  // With a Kubernetes platform document the spec is `{pipeline_spec, platform_spec}`.
  const pipelineSpec = (spec?.pipeline_spec ?? spec) as { pipelineInfo?: { name?: string } } | undefined;
  const name = pipelineSpec?.pipelineInfo?.name;
  if (!name) throw new Error(`pipeline version ${pipelineVersionId} has no pipelineInfo.name`);
  return name;
}

/** One executor log into the step's stored log, each line as a pod's line would go (cell outputs, the failure line). */
async function storeExecutorLog(ctx: KubeflowContext, runId: string, step: string, log: ExecutorLog, outputs: Map<string, CellOutputsAssembler>): Promise<void> {
  // The file has no times of its own: each line gets the time it was uploaded, about when the step ended.
  const time = log.lastModified && !Number.isNaN(Date.parse(log.lastModified)) ? new Date(log.lastModified).toISOString() : new Date().toISOString();
  const lines = log.text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  // A step that printed nothing has nothing to show (its pod may well have been followed).
  if (!lines.length && !log.skippedBytes) return;
  const say = async (text: string) => {
    const line = { time, stream: 'system' as const, text };
    await ctx.store.appendLog(runId, step, line);
    ctx.logged(runId, step, line);
  };
  await say("this log was read back from KFP's object store: the step's pod log was not followed");
  if (log.skippedBytes > 0) await say(`the first ${formatBytes(log.skippedBytes)} of the log were not read; its last lines follow`);
  for (const text of lines) await storeStepLine(ctx, runId, step, outputs, { time, stream: 'stdout', text });
  ctx.store.closeLog(runId, step);
}
