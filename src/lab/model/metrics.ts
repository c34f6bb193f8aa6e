/**
 * What the `pipeline-metrics` cell shows after a run (no DOM): each metric the cell names, the value the step that
 * computes it recorded in the run (the KFP metrics every runtime puts in the step's record), and which step that was.
 */
import type { RunRecord } from '../../runs/types.js';

/** One row under the metrics cell. `value` undefined: the run has no value for it (the step failed, was skipped…). */
export interface MetricRow {
  name: string;
  value?: number | string;
  /** The step that recorded it, or that should have (by the compiled graph). */
  step?: string;
  /** That step's state in the run. */
  state?: string;
}

/**
 * The rows for the metrics cell: the names in the cell's order (`graphMetrics`, with `writers` giving each name's
 * step from the compiled graph), the value as the run's step records it. A name the graph does not know but a
 * step recorded is listed after them.
 */
export function metricRows(run: Pick<RunRecord, 'steps'>, graphMetrics: readonly string[], writers: ReadonlyMap<string, string>): MetricRow[] {
  const recorded = new Map<string, { value: number | string; step: string }>();
  for (const s of run.steps) for (const [name, value] of Object.entries(s.metrics ?? {})) if (!recorded.has(name)) recorded.set(name, { value, step: s.name });
  const names = [...graphMetrics, ...[...recorded.keys()].filter((n) => !graphMetrics.includes(n))];
  return names.map((name) => {
    const got = recorded.get(name);
    const step = got?.step ?? writers.get(name);
    const state = run.steps.find((s) => s.name === step)?.state;
    return { name, ...(got ? { value: got.value } : {}), ...(step ? { step } : {}), ...(state ? { state } : {}) };
  });
}

/** A metric's value as the cell shows it: text as it is, a number to 6 significant digits. */
export function formatMetric(value: number | string): string {
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}
