/**
 * Telling runs apart: what sets a run apart from the notebook's defaults (parameters that differ, its metrics, where
 * it ran, how long, how many steps were cached), and several runs side by side — parameters, metrics and each step's
 * state and duration, with the rows whose values differ marked. Pure: the sidebar, the compare tab and
 * `cellpipe compare` format it.
 */
import { canonicalJson } from '../core/hash.js';
import type { JsonValue } from '../core/model.js';
import type { RunRecord } from './types.js';

/** A parameter with the default the notebook gives it. */
export interface ParameterDefault {
  name: string;
  default: JsonValue;
}

/** One run at a glance (a history row). */
export interface RunSummary {
  /** Parameters whose value differs from the default (all of them when no defaults are known). */
  changed: { name: string; value: JsonValue; default?: JsonValue }[];
  metrics: Record<string, number | string>;
  /** Where it ran: `local`, `containers`, `kubeflow:PROFILE`. */
  target: string;
  /** Milliseconds from start to end (or to `now` while it runs); undefined before it started. */
  durationMs?: number;
  cached: number;
  steps: number;
}

/** Same JSON value (object keys in any order). */
export function sameValue(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** A value as the user typed it: strings bare, the rest as JSON. */
export function showValue(value: unknown, type?: string): string {
  if (value === undefined) return '—';
  // JSON has one number type: a float parameter the notebook writes as 14.0 is shown so, not as 14.
  if (type === 'float' && typeof value === 'number' && Number.isInteger(value)) return value.toFixed(1);
  return typeof value === 'string' ? value : canonicalJson(value);
}

/** The run's metrics: every step's, in step order (a later step's value of a name wins). */
export function runMetrics(run: Pick<RunRecord, 'steps'>): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const s of run.steps) Object.assign(out, s.metrics ?? {});
  return out;
}

export function runTarget(run: Pick<RunRecord, 'runtime' | 'profile'>): string {
  return run.runtime === 'kubeflow' ? `kubeflow:${run.profile ?? '?'}` : run.runtime;
}

export function runDurationMs(run: Pick<RunRecord, 'startedAt' | 'createdAt' | 'finishedAt'>, now = Date.now()): number | undefined {
  const start = Date.parse(run.startedAt ?? '');
  if (!Number.isFinite(start)) return undefined;
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  return Number.isFinite(end) ? Math.max(0, end - start) : undefined;
}

export function stepDurationMs(step: { startedAt?: string; finishedAt?: string }, now = Date.now()): number | undefined {
  return runDurationMs({ startedAt: step.startedAt, createdAt: '', finishedAt: step.finishedAt }, now);
}

export function summarizeRun(run: RunRecord, defaults?: readonly ParameterDefault[], now = Date.now()): RunSummary {
  const byName = new Map((defaults ?? []).map((p) => [p.name, p.default]));
  const changed: RunSummary['changed'] = [];
  for (const [name, value] of Object.entries(run.parameters ?? {})) {
    if (!defaults) changed.push({ name, value });
    else if (!byName.has(name)) changed.push({ name, value });
    else if (!sameValue(value, byName.get(name))) changed.push({ name, value, default: byName.get(name) });
  }
  return {
    changed,
    metrics: runMetrics(run),
    target: runTarget(run),
    durationMs: runDurationMs(run, now),
    cached: run.steps.filter((s) => s.state === 'cached').length,
    steps: run.steps.length,
  };
}

/** One row of a comparison: a value per run (undefined: the run has none). */
export interface CompareRow {
  section: 'run' | 'parameter' | 'metric' | 'step';
  name: string;
  values: (JsonValue | undefined)[];
  /** Steps: per run its duration in ms, when it ran. */
  durations?: (number | undefined)[];
  /** Not the same in every run (steps: by outcome, cached counting as succeeded; durations always differ a little; the
   *  number of cached steps never by itself). */
  differs: boolean;
}

export interface Comparison {
  runs: { id: string; state: string; createdAt: string }[];
  rows: CompareRow[];
}

/** Two or more runs side by side: where and how long they ran, their parameters, metrics and steps. */
export function compareRuns(runs: readonly RunRecord[], now = Date.now()): Comparison {
  const rows: CompareRow[] = [];
  const row = (section: CompareRow['section'], name: string, values: (JsonValue | undefined)[], durations?: (number | undefined)[]) =>
    rows.push({ section, name, values, durations, differs: values.some((v) => !sameValue(v, values[0])) });
  row('run', 'state', runs.map((r) => r.state));
  row('run', 'target', runs.map(runTarget));
  row('run', 'duration', runs.map(() => null), runs.map((r) => runDurationMs(r, now)));
  rows[rows.length - 1].differs = false;
  row('run', 'cached steps', runs.map((r) => r.steps.filter((s) => s.state === 'cached').length));
  // How many steps took earlier outputs is how the run got there, not what it gave: never a difference by itself.
  rows[rows.length - 1].differs = false;
  for (const name of union(runs.map((r) => Object.keys(r.parameters ?? {})))) row('parameter', name, runs.map((r) => r.parameters?.[name]));
  const metrics = runs.map(runMetrics);
  for (const name of union(metrics.map((m) => Object.keys(m)))) row('metric', name, metrics.map((m) => m[name]));
  for (const name of union(runs.map((r) => r.steps.map((s) => s.name)))) {
    const steps = runs.map((r) => r.steps.find((s) => s.name === name));
    row('step', name, steps.map((s) => s?.state), steps.map((s) => (s && s.state !== 'cached' ? stepDurationMs(s, now) : undefined)));
    // A cached step has the outcome of a succeeded one: "cached" against "succeeded" is the same result.
    const outcome = steps.map((s) => (s?.state === 'cached' ? 'succeeded' : s?.state));
    rows[rows.length - 1].differs = outcome.some((v) => v !== outcome[0]);
  }
  return { runs: runs.map((r) => ({ id: r.id, state: r.state, createdAt: r.createdAt })), rows };
}

/** Names in first-seen order. */
function union(lists: string[][]): string[] {
  const out: string[] = [];
  for (const l of lists) for (const n of l) if (!out.includes(n)) out.push(n);
  return out;
}
