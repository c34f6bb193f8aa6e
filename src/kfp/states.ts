/**
 * KFP run and task states → cellpipe run and step records.
 *
 * `run_details.task_details` holds one entry per Argo node (DAG nodes, drivers, executors). A cellpipe step is the
 * DAG node whose display name is the step's task name (`taskName(step)`); its `executor` child (or the latest
 * `executor(N)` on retries) carries the pod. KFP reports a cache hit as `SKIPPED`.
 */
import type { RunState, StepRecord, StepState } from '../runs/types.js';
import type { KfpRun, KfpRuntimeState, KfpTaskDetail } from './client.js';

export const TERMINAL_KFP: readonly KfpRuntimeState[] = ['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELED'];

/** KFP's state of a task → cellpipe's step state; a state not listed (unset, PENDING, UNSPECIFIED) is `pending`. */
const STEP_STATE: Partial<Record<KfpRuntimeState, StepState>> = {
  RUNNING: 'running',
  PAUSED: 'running',
  CANCELING: 'running',
  SUCCEEDED: 'succeeded',
  SKIPPED: 'cached',
  FAILED: 'failed',
  CANCELED: 'cancelled',
};

export function stepState(state: KfpRuntimeState | undefined): StepState {
  return (state && STEP_STATE[state]) || 'pending';
}

/**
 * KFP's run state → cellpipe's (read through the same table as a step's); `terminated` says whether cellpipe asked
 * KFP to terminate the run.
 */
export function runState(state: KfpRuntimeState | undefined, terminated = false): RunState {
  switch (stepState(state)) {
    case 'running':
      return 'running';
    case 'succeeded':
    case 'cached':
      return 'succeeded';
    case 'failed':
      // A terminated run ends FAILED in KFP (nothing sets CANCELED from Argo's status).
      return terminated ? 'cancelled' : 'failed';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'queued';
  }
}

const ZERO_TIME = /^1970-01-01T00:00:00/;

function time(t: string | undefined): string | undefined {
  return t && !ZERO_TIME.test(t) ? t : undefined;
}

/** The task details that are a step's DAG node and its executor attempts. */
function taskOf(details: KfpTaskDetail[], task: string): { node?: KfpTaskDetail; executors: KfpTaskDetail[] } {
  const node = details.find((d) => d.display_name === task);
  const executors = node?.task_id
    ? details.filter((d) => d.parent_task_id === node.task_id && /^executor(\(\d+\))?$/.test(d.display_name ?? ''))
    : [];
  return { node, executors };
}

/**
 * The step fields a KFP run reports for each step (`task` = the step's task name in the spec). Steps KFP does not
 * mention yet stay pending; when the run ended, those become `skipped` (never started) and running ones take the
 * run's end (failed or cancelled).
 */
export function stepPatches(
  run: KfpRun,
  steps: { name: string; task: string }[],
  terminated = false,
): Record<string, Partial<StepRecord>> {
  const details = run.run_details?.task_details ?? [];
  const finalRun = run.state && TERMINAL_KFP.includes(run.state) ? runState(run.state, terminated) : undefined;
  const out: Record<string, Partial<StepRecord>> = {};
  for (const s of steps) {
    const { node, executors } = taskOf(details, s.task);
    const patch: Partial<StepRecord> = {};
    let state = stepState(node?.state);
    if (node) {
      patch.startedAt = time(node.start_time) ?? time(node.create_time);
      patch.finishedAt = time(node.end_time);
      if (node.error?.message && state === 'failed') patch.error = { message: node.error.message };
      if (executors.length) patch.attempts = executors.length;
      else if (state !== 'pending' && state !== 'cached') patch.attempts = 1;
    }
    if (finalRun) {
      if (state === 'pending') state = 'skipped';
      else if (state === 'running') state = finalRun === 'cancelled' ? 'cancelled' : finalRun === 'failed' ? 'failed' : 'succeeded';
      if (!patch.finishedAt && state !== 'skipped') patch.finishedAt = time(run.finished_at);
    }
    patch.state = state;
    for (const k of Object.keys(patch) as (keyof StepRecord)[]) if (patch[k] === undefined) delete patch[k];
    out[s.name] = patch;
  }
  return out;
}
