/**
 * What the backend's schedule routes send and accept: a recurring run as the page shows it (cron as written, next
 * run times, paused or not), the request body checked field by field, and the errors of scheduling (cron, options,
 * parameters, compile, KFP) turned into HTTP errors with their hint. The scheduling itself is
 * runtimes/kubeflow/schedule.ts, the same code `cellpipe schedule` runs.
 */
import { CronError, parseCron, type CronSchedule } from '../core/cron.js';
import { cellLabel } from '../core/notebook.js';
import type { JsonValue } from '../core/model.js';
import type { KfpRecurringRun } from '../kfp/client.js';
import { KfpError } from '../kfp/errors.js';
import { describeSchedule, scheduledNotebook } from '../runtimes/kubeflow/schedule.js';
import { HttpError } from './http.js';
import type { ScheduleView } from '../runs/types.js';

export type { ScheduleView };

export function scheduleView(r: KfpRecurringRun, profile: string, url?: string, now = new Date()): ScheduleView {
  const d = describeSchedule(r, now, 3);
  const v: ScheduleView = {
    id: r.recurring_run_id,
    name: r.display_name ?? r.recurring_run_id,
    profile,
    cron: d.cron,
    paused: d.paused,
    next: d.upcoming.map((t) => t.toISOString()),
    parameters: (r.runtime_config?.parameters ?? {}) as Record<string, JsonValue>,
    maxConcurrency: Number(r.max_concurrency ?? '1') || 1,
    catchUp: r.no_catchup !== true,
  };
  const notebook = scheduledNotebook(r);
  if (notebook) v.notebook = notebook;
  if (r.trigger?.cron_schedule?.cron) v.kfpCron = r.trigger.cron_schedule.cron;
  if (r.pipeline_version_reference?.pipeline_version_id) v.pipelineVersionId = r.pipeline_version_reference.pipeline_version_id;
  if (r.created_at) v.createdAt = r.created_at;
  if (url) v.url = url;
  return v;
}

/** The schedule options of `POST /api/schedules`: `cron` (5 fields or a macro), `maxConcurrency` 1–10, `catchUp`. */
export function scheduleOptions(body: Record<string, unknown>): { cron: CronSchedule; maxConcurrency: number; catchUp: boolean } {
  if (typeof body.cron !== 'string' || !body.cron.trim()) {
    throw new HttpError(400, "field 'cron' is required: 5 fields, minute hour day-of-month month day-of-week (UTC)", 'e.g. "0 6 * * *" runs at 06:00 UTC every day.');
  }
  let cron: CronSchedule;
  try {
    cron = parseCron(body.cron);
  } catch (err) {
    if (err instanceof CronError) throw new HttpError(400, err.message, err.hint);
    throw err;
  }
  const mc = body.maxConcurrency ?? 1;
  if (typeof mc !== 'number') throw new HttpError(400, "field 'maxConcurrency' must be a number from 1 to 10");
  if (body.catchUp !== undefined && typeof body.catchUp !== 'boolean') throw new HttpError(400, "field 'catchUp' must be true or false");
  return { cron, maxConcurrency: mc, catchUp: body.catchUp === true };
}

/** A scheduling failure as the HTTP error the page shows (message and hint). */
export function scheduleHttpError(err: unknown): unknown {
  if (err instanceof HttpError) return err;
  if (err instanceof KfpError) {
    const status = err.kind === 'not-found' ? 404 : err.kind === 'invalid' ? 400 : err.kind === 'conflict' ? 409 : 502;
    return new HttpError(status, err.message, err.hint);
  }
  const e = err as Error & { hint?: string; compile?: { diagnostics: { severity: string; message: string; cell?: number; line?: number; hint?: string }[] } };
  // By name: the Kubeflow runtime module (and the Kubernetes client under it) is loaded only when a route needs it.
  if (e?.name === 'ScheduleError' || e?.name === 'KfpParameterError' || e?.name === 'CronError') return new HttpError(400, e.message, e.hint);
  if (e?.name === 'SubmitError') {
    const first = e.compile?.diagnostics.find((d) => d.severity === 'error');
    if (first) {
      const where = first.cell !== undefined ? ` (${cellLabel(first.cell, first.line)})` : '';
      return new HttpError(422, `the notebook does not compile: ${first.message}${where}`, first.hint, { diagnostics: e.compile!.diagnostics });
    }
    return new HttpError(400, e.message);
  }
  return err;
}
