/**
 * Recurring runs of a notebook on Kubeflow Pipelines (KFP's v2beta1 recurring runs). A schedule is made like a run
 * is submitted — validate, build the step images (content-addressed, so usually unchanged), upload or reuse the
 * pipeline version holding this exact spec — and then names that version, so later edits of the notebook never
 * change what it runs. The cron is written with 5 fields and sent as KFP's seconds-first 6 fields.
 */
import { fromKfpCron, nextRuns, parseCron, type CronSchedule } from '../../core/cron.js';
import { sha256Hex } from '../../core/hash.js';
import type { JsonValue } from '../../core/model.js';
import type { KfpClient, KfpRecurringRun, KfpRun } from '../../kfp/client.js';
import { pendingStep } from '../../runs/store.js';
import type { RunRecord, SubmitStage } from '../../runs/types.js';
import type { KubeflowRuntime, PreparedPipeline, SubmitOptions, SubmitProgress } from './runtime.js';
import { CellpipeError } from '../../core/errors.js';
import { TERMINAL_KFP } from '../../kfp/states.js';

export interface ScheduleOptions extends Omit<SubmitOptions, 'runId' | 'watch'> {
  cron: CronSchedule;
  /** Runs of this schedule at once, 1–10 (KFP's limit); default 1. */
  maxConcurrency?: number;
  /** Make up runs missed while paused or before a late start (KFP's catch-up); default false. */
  catchUp?: boolean;
  start?: Date;
  end?: Date;
}

export interface ScheduleResult {
  recurringRun: KfpRecurringRun;
  prepared: PreparedPipeline;
  /** The next three run times (UTC). */
  next: Date[];
  url?: string;
}

export class ScheduleError extends CellpipeError {
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

/** Checks the options that KFP would refuse (or silently accept wrongly) before anything is built or uploaded. */
export function checkScheduleOptions(o: Pick<ScheduleOptions, 'maxConcurrency' | 'start' | 'end' | 'cron' | 'catchUp'>, now = new Date()): Date[] {
  const n = o.maxConcurrency ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 10) {
    throw new ScheduleError(`--max-concurrency ${n}: Kubeflow Pipelines allows 1 to 10 runs of a schedule at once`, 'give a whole number from 1 to 10');
  }
  if (o.start && o.end && o.end <= o.start) throw new ScheduleError(`--end ${o.end.toISOString()} is not after --start ${o.start.toISOString()}`, 'give an end after the start');
  if (o.end && o.end <= now) throw new ScheduleError(`--end ${o.end.toISOString()} is in the past`, 'give an end in the future, or none');
  const next = nextRuns(o.cron, 3, now, { start: o.start, end: o.end });
  if (!next.length) throw new ScheduleError(`cron "${o.cron.written}" never fires${o.end ? ' before --end' : ''}`, 'check the day and month fields (e.g. February 30th never comes)');
  return next;
}

/** Validates, builds, uploads and creates the recurring run pinned to the uploaded version. */
export async function scheduleNotebook(runtime: KubeflowRuntime, o: ScheduleOptions, now = new Date()): Promise<ScheduleResult> {
  const next = checkScheduleOptions(o, now);
  const progress = o.onProgress ?? ((_: SubmitProgress) => {});
  const stage = async <T>(name: SubmitStage, fn: () => Promise<T>, detail?: (v: T) => string): Promise<T> => {
    progress({ stage: name, state: 'start' });
    const v = await fn();
    progress({ stage: name, state: 'done', detail: detail?.(v) });
    return v;
  };
  const prepared = await runtime.preparePipeline(o, stage);
  const { client, pipelineName, shown, specHash } = prepared;
  const recurringRun = await stage('run', () =>
    client.createRecurringRun({
      displayName: `${pipelineName} ${o.cron.written}`,
      description: `cellpipe schedule of ${shown} (spec sha256:${specHash.slice(0, 12)})`,
      experimentId: prepared.experiment.experiment_id,
      pipelineId: prepared.upload.pipelineId,
      pipelineVersionId: prepared.upload.pipelineVersionId,
      parameters: prepared.parameters,
      cron: o.cron.kfp,
      startTime: o.start?.toISOString(),
      endTime: o.end?.toISOString(),
      maxConcurrency: o.maxConcurrency ?? 1,
      noCatchup: !o.catchUp,
      pipelineRoot: runtime.settings.pipelineRoot,
      serviceAccount: runtime.settings.serviceAccount,
      namespace: prepared.namespace,
    }),
  (r) => r.recurring_run_id);
  return { recurringRun, prepared, next, url: client.recurringRunUrl(recurringRun.recurring_run_id) };
}

