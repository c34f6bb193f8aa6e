/**
 * KFP run and task states → cellpipe run and step records.
 *
 * `run_details.task_details` holds one entry per Argo node (DAG nodes, drivers, executors). A cellpipe step is the
 * DAG node whose display name is the step's task name (`taskName(step)`); its `executor` descendants (`executor(N)`
 * per attempt) carry the pod. KFP reports a cache hit as `SKIPPED`.
 *
 * What KFP 2.17.0's persistence agent really writes (recorded from the real stack, src/kfp/testing/real-runs/):
 * no entry has `parent_task_id` or `pod_name`; each lists its Argo children by node id in `child_tasks[].pod_name`,
 * never its own id. On a cache hit the step's DAG node is `SUCCEEDED` and only its `executor` is `SKIPPED`. So the
 * tree is rebuilt from Argo's node ids, which are `<workflow>-<FNV-1a of the node's name>`, names being the
 * parent's name + `.display` (or + `(N)` for an attempt). A step that never started because a step before it failed
 * is listed with no state at all, yet with start and end times (Argo's Omitted node). A terminated run ends `FAILED`,
 * and so does each step it stopped, even one whose pod never left Pending. While a step's pod waits, KFP may not list
 * the step yet (the persistence agent lags the pods): the pod says why it waits (kube/pod-waiting.ts), not KFP.
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

/** Argo's id of the node named `name` in `workflow`: the workflow's own node has its name, others `<wf>-<fnv1a32>`. */
export function argoNodeId(workflow: string, name: string): string {
  if (name === workflow) return workflow;
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `${workflow}-${h}`;
}

/**
 * Each detail's Argo node name, rebuilt from the ids its neighbours list (see the header); empty when the details
 * carry no child ids (KFP's documented shape, with `parent_task_id`).
 */
export function argoNodeNames(details: KfpTaskDetail[]): Map<KfpTaskDetail, string> {
  const names = new Map<KfpTaskDetail, string>();
  const ids = new Set(details.flatMap((d) => (d.child_tasks ?? []).map((c) => c.pod_name ?? '')).filter(Boolean));
  // The workflow's own node: the display name every listed id starts with.
  const root = details.find((d) => d.display_name && !d.display_name.includes('(') && ids.size > 0 && [...ids].every((id) => id.startsWith(`${d.display_name}-`)));
  if (!root?.display_name) return names;
  const wf = root.display_name;
  names.set(root, wf);
  const known = [wf];
  for (let grew = true; grew; ) {
    grew = false;
    for (const d of details) {
      if (names.has(d) || !d.display_name) continue;
      const attempt = /^(.*)\((\d+)\)$/.exec(d.display_name);
      for (const n of known) {
        const candidates = [`${n}.${d.display_name}`];
        if (attempt && (n === attempt[1] || n.endsWith(`.${attempt[1]}`))) candidates.push(`${n}(${attempt[2]})`);
        // Each node once: two details may share a display name (every step has an `executor`).
        const hit = candidates.find((c) => !known.includes(c) && ids.has(argoNodeId(wf, c)));
        if (hit) {
          names.set(d, hit);
          known.push(hit);
          grew = true;
          break;
        }
      }
    }
  }
  return names;
}

const EXECUTOR = /^executor(\(\d+\))?$/;

/** The task details that are a step's DAG node and its executor nodes (`executor`, and `executor(N)` per attempt). */
function taskOf(details: KfpTaskDetail[], names: Map<KfpTaskDetail, string>, task: string): { node?: KfpTaskDetail; executors: KfpTaskDetail[] } {
  const node = details.find((d) => d.display_name === task && (names.size === 0 || names.has(d))) ?? details.find((d) => d.display_name === task);
  const name = node && names.get(node);
  if (name) {
    const executors = details.filter((d) => EXECUTOR.test(d.display_name ?? '') && /^[.(]/.test(names.get(d)?.slice(name.length) ?? '') && names.get(d)!.startsWith(name));
    return { node, executors };
  }
  const executors = node?.task_id
    ? details.filter((d) => d.parent_task_id === node.task_id && EXECUTOR.test(d.display_name ?? ''))
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
  const names = argoNodeNames(details);
  for (const s of steps) {
    const { node, executors } = taskOf(details, names, s.task);
    const patch: Partial<StepRecord> = {};
    let state = stepState(node?.state);
    // A cache hit: KFP 2.17 marks the executor SKIPPED under a SUCCEEDED step node.
    if (state === 'succeeded' && executors.some((e) => e.state === 'SKIPPED') && !executors.some((e) => e.state === 'SUCCEEDED')) state = 'cached';
    // KFP lists a step that never started (its upstream failed: Argo's Omitted node) with no state but with start
    // and end times: it gets none.
    if (node && state !== 'pending') {
      patch.startedAt = time(node.start_time) ?? time(node.create_time);
      patch.finishedAt = time(node.end_time);
      if (node.error?.message && state === 'failed') patch.error = { message: node.error.message };
      // Attempts are the executor's pods: `executor(N)` under Argo v4's retry node, else the executor nodes.
      const pods = names.size ? executors.filter((e) => /\(\d+\)$/.test(e.display_name ?? '')) : executors;
      if (pods.length && state !== 'cached') patch.attempts = pods.length;
      else if (state !== 'cached') patch.attempts = 1;
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
