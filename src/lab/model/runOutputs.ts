/**
 * What the notebook shows under each cell from a pipeline run (no DOM): which recorded outputs belong to which cell
 * now, the mime bundle each nbformat output renders as, an error output split into one short line and its traceback,
 * and the "from run X" line that says where the outputs come from.
 */
import { outputsByCell, type RecordedCell, type StepCells } from '../../core/executed.js';
import type { RunRecord, StepRecord } from '../../runs/types.js';
import type { CellInfo } from './cells.js';
import { formatDuration } from './runs.js';

/** One step's recorded cells as `GET /api/runs/:id/outputs[/:step]` answers them. */
export interface StepOutputs extends StepCells {
  /** The run that executed the step (another run's id for a cached or reused step). */
  fromRun: string;
  /** Each cell's code as it ran (cell index as text → source), when the backend kept it. */
  sources?: Record<string, string>;
}

/** What one notebook cell shows from the run. */
export interface CellRunOutputs {
  step: string;
  fromRun: string;
  executionCount?: number;
  outputs: NbOutput[];
  /** The cell's code when it ran (undefined: not known). */
  source?: string;
}

/** An nbformat v4 output, as the step runtime records it. */
export type NbOutput = Record<string, unknown> & { output_type?: string };

/**
 * Places the run's recorded outputs on the notebook's cells as they are now: by cell id when the run recorded one
 * that the notebook still has, else by index (a code cell only). A cell several steps ran (imports, functions) shows
 * the first step's, in the run's step order — as `cellpipe export` does.
 */
export function placeRunOutputs(steps: readonly StepOutputs[], cells: readonly CellInfo[]): Map<number, CellRunOutputs> {
  const fromRun = new Map(steps.map((s) => [s.step, s.fromRun]));
  const sources = new Map(steps.map((s) => [s.step, s.sources]));
  const ids = new Map<string, number>();
  cells.forEach((c, i) => c.id && ids.set(c.id, i));
  const out = new Map<number, CellRunOutputs>();
  for (const [index, rec] of outputsByCell([...steps])) {
    const at = (rec.id ? ids.get(rec.id) : undefined) ?? index;
    if (cells[at]?.type !== 'code' || out.has(at)) continue;
    const source = sources.get(rec.step)?.[String(index)];
    out.set(at, { step: rec.step, fromRun: fromRun.get(rec.step) ?? '', executionCount: rec.executionCount, outputs: rec.outputs as NbOutput[], ...(source !== undefined ? { source } : {}) });
  }
  return out;
}

/** True when the cell's code is not what ran (trailing whitespace aside): its run outputs may not match it any more. */
export function editedSince(ran: string | undefined, now: string): boolean {
  return ran !== undefined && ran.trimEnd() !== now.trimEnd();
}

/** The cell a failed step raised in, as the notebook is now (its id wins over its recorded index). */
export function failingCell(step: Pick<StepRecord, 'state' | 'error'>, cells: readonly CellInfo[]): number | undefined {
  if (step.state !== 'failed' || !step.error || step.error.cell === undefined) return undefined;
  if (step.error.cellId) {
    const byId = cells.findIndex((c) => c.id === step.error!.cellId);
    if (byId >= 0) return byId;
  }
  return step.error.cell >= 0 && step.error.cell < cells.length ? step.error.cell : undefined;
}

/**
 * Where a failed step's own code called into the cell that raised (a function of a `functions` cell): the outermost
 * calling frame, as the notebook is now (its id wins over its recorded index); undefined when it raised where it ran.
 */
export function callingCell(step: Pick<StepRecord, 'state' | 'error'>, cells: readonly CellInfo[]): { cell: number; line: number } | undefined {
  const raised = failingCell(step, cells);
  const call = step.error?.calledFrom?.[0];
  if (raised === undefined || !call) return undefined;
  const byId = call.cellId ? cells.findIndex((c) => c.id === call.cellId) : -1;
  const cell = byId >= 0 ? byId : call.cell >= 0 && call.cell < cells.length ? call.cell : undefined;
  return cell === undefined || cell === raised ? undefined : { cell, line: call.line };
}

/** An error output made from the step's error record, for a failed step that recorded no outputs of its own. */
export function errorOutputOf(error: NonNullable<StepRecord['error']>): NbOutput {
  return { output_type: 'error', ename: error.type ?? 'Error', evalue: error.message, traceback: (error.traceback ?? '').replace(/\n$/, '').split('\n') };
}