/**
 * Deletes a schedule, unless a run of it is under way: KFP's runs of a schedule are Argo Workflows owned by its
 * ScheduledWorkflow, so Kubernetes deletes a running one along with the schedule, and KFP then shows that run as
 * running for ever (seen on KFP 2.17's own stack). `namespace`: the runs' namespace (undefined on a single-user KFP).
 */
export async function deleteSchedule(client: KfpClient, id: string, namespace: string | undefined): Promise<void> {
  const active: string[] = [];
  let token: string | undefined;
  // Newest first: a run under way is among the recent ones.
  for (let page = 0; page < 2; page++) {
    const got = await client.listRuns({ namespace, pageSize: 100, pageToken: token });
    for (const r of got.runs) if (r.recurring_run_id === id && !(r.state && TERMINAL_KFP.includes(r.state))) active.push(r.run_id);
    token = got.nextPageToken;
    if (!token) break;
  }
  if (active.length) {
    const one = active.length === 1;
    throw new ScheduleError(
      `schedule ${id} has ${one ? 'a run' : `${active.length} runs`} under way (Kubeflow run ${active.join(', ')}): deleting the schedule now would stop ${one ? 'it' : 'them'} — Kubernetes deletes the workflows a schedule owns — and Kubeflow would show ${one ? 'it' : 'them'} as running for ever`,
      'pause the schedule now and delete it once the run has ended, or cancel the run first',
    );
  }
  await client.deleteRecurringRun(id);
}

/** A time KFP leaves unset comes as the Unix epoch. */
const setTime = (t: string | undefined): Date | undefined => (t && !t.startsWith('1970-01-01') ? new Date(t) : undefined);

/** The 5-field cron of a recurring run and its next `count` runs (none while paused). */
export function describeSchedule(r: KfpRecurringRun, now = new Date(), count = 1): { cron: string; next?: Date; upcoming: Date[]; paused: boolean } {
  const c = r.trigger?.cron_schedule;
  const paused = r.status === 'DISABLED' || r.mode === 'DISABLE';
  if (!c?.cron) {
    const every = r.trigger?.periodic_schedule?.interval_second;
    return { cron: every ? `every ${every} s` : '?', upcoming: [], paused };
  }
  const written = fromKfpCron(c.cron);
  if (!written) return { cron: `${c.cron} (KFP)`, upcoming: [], paused };
  let upcoming: Date[] = [];
  try {
    if (!paused) upcoming = nextRuns(parseCron(written), count, now, { start: setTime(c.start_time), end: setTime(c.end_time) });
  } catch {
    /* a cron cellpipe cannot read: shown as KFP has it, no next run */
  }
  return { cron: written, next: upcoming[0], upcoming, paused };
}

const MADE_BY_CELLPIPE = /^cellpipe schedule of (.+) \(spec sha256:[0-9a-f]+\)$/s;

/** The notebook path a schedule was made from, as `scheduleNotebook` wrote it; undefined for other schedules. */
export function scheduledNotebook(r: KfpRecurringRun): string | undefined {
  return MADE_BY_CELLPIPE.exec(r.description ?? '')?.[1];
}

/** The schedules cellpipe made from the notebook named by any of `paths` (as shown when scheduled), newest first. */
export async function notebookSchedules(client: KfpClient, namespace: string | undefined, paths: string[]): Promise<KfpRecurringRun[]> {
  const names = new Set(paths);
  return (await client.listRecurringRuns({ namespace })).filter((r) => names.has(scheduledNotebook(r) ?? '\0'));
}

/**
 * The record id of the run KFP made for a schedule: its creation time and a hash of KFP's run id, so every process
 * that finds the run names it alike and the store's exclusive create records it once.
 */
