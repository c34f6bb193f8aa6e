/**
 * Watching a Kubeflow run: polls it with backoff (fast while things change, slower while they don't), writes run
 * and task states into the record, and has the step pods' logs streamed into the store (./pod-logs.ts). When KFP or
 * the cluster goes away the record is left as it was and polling backs off until they answer again. One process per
 * run watches it; another one follows the store and takes over when that process is gone.
 */
import { hostname } from 'node:os';
import type { KfpRun } from '../../kfp/client.js';
import { KfpError } from '../../kfp/errors.js';
import { TERMINAL_KFP, runState, stepPatches } from '../../kfp/states.js';
import type { PodLogStream } from '../../kube/logs.js';
import { currentRunner, runnerGone } from '../../runs/process.js';
import { sleep } from '../../runs/sleep.js';
import { isTerminalRun, isTerminalStep, type RunStore } from '../../runs/store.js';
import type { LogLine, RunRecord, StepRecord } from '../../runs/types.js';
import type { KubeflowContext } from './context.js';
import { PodTracking, startPodLogs, stepTasks } from './pod-logs.js';
import { readBackStepLogs } from './stored-logs.js';
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

/**
 * How long a finished step's state waits for the rest of its pod's log before it is written anyway (the watch goes on
 * meanwhile), and how long a finished run waits for every step pod's log before the record is finalised. Generous:
 * on a loaded node the kubelet and the API server can take many seconds to serve a log.
 */
const LOG_WAIT_MS = 60_000;
const RUN_LOGS_WAIT_MS = 120_000;

/**
 * Writes what KFP says into the record. `logPending(step)`: true while the step's pod log is still being stored;
 * such a step keeps its state until the log is complete (and the run its state until no step waits), so whoever
 * follows a log until its step ends gets every line. When the run ends, a step that ran and has no stored log (and
 * whose pod log is not being read: `podLogOpen`) gets it from KFP's object store first (./stored-logs.ts).
 */
export async function applyKfpRun(
  ctx: KubeflowContext,
  record: RunRecord,
  run: KfpRun,
  logPending: (step: string) => boolean = () => false,
  podLogOpen: (step: string) => boolean = () => false,
): Promise<{ record: RunRecord; changed: boolean; held: boolean }> {
  const terminated = record.cancelRequestedAt !== undefined;
  let changed = false;
  let held = false;
  const patches = stepPatches(run, stepTasks(record), terminated);
  let current = record;
  for (const s of record.steps) {
    const patch = patches[s.name];
    if (!patch) continue;
    // A step not over when the user cancelled fails in KFP because it was terminated — also one the record still
    // had pending (KFP lists a step whose pod waits late, and may end it FAILED before it ever showed it running).
    if (terminated && patch.state === 'failed' && !isTerminalStep(s.state)) patch.state = 'cancelled';
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
      current = await ctx.store.updateStep(record.id, s.name, diff);
      changed = true;
    }
  }
  const kfpState = runState(run.state, terminated);
  const state = held && isTerminalRun(kfpState) ? current.state : kfpState;
  if (isTerminalRun(state) && !current.finishedAt && (await readBackStepLogs(ctx, current, run, podLogOpen))) {
    current = (await ctx.store.get(record.id)) ?? current;
  }
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
    current = await ctx.store.update(record.id, runPatch);
    changed = true;
  }
  if (changed) ctx.changed(structuredClone(current));
  return { record: current, changed, held };
}

/**
 * KFP says the run is over: its record is not finalised before every step pod's log is stored to its end. The pod
 * watch is caught up first (a pod it has not delivered yet is listed), then each pod's follower reads until its
 * container terminated and the stream ended — bounded by RUN_LOGS_WAIT_MS, after which the run ends anyway and says
 * which pods' logs may be incomplete.
 */
async function awaitRunLogs(ctx: KubeflowContext, runId: string, logs: PodLogStream, pods: PodTracking, signal: AbortSignal): Promise<void> {
  await logs.resync();
  if (!pods.pending().length) return;
  if (await pods.settled(AbortSignal.any([signal, AbortSignal.timeout(RUN_LOGS_WAIT_MS)]))) return;
  if (!signal.aborted) ctx.warn(runId, `the run is over but the logs of ${pods.pending().join(', ')} were not read to their end within ${RUN_LOGS_WAIT_MS / 1000}s: they may be incomplete`);
}