/** The mime bundle an output renders as (streams as JupyterLab's output area renders them); undefined for errors. */
export function mimeBundle(output: NbOutput): Record<string, unknown> | undefined {
  switch (output.output_type) {
    case 'stream': {
      const text = Array.isArray(output.text) ? output.text.join('') : String(output.text ?? '');
      return { [output.name === 'stderr' ? 'application/vnd.jupyter.stderr' : 'application/vnd.jupyter.stdout']: text };
    }
    case 'display_data':
    case 'execute_result': {
      const data = output.data;
      if (!data || typeof data !== 'object') return undefined;
      // nbformat allows multi-line strings as lists of lines.
      const bundle: Record<string, unknown> = {};
      for (const [mime, value] of Object.entries(data as Record<string, unknown>)) {
        bundle[mime] = Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.join('') : value;
      }
      return bundle;
    }
    default:
      return undefined;
  }
}

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** Longest error line shown before the traceback; a longer or multi-line message is finished in the traceback. */
export const ERROR_HEAD_MAX = 160;

/**
 * An error output as one short line (`ZeroDivisionError: division by zero`) and its traceback without that line
 * again at its end: the message is read once. A message longer than ERROR_HEAD_MAX or of several lines shows its
 * start, and the whole of it ends the traceback.
 */
export function splitError(output: NbOutput): { head: string; traceback: string } {
  const ename = String(output.ename ?? 'Error');
  const evalue = String(output.evalue ?? '');
  const head = evalue ? (evalue.startsWith(`${ename}:`) ? evalue : `${ename}: ${evalue}`) : ename;
  const lines = (Array.isArray(output.traceback) ? output.traceback.map(String) : [])
    .flatMap((l) => l.split('\n'))
    .map((l) => l.replace(ANSI, ''));
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  // The message ends the traceback, on one line or several: take it off (it is the head).
  const tail = head.split('\n').length;
  const end = lines.slice(-tail).map((l) => l.trim()).join('\n');
  if (lines.length >= tail && (end === head.trim() || end === `${ename}: ${evalue}`.trim() || (evalue && end === evalue.trim()))) lines.splice(-tail);
  else if (lines.length && lines[lines.length - 1].trim() === ename) lines.pop();
  const firstLine = head.split('\n')[0];
  if (firstLine.length <= ERROR_HEAD_MAX && firstLine === head) return { head, traceback: lines.join('\n') };
  const short = `${firstLine.slice(0, ERROR_HEAD_MAX).trimEnd()}…`;
  return { head: short, traceback: [...lines, head].join('\n') };
}

/**
 * Where the outputs under a cell come from, for the line above them: `from run 20260101-abc · step plot succeeded
 * · 13:04:05 · 2.1 s` (cached steps also name the run that executed them).
 */
export function provenance(run: Pick<RunRecord, 'id'>, step: Pick<StepRecord, 'name' | 'state' | 'startedAt' | 'finishedAt' | 'cachedFrom'>, fromRun: string, now?: number): string {
  const parts = [`from run ${run.id}`, `step ${step.name} ${step.state}`];
  if (fromRun && fromRun !== run.id) parts.push(`outputs of run ${fromRun}`);
  const at = step.finishedAt ?? step.startedAt;
  if (at) parts.push(new Date(at).toLocaleTimeString());
  const d = formatDuration(step.startedAt, step.finishedAt, now);
  if (d && step.state !== 'cached') parts.push(d);
  return parts.join(' · ');
}

export type { RecordedCell };

/**
 * What a step's recorded outputs show of what it printed: nothing, all of it, or a part (the step runtime cut a
 * stream, or stopped keeping outputs, at its size limits and said so in a `[cellpipe] …` note: the log has the rest).
 */
export function printsShown(cells: Readonly<Record<string, { outputs: readonly Record<string, unknown>[] }>>): 'none' | 'all' | 'part' {
  let any = false;
  for (const c of Object.values(cells)) {
    for (const o of c.outputs ?? []) {
      any = true;
      const text = Array.isArray(o.text) ? o.text.join('') : typeof o.text === 'string' ? o.text : '';
      if (o.output_type === 'stream' && o.name === 'stderr' && /^\[cellpipe\] .*\blimit\b/m.test(text)) return 'part';
    }
  }
  return any ? 'all' : 'none';
}
