/**
 * Recurring runs of a notebook on Kubeflow Pipelines (KFP's v2beta1 recurring runs). A schedule is made like a run
 * is submitted — validate, build the step images (content-addressed, so usually unchanged), upload or reuse the
 * pipeline version holding this exact spec — and then names that version, so later edits of the notebook never
 * change what it runs. The cron is written with 5 fields and sent as KFP's seconds-first 6 fields.
 */
import { nextRuns, type CronSchedule } from '../../core/cron.js';
import type { KfpRecurringRun } from '../../kfp/client.js';
import type { SubmitStage } from '../types.js';
import type { KubeflowRuntime, PreparedPipeline, SubmitOptions, SubmitProgress } from './runtime.js';

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

export class ScheduleError extends Error {
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
