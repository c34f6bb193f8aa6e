/**
 * "One cell across runs" in the compare tab: which cells can be compared (the code cells of the notebook's steps,
 * labelled as JupyterLab numbers them) and what each chosen run has for the picked cell — its outputs, or why there
 * are none (the step did not run, was reused from another run, recorded nothing for that cell).
 */
import { cellLabel } from '../../core/notebook.js';
import type { RecordedCell } from '../../core/executed.js';

export interface CellChoice {
  /** 0-based index into the notebook's cells. */
  cell: number;
  step: string;
  label: string;
}

/**
 * The cells of the steps, in notebook order: "cell 3 · load: df = pd.read_csv(…)". Cells of a referenced notebook
 * (indices past this notebook's, composed steps) are left out: their outputs belong to that notebook.
 */
export function comparableCells(steps: readonly { name: string; cells: readonly number[] }[], sources: readonly string[]): CellChoice[] {
  const out: CellChoice[] = [];
  for (const s of steps) {
    for (const cell of s.cells) {
      if (cell < 0 || cell >= sources.length) continue;
      const first = (sources[cell] ?? '').split('\n').find((l) => l.trim()) ?? '';
      const line = first.length > 48 ? `${first.slice(0, 47)}…` : first;
      out.push({ cell, step: s.name, label: `${cellLabel(cell)} · ${s.name}${line ? `: ${line.trim()}` : ''}` });
    }
  }
  return out.sort((a, b) => a.cell - b.cell);
}

/** What the backend says of one step's outputs in one run (`GET /api/runs/:id/outputs/:step`). */
export interface StepOutputsAnswer {
  recorded: boolean;
  fromRun?: string;
  cells: Record<string, RecordedCell>;
}

/** One run's column for the picked cell: its outputs, or a word on why there are none. */
export type CellColumn = { outputs: Record<string, unknown>[]; fromRun?: string } | { none: string };

export function cellColumn(runId: string, answer: StepOutputsAnswer | undefined, cell: number, stepState: string | undefined): CellColumn {
  if (!answer || !answer.recorded) {
    return { none: stepState === undefined ? 'this run has no such step' : stepState === 'skipped' || stepState === 'pending' ? `the step was ${stepState === 'skipped' ? 'left out' : 'not run'}` : 'no outputs recorded' };
  }
  const recorded = answer.cells[String(cell)];
  if (!recorded) return { none: 'no outputs recorded for this cell' };
  if (!recorded.outputs.length) return { none: 'the cell showed nothing' };
  return { outputs: recorded.outputs, ...(answer.fromRun && answer.fromRun !== runId ? { fromRun: answer.fromRun } : {}) };
}
