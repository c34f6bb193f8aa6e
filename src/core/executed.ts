/**
 * The executed notebook of a run (`cellpipe export`): the notebook's JSON with, under each code cell, the outputs
 * that cell produced in the run's steps — like papermill's output notebook. Pure: the caller reads the files.
 *
 * A cell is found by its id when the run recorded one and the notebook still has it, else by its index (the
 * notebook may have changed since the run). A cell that several steps ran (imports and functions cells run in every
 * step) shows the outputs of the first step, in the run's step order, that ran it. Code cells the run did not run get
 * no outputs: what the interactive kernel showed there is not what the run did.
 */
import { cellLabel, isObject } from './notebook.js';

/** One cell's outputs in one step, as the step runtime writes them (`cellpipe_runtime/outputs.py`). */
export interface RecordedCell {
  id?: string | null;
  executionCount?: number;
  outputs: Record<string, unknown>[];
}

export interface StepCells {
  step: string;
  /** 0-based notebook cell index (as text) → what the cell showed. */
  cells: Record<string, RecordedCell>;
}

export interface ExportInfo {
  runId: string;
  state: string;
  /** The notebook changed since the run (its hash differs): cells are mapped by id, else index, with a note. */
  notebookChanged: boolean;
  /** The notebook's file name (the copy is written beside it): the page says whose executed copy it is. */
  notebook?: string;
}

export interface ExecutedNotebook {
  notebook: Record<string, unknown>;
  /** For the person exporting: what could not be placed, and how cells were matched. */
  notes: string[];
  /** How many cells show outputs from the run (a cell that ran and showed nothing, as most imports cells, is not counted). */
  filled: number;
}

/** Each cell index's outputs: the first step (in `steps` order) that ran the cell wins. */
export function outputsByCell(steps: StepCells[]): Map<number, RecordedCell & { step: string }> {
  const byCell = new Map<number, RecordedCell & { step: string }>();
  for (const s of steps) {
    for (const [key, cell] of Object.entries(s.cells)) {
      const index = Number(key);
      if (Number.isInteger(index) && index >= 0 && !byCell.has(index)) byCell.set(index, { ...cell, step: s.step });
    }
  }
  return byCell;
}

export function executedNotebook(json: unknown, steps: StepCells[], info: ExportInfo): ExecutedNotebook {
  if (!isObject(json) || !Array.isArray(json.cells)) throw new Error('the notebook has no "cells" list');
  const cells = json.cells.map((c) => (isObject(c) ? { ...c } : c)) as unknown[];
  const ids = new Map<string, number>();
  cells.forEach((c, i) => {
    if (isObject(c) && typeof c.id === 'string') ids.set(c.id, i);
  });
  const notes: string[] = [];
  if (info.notebookChanged) notes.push(`the notebook changed since run ${info.runId}: its outputs are placed by cell id, else by cell position`);

  const placed = new Map<number, RecordedCell & { step: string }>();
  for (const [index, recorded] of outputsByCell(steps)) {
    const byId = recorded.id ? ids.get(recorded.id) : undefined;
    const target = byId ?? index;
    const cell = cells[target];
    if (!isObject(cell) || cell.cell_type !== 'code') {
      notes.push(`the outputs of ${cellLabel(index)} (step ${recorded.step}) are left out: the notebook has no code cell there now`);
      continue;
    }
    if (!placed.has(target)) placed.set(target, recorded);
  }
  cells.forEach((c, i) => {
    if (!isObject(c) || c.cell_type !== 'code') return;
    const recorded = placed.get(i);
    c.outputs = recorded ? recorded.outputs.map(nbformatOutput) : [];
    c.execution_count = recorded?.executionCount ?? null;
    const metadata = isObject(c.metadata) ? { ...c.metadata } : {};
    if (recorded) metadata.cellpipe_run = { run: info.runId, step: recorded.step };
    else delete metadata.cellpipe_run;
    c.metadata = metadata;
  });
  const metadata = isObject(json.metadata) ? { ...json.metadata } : {};
  metadata.cellpipe_run = { run: info.runId, state: info.state, ...(info.notebook ? { notebook: info.notebook } : {}) };
  return { notebook: { ...json, cells, metadata }, notes, filled: [...placed.values()].filter((r) => r.outputs.length > 0).length };
}

/** nbformat 4 wants `execution_count` on results and `metadata` on rich outputs; the rest is kept as recorded. */
function nbformatOutput(o: Record<string, unknown>): Record<string, unknown> {
  const out = { ...o };
  if (out.output_type === 'display_data' || out.output_type === 'execute_result') {
    if (!isObject(out.metadata)) out.metadata = {};
    if (out.output_type === 'execute_result' && typeof out.execution_count !== 'number') out.execution_count = null;
  }
  return out;
}
