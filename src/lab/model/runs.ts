/**
 * Presenting run records: durations, state colours, the latest run, and the failing line of a step's log.
 */
import type { RunRecord, StepRecord, StepState, RunState } from '../../runs/types.js';

/** Human duration between two ISO times (or until `now` while running): `850 ms`, `12.3 s`, `4 min 05 s`. */
export function formatDuration(startedAt?: string, finishedAt?: string, now: number = Date.now()): string {
  if (!startedAt) return '';
  const start = Date.parse(startedAt);
  const end = finishedAt ? Date.parse(finishedAt) : now;
  if (!Number.isFinite(start) || !Number.isFinite(end)) return '';
  return formatMs(Math.max(0, end - start));
}

/** Human duration of a number of milliseconds: `850 ms`, `12.3 s`, `4 min 05 s`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  const sec = Math.floor((ms % 60_000) / 1000);
  return `${min} min ${String(sec).padStart(2, '0')} s`;
}

/** CSS class suffix per state; one palette for DAG nodes, inline-log headers and the history list. */
export function stateClass(state: StepState | RunState | undefined): string {
  return `cp-state-${state ?? 'none'}`;
}

/** True when a run will not change any more. */
export function isTerminal(state: RunState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

/** True when a step's log will not grow any more. */
export function isStepDone(state: StepState): boolean {
  return state !== 'pending' && state !== 'running';
}

/** The most recent run by creation time (what reopening a notebook shows). */
export function latestRun(runs: readonly RunRecord[]): RunRecord | undefined {
  let best: RunRecord | undefined;
  for (const r of runs) if (!best || r.createdAt > best.createdAt) best = r;
  return best;
}

/** Short marks shown after a step's state: `cached`, `retried ×2`, `warm start` / `cold start`. */
export function stepMarks(step: StepRecord): string[] {
  const marks: string[] = [];
  if (step.state === 'cached') marks.push(step.reused ? `reused from ${step.cachedFrom ?? 'an earlier run'}` : 'cached');
  if (step.attempts > 1) marks.push(`retried ×${step.attempts - 1}`);
  // Local runs say whether the step's Python started warm (forked from a ready interpreter) or cold (a new one).
  if (step.start === 'warm' || step.start === 'cold') marks.push(`${step.start} start`);
  return marks;
}

/**
 * Which log lines to highlight as the error of a failed step: the lines that repeat the error's
 * `Type: message`, or (without a structured error) stderr lines that look like a Python exception line.
 */
export function isErrorLine(text: string, error?: StepRecord['error']): boolean {
  if (error) {
    const head = error.type ? `${error.type}: ${error.message}` : error.message;
    if (head && text.includes(head)) return true;
    if (error.type && text.startsWith(`${error.type}:`)) return true;
    return false;
  }
  return /^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Interrupt|Exit)(: |$)/.test(text);
}

/** When a run started, short: the time for today's runs, else the day and time. */
export function formatWhen(iso: string, now: number = Date.now()): string {
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return '';
  const today = new Date(now);
  const sameDay = d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * What a partial run ran, for its header and history row: `only train_forest · 2 reused`, `from features · 1 reused`;
 * undefined for a full run. Read from the record alone (reused steps are marked; a succeeded run's skipped steps were
 * left out), with the notebook's graph to tell "from X" (X and everything after it) from a list of steps.
 */
export function partialLabel(run: Pick<RunRecord, 'state' | 'steps'>, graph?: { edges: [string, string][] }): string | undefined {
  const reused = run.steps.filter((s) => s.reused);
  const leftOut = run.state === 'succeeded' ? run.steps.filter((s) => s.state === 'skipped') : [];
  if (!reused.length && !leftOut.length) return undefined;
  const ran = run.steps.filter((s) => !s.reused && !leftOut.includes(s)).map((s) => s.name);
  const reusedText = reused.length ? ` · ${reused.length} reused` : '';
  if (!ran.length) return `nothing run${reusedText}`;
  if (graph && ran.length > 1) {
    const inRun = new Set(ran);
    const roots = ran.filter((n) => !graph.edges.some(([a, b]) => b === n && inRun.has(a)));
    if (roots.length === 1) {
      const after = new Set([roots[0]]);
      for (let grew = true; grew; ) {
        grew = false;
        for (const [a, b] of graph.edges) if (after.has(a) && !after.has(b) && run.steps.some((s) => s.name === b)) (after.add(b), (grew = true));
      }
      if (after.size === inRun.size && [...after].every((n) => inRun.has(n))) return `from ${roots[0]}${reusedText}`;
    }
  }
  const names = ran.length > 3 ? `${ran.slice(0, 3).join(', ')} +${ran.length - 3}` : ran.join(', ');
  return `only ${names}${reusedText}`;
}