export async function watchLoop(ctx: KubeflowContext, runId: string, signal: AbortSignal): Promise<RunRecord> {
  const first = await ctx.store.get(runId);
  if (!first) throw new Error(`no run ${runId} in ${ctx.store.dir}`);
  let record: RunRecord = first;
  const kfpRunId = record.external?.kfpRunId;
  if (!kfpRunId) throw new Error(`run ${runId} is not a Kubeflow run (no KFP run id)`);
  let delay = ctx.pollMs;
  let outage: string | undefined;
  let logs: PodLogStream | undefined;
  let logsFailed = false;
  // Aborted when the log stream ends (stopped, or a fatal error): nothing waits for logs after that.
  const logsEnded = new AbortController();
  let tail: StoredLogTail | undefined;
  let leased = false;
  const pods = new PodTracking();
  // Since when each step has waited for its pod's log (at most LOG_WAIT_MS).
  const waitingSince = new Map<string, number>();
  // Set once the run's end has waited for the logs: what is still missing then is not waited for again.
  let runLogsAwaited = false;
  const logPending = (step: string): boolean => {
    if (!logs || logsFailed || runLogsAwaited || !pods.logPending(step)) return false;
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
        tail ??= new StoredLogTail(ctx.store, runId, (step, line) => ctx.logged(runId, step, line));
        await tail.poll(record);
        await sleep(ctx.pollMs, signal);
        const now: RunRecord = (await ctx.store.get(runId)) ?? record;
        if (JSON.stringify(now) !== JSON.stringify(record)) ctx.changed(structuredClone(now));
        record = now;
        continue;
      }
      if (!leased) {
        record = await ctx.store.update(runId, { logWatcher: currentRunner() });
        leased = true;
      }
      let run: KfpRun | undefined;
      try {
        run = await (await ctx.kfp()).getRun(kfpRunId);
        if (outage) {
          ctx.warn(runId, `Kubeflow Pipelines answers again; watching run ${kfpRunId} resumed`);
          outage = undefined;
          delay = ctx.pollMs;
        }
      } catch (err) {
        const e = err instanceof KfpError ? err : new KfpError('api', (err as Error).message, 'retry');
        if (e.kind === 'not-found') {
          record = await ctx.store.update(runId, { state: 'failed', reason: `the run ${kfpRunId} no longer exists in Kubeflow Pipelines`, finishedAt: new Date().toISOString() });
          ctx.changed(structuredClone(record));
          break;
        }
        // Unreachable, 5xx, or credentials that may be refreshed: keep the record as it is and try again later.
        if (!outage) ctx.warn(runId, `${e.message} — will keep trying (the run goes on in Kubeflow)`);
        outage = e.message;
        delay = Math.min(Math.max(delay, ctx.pollMs) * 2, ctx.maxBackoffMs);
        await sleep(delay, signal);
        continue;
      }
      if (signal.aborted) break;
      // Re-read: another process (or `cancel`) may have changed the record meanwhile.
      record = (await ctx.store.get(runId)) ?? record;
      if (!logs && !logsFailed && run.state !== 'PENDING' && !ctx.logsOff()) {
        // Lines stored before a takeover were shown from the store.
        if (tail) await tail.poll(record);
        // One stream for the whole run: it follows every step pod as it appears, until the run is over.
        logs = await startPodLogs(ctx, record, kfpRunId, pods);
        // A fatal stream error (e.g. no permission to read pods) is reported once and not retried.
        void logs?.done.catch(() => (logsFailed = true)).finally(() => logsEnded.abort());
        // Know the pods that exist already before writing step states (a short step may be over by now).
        if (logs) await Promise.race([logs.synced, sleep(LOG_WAIT_MS, signal)]);
      }
      if (logs && !logsFailed && !runLogsAwaited && run.state && TERMINAL_KFP.includes(run.state)) {
        await awaitRunLogs(ctx, runId, logs, pods, AbortSignal.any([signal, logsEnded.signal]));
        runLogsAwaited = true;
      }
      const applied = await applyKfpRun(ctx, record, run, logPending, (step) => pods.logPending(step));
      record = applied.record;
      delay = applied.changed ? ctx.pollMs : Math.min(delay * 1.5, ctx.maxPollMs);
      if (applied.held) delay = ctx.pollMs;
      else if (run.state && TERMINAL_KFP.includes(run.state)) break;
      await sleep(delay, signal);
    }
  } finally {
    if (logs) {
      // Watching ended early (KFP lost the run, an error): let the stream read what the finished pods wrote (bounded).
      if (!signal.aborted && pods.pending().length) await pods.settled(AbortSignal.any([signal, logsEnded.signal, AbortSignal.timeout(5000)]));
      logs.stop();
      await logs.done.catch(() => {});
    }
    // A follower shows what was stored up to the end (once it streams itself, its lines are shown as they come).
    if (tail && !leased) await tail.poll(record).catch(() => {});
    if (leased) {
      const released = await ctx.store.update(runId, { logWatcher: undefined }).catch(() => undefined);
      if (released) {
        record = released;
        ctx.changed(structuredClone(record));
      }
    }
  }
  return record;
}
