/**
 * Where KFP 2.17 keeps a step's log once its pod is gone, as plain data: the launcher tees the executor's stdout and
 * stderr into a file and uploads it as the task's `executor-logs` artifact (KFP's `backend/src/v2/component/
 * launcher_v2.go`). Its key is the pipeline root's path, then `<pipeline name>/<KFP run id>` (the run's root, set by
 * the root DAG driver), then `<task>/<uuid>` (the task's root, a uuid the container driver draws for each execution),
 * then `executor-logs-<retry index>` (one per Argo retry of that execution; KFP before 2.17 wrote `executor-logs`).
 * No I/O here: ./object-store.ts reads the store.
 */

/** The pipeline root KFP uses when neither the run nor the namespace's `kfp-launcher` ConfigMap sets one. */
export const KFP_DEFAULT_PIPELINE_ROOT = 'minio://mlpipeline/v2/artifacts';

/** A bucket and the key prefix inside it ('' for the bucket's top; never a leading or trailing `/`). */
export interface BucketPlace {
  bucket: string;
  prefix: string;
}

/** What names one task's executions of one KFP run. */
export interface TaskRef {
  /** The pipeline's name (its spec's `pipelineInfo.name`). */
  pipeline: string;
  /** KFP's run id. */
  runId: string;
  /** The task's name in the pipeline's DAG. */
  task: string;
}

/** One object a listing returned. */
export interface StoredObject {
  key: string;
  /** ISO time the object was written. */
  lastModified?: string;
  size?: number;
}

/**
 * The bucket and prefix of an S3-compatible pipeline root (`minio://mlpipeline/v2/artifacts`, `s3://b/p?region=…`);
 * undefined for other stores (`gs://…`), which this reader does not speak.
 */
export function pipelineRootPlace(root: string): BucketPlace | undefined {
  const m = /^(minio|s3):\/\/\/?([^/?]+)(\/[^?]*)?(\?.*)?$/.exec(root.trim());
  if (!m) return undefined;
  return { bucket: m[2], prefix: (m[3] ?? '').replace(/^\/+|\/+$/g, '') };
}

/** The key prefix (ending in `/`) under which one task's executions of one run keep their artifacts. */
export function taskPrefix(place: BucketPlace, ref: TaskRef): string {
  for (const [what, value] of Object.entries(ref)) {
    // A name that is not one path segment would point elsewhere in the bucket (KFP path-joins them).
    if (!value || value.includes('/') || value === '.' || value === '..') throw new Error(`not a usable ${what} for an object store key: '${value}'`);
  }
  return [place.prefix, ref.pipeline, ref.runId, ref.task].filter(Boolean).join('/') + '/';
}

const EXECUTOR_LOG = /^([^/]+)\/executor-logs(?:-(\d+))?$/;

/**
 * The executor log of the task's last attempt among `objects` (a listing of `prefix`, from taskPrefix): a retried
 * run draws a new uuid per execution, and Argo's retries of one execution count up the suffix. The last written
 * wins; between logs written in the same second, the higher retry index.
 */
export function lastExecutorLog(objects: readonly StoredObject[], prefix: string): StoredObject | undefined {
  let best: { object: StoredObject; time: number; retry: number } | undefined;
  for (const object of objects) {
    if (!object.key.startsWith(prefix)) continue;
    const m = EXECUTOR_LOG.exec(object.key.slice(prefix.length));
    if (!m) continue;
    const parsed = object.lastModified ? Date.parse(object.lastModified) : NaN;
    const time = Number.isNaN(parsed) ? 0 : parsed;
    const retry = m[2] === undefined ? -1 : Number(m[2]);
    if (!best || time > best.time || (time === best.time && retry > best.retry)) best = { object, time, retry };
  }
  return best?.object;
}