export function scheduledRunId(run: KfpRun): string {
  const t = run.created_at && !run.created_at.startsWith('1970') ? new Date(run.created_at) : new Date(0);
  const stamp = t.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${sha256Hex(run.run_id).slice(0, 6)}`;
}

/** Step names and their KFP task names, from a pipeline version's spec (the steps the schedule's runs have). */
async function versionSteps(client: KfpClient, pipelineId: string, versionId: string): Promise<Record<string, string>> {
  const v = await client.getPipelineVersion(pipelineId, versionId);
  const doc = (v.pipeline_spec ?? {}) as Record<string, unknown>;
  const spec = (doc.pipeline_spec && typeof doc.pipeline_spec === 'object' ? doc.pipeline_spec : doc) as { root?: { dag?: { tasks?: Record<string, { taskInfo?: { name?: string } }> } } };
  const out: Record<string, string> = {};
  for (const [task, t] of Object.entries(spec.root?.dag?.tasks ?? {})) out[t.taskInfo?.name ?? task] = task;
  return out;
}

/**
 * Records the runs KFP made for `schedules` in the runtime's store as Kubeflow runs, as a submitted run is recorded,
 * and watches them. A run already recorded (by any process) is left alone. Returns the ids recorded now.
 */
export async function recordScheduledRuns(runtime: KubeflowRuntime, schedules: KfpRecurringRun[], namespace: string | undefined, options: { pages?: number } = {}): Promise<string[]> {
  const byId = new Map(schedules.map((s) => [s.recurring_run_id, s]));
  if (!byId.size) return [];
  const client = await runtime.kfp();
  const found: KfpRun[] = [];
  let token: string | undefined;
  // Newest first: the runs worth showing are the recent ones (older ones were recorded by an earlier listing).
  for (let page = 0; page < (options.pages ?? 4); page++) {
    const got = await client.listRuns({ namespace, pageSize: 100, pageToken: token });
    found.push(...got.runs.filter((r) => r.recurring_run_id && byId.has(r.recurring_run_id)));
    token = got.nextPageToken;
    if (!token) break;
  }
  const steps = new Map<string, Promise<Record<string, string>>>();
  const made: string[] = [];
  for (const run of found) {
    const id = scheduledRunId(run);
    if (await runtime.store.get(id)) continue;
    const schedule = byId.get(run.recurring_run_id!)!;
    const ref = run.pipeline_version_reference?.pipeline_version_id ? run.pipeline_version_reference : schedule.pipeline_version_reference;
    const key = `${ref?.pipeline_id}/${ref?.pipeline_version_id}`;
    if (!steps.has(key)) steps.set(key, versionSteps(client, ref?.pipeline_id ?? '', ref?.pipeline_version_id ?? ''));
    const tasks = await steps.get(key)!;
    const record: RunRecord = {
      id,
      notebook: scheduledNotebook(schedule) ?? schedule.display_name ?? schedule.recurring_run_id,
      // The notebook's bytes when it was scheduled are not kept anywhere; the spec hash names what runs.
      notebookHash: '',
      specHash: /sha256:([0-9a-f]+)\)$/.exec(schedule.description ?? '')?.[1] ?? '',
      runtime: 'kubeflow',
      profile: runtime.profile.name,
      parameters: (run.runtime_config?.parameters ?? {}) as Record<string, JsonValue>,
      state: 'queued',
      createdAt: run.created_at && !run.created_at.startsWith('1970') ? run.created_at : new Date().toISOString(),
      steps: Object.keys(tasks).map((s) => pendingStep(s)),
      url: client.runUrl(run.run_id),
      external: {
        kfpRunId: run.run_id,
        recurringRunId: schedule.recurring_run_id,
        ...(run.experiment_id ? { experimentId: run.experiment_id } : {}),
        namespace: schedule.namespace || namespace || runtime.profile.namespace,
        pipelineId: ref?.pipeline_id ?? '',
        pipelineVersionId: ref?.pipeline_version_id ?? '',
        tasks: JSON.stringify(tasks),
      },
    };
    try {
      await runtime.store.create(record);
    } catch (err) {
      // Another process recorded it between the look-up and now.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    made.push(id);
    runtime.emit('change', structuredClone(record));
    void runtime.watch(id).catch((err: unknown) => runtime.emit('warning', id, (err as Error).message));
  }
  return made;
}
