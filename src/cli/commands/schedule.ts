/**
 * `cellpipe schedule NOTEBOOK --profile P --cron "0 6 * * *" [--param N=V]… [--max-concurrency N] [--catch-up]
 * [--start T] [--end T]`: a recurring run on Kubeflow Pipelines, pinned to the pipeline version uploaded now (images
 * built first, as `submit` does). Prints the next three run times before anything is created.
 * `cellpipe schedule pause|resume|delete ID [--profile P]` changes one.
 * Exit 0: done; 1: failed; 2: usage errors (including a cron that does not parse).
 */
import type { Command, CommandIO } from '../main.js';
import { keyValues, parseArgs, UsageError } from '../args.js';
import { describeError, kubeflowRuntimeFor, readNotebookArg, reportSubmitFailure, stageProgress } from '../kubeflow-notebook.js';
import { formatRunTime, parseCron } from '../../core/cron.js';
import { loadProfile } from '../../kube/profile.js';
import { pickProfile } from '../kubeflow-notebook.js';
import { KfpClient } from '../../kfp/client.js';
import { kfpEndpoint } from '../../kfp/endpoint.js';
import type { SubmitProgress } from '../../runtimes/kubeflow/runtime.js';
import { checkScheduleOptions, deleteSchedule, scheduleNotebook } from '../../runtimes/kubeflow/schedule.js';

const USAGE = `usage: cellpipe schedule NOTEBOOK --profile NAME --cron "MIN HOUR DOM MON DOW" [options]
       cellpipe schedule pause|resume|delete ID [--profile NAME]

  --profile NAME          the cellpipe profile (Kubeflow Pipelines, registry) to schedule on
  --cron EXPR             when to run, 5 fields in UTC: "0 6 * * *" is 06:00 every day, "30 */2 * * 1-5" every two
                          hours at :30 on weekdays; or @hourly, @daily, @weekly, @monthly
  --param NAME=VALUE      a pipeline parameter for every run of the schedule (repeatable)
  --max-concurrency N     at most N runs of the schedule at once (1-10, default 1)
  --catch-up              make up runs missed while paused or before a late start (default: skip them)
  --start TIME            first possible run (ISO 8601, e.g. 2027-01-01T00:00:00Z; default now)
  --end TIME              no runs after this time
  --no-build              do not build images: every step on the base image with its program in the spec
  --json                  print the created recurring run as JSON

The images are built and the pipeline version uploaded first; the schedule runs that version, so later edits of the
notebook do not change it (schedule again to pick them up). 'cellpipe schedules' lists schedules with their next run.`;

const STAGE_WORDS: Record<SubmitProgress['stage'], string> = { validate: 'validate', build: 'build images', upload: 'upload', run: 'create schedule' };

/** An ISO 8601 date or time; without an offset it is UTC (as the schedule's cron is). */
function parseTime(flag: string, value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const m = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  const t = m ? new Date(m[1] && !m[4] ? `${text}Z` : text) : new Date(NaN);
  if (Number.isNaN(t.getTime())) throw new UsageError(`--${flag} ${text}: write an ISO 8601 time, e.g. 2027-01-01T06:00:00Z (UTC unless an offset is given)`);
  return t;
}

async function change(action: 'pause' | 'resume' | 'delete', id: string, profileFlag: unknown, io: CommandIO): Promise<number> {
  const profile = await pickProfile(profileFlag, io.env);
  const client = new KfpClient(await kfpEndpoint(profile, io.env));
  if (action === 'delete') {
    const namespace = (await client.healthz()).multi_user === false ? undefined : profile.namespace;
    await deleteSchedule(client, id, namespace);
  } else await client.setRecurringRunEnabled(id, action === 'resume');
  io.stdout.write(`${{ pause: 'paused', resume: 'resumed', delete: 'deleted' }[action]} schedule ${id} (profile ${profile.name})\n`);
  return 0;
}

const schedule: Command = async (argv, io) => {
  let args;
  try {
    args = parseArgs(argv, {
      profile: { value: true }, cron: { value: true }, param: { value: true, multiple: true }, 'max-concurrency': { value: true },
      'catch-up': {}, start: { value: true }, end: { value: true }, 'no-build': {}, json: {}, help: { short: 'h' },
    });
  } catch (err) {
    io.stderr.write(`cellpipe schedule: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.flags.help) {
    io.stdout.write(USAGE + '\n');
    return 0;
  }
  const [first, second, ...more] = args.positionals;
  try {
    if (first === 'pause' || first === 'resume' || first === 'delete') {
      if (!second || more.length) throw new UsageError(`give one schedule id: cellpipe schedule ${first} ID`);
      return await change(first, second, args.flags.profile, io);
    }
    if (!first || second !== undefined) throw new UsageError('give exactly one notebook (or pause|resume|delete ID)');
    if (typeof args.flags.cron !== 'string') throw new UsageError('--cron "MIN HOUR DOM MON DOW" is required (e.g. --cron "0 6 * * *")');
    if (typeof args.flags.profile !== 'string') throw new UsageError('--profile NAME is required');
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe schedule: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    io.stderr.write(`cellpipe schedule: ${describeError(err)}\n`);
    return 1;
  }

  let options;
  try {
    const cron = parseCron(args.flags.cron);
    const mc = args.flags['max-concurrency'];
    const maxConcurrency = mc === undefined ? 1 : /^\d+$/.test(String(mc)) ? Number(mc) : NaN;
    options = { cron, maxConcurrency, catchUp: Boolean(args.flags['catch-up']), start: parseTime('start', args.flags.start), end: parseTime('end', args.flags.end) };
    const next = checkScheduleOptions(options);
    io.stdout.write(`cron "${cron.written}" (KFP: "${cron.kfp}"); next runs:\n${next.map((t) => `  ${formatRunTime(t)}\n`).join('')}`);
  } catch (err) {
    io.stderr.write(`cellpipe schedule: ${err instanceof UsageError ? err.message : describeError(err)}\n`);
    return 2;
  }
  let texts: Record<string, string>;
  try {
    texts = Object.fromEntries(keyValues(args.flags.param, 'param'));
  } catch (err) {
    io.stderr.write(`cellpipe schedule: ${(err as Error).message}\n`);
    return 2;
  }
  const notebook = await readNotebookArg('schedule', first, io);
  if (typeof notebook === 'number') return notebook;
  const { path, shown, text } = notebook;
  const onProgress = stageProgress(io, STAGE_WORDS, { pad: 16, live: false });
  try {
    const runtime = kubeflowRuntimeFor(await loadProfile(args.flags.profile as string, io.env), path, io);
    const r = await scheduleNotebook(runtime, {
      ...options, notebookPath: path, shownPath: shown, text, parameterTexts: texts, images: args.flags['no-build'] ? 'inline' : 'build', onProgress,
    });
    if (args.flags.json) io.stdout.write(JSON.stringify(r.recurringRun, null, 2) + '\n');
    else {
      const v = r.prepared.upload;
      io.stdout.write(`schedule ${r.recurringRun.recurring_run_id}  runs pipeline version ${v.pipelineVersionId}${r.url ? `\n  ${r.url}` : ''}\n`);
    }
    return 0;
  } catch (err) {
    reportSubmitFailure('schedule', err, shown, io);
    return 1;
  }
};

export default schedule;
