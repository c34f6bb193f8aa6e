/**
 * Reading the cell outputs a run's steps recorded: each step's `cell-outputs.json` (written by the step runtime's
 * `--cell-outputs`), found through the run record's `cellOutputs` pointer — relative to the store's folder, so a
 * cached step can point at the run that executed it and the store can move as a whole.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StepCells } from '../core/executed.js';
import { isObject } from '../core/notebook.js';
import type { RunRecord } from './types.js';
import type { RunStore } from './store.js';

export const CELL_OUTPUTS_FILE = 'cell-outputs.json';
export const CELL_OUTPUTS_FORMAT = 'cellpipe.cell-outputs/v1';

/** One step's recorded cell outputs and the run that produced them (another run's for a cached step). */
export interface StepCellOutputs extends StepCells {
  fromRun: string;
  /** The code each cell had when it ran (cell index as text → source, from the step's `program.json`), so a page can
   *  tell the outputs of a cell edited since; absent when the program was not kept. */
  sources?: Record<string, string>;
}

/** The step's outputs, or undefined when it recorded none (not run yet, skipped, or run before outputs were kept). */
export function readStepCellOutputs(store: RunStore, rec: RunRecord, step: string): StepCellOutputs | undefined {
  const s = rec.steps.find((x) => x.name === step);
  if (!s) throw new Error(`run ${rec.id} has no step '${step}'; its steps are: ${rec.steps.map((x) => x.name).join(', ') || 'none'}`);
  if (!s.cellOutputs) return undefined;
  const file = path.resolve(store.dir, s.cellOutputs);
  const rel = path.relative(store.dir, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(`step '${step}' of run ${rec.id} points at cell outputs outside the run store (${s.cellOutputs}); the run record is damaged`);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`the cell outputs of step '${step}' (run ${rec.id}) are gone: ${file} was deleted`);
    }
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`the cell outputs of step '${step}' (${file}) are not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc) || doc.format !== CELL_OUTPUTS_FORMAT || !isObject(doc.cells)) {
    throw new Error(`${file} is not a ${CELL_OUTPUTS_FORMAT} file as the step runtime writes it`);
  }
  const sources = readSources(path.join(path.dirname(file), 'program.json'));
  return { step, cells: doc.cells as StepCellOutputs['cells'], fromRun: fromRunOf(rel) ?? rec.id, ...(sources ? { sources } : {}) };
}

/** Cell index → source from a step's program (written beside its outputs); undefined when it is missing or unreadable. */
function readSources(file: string): Record<string, string> | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(doc) || !Array.isArray(doc.cells)) return undefined;
  const out: Record<string, string> = {};
  for (const c of doc.cells) if (isObject(c) && typeof c.index === 'number' && typeof c.source === 'string') out[String(c.index)] = c.source;
  return out;
}

/**
 * Every step's outputs that were recorded, in the run's step order. With `unreadable`, a step whose outputs cannot
 * be read (the file deleted or damaged) is left out and said there (step → why) instead of failing the whole run.
 */
export function readRunCellOutputs(store: RunStore, rec: RunRecord, unreadable?: Record<string, string>): StepCellOutputs[] {
  const out: StepCellOutputs[] = [];
  for (const s of rec.steps) {
    let got: StepCellOutputs | undefined;
    try {
      got = readStepCellOutputs(store, rec, s.name);
    } catch (err) {
      if (!unreadable) throw err;
      unreadable[s.name] = (err as Error).message;
    }
    if (got) out.push(got);
  }
  return out;
}

/** `runs/<id>/steps/...` → `<id>`. */
function fromRunOf(rel: string): string | undefined {
  const parts = rel.split(path.sep);
  return parts[0] === 'runs' && parts.length > 2 ? parts[1] : undefined;
}
