/**
 * Which of a step's cells a fork server may run ahead of time, or why the step must start cold. Pure.
 *
 * A warm start runs the program's leading `imports` cells once in a fork server and forks the step from there, so
 * they must do exactly what they would have done in the step's own process: a `%%` cell magic (which may run the
 * cell in another interpreter or a shell) or an imports cell that reads a pipeline parameter (cold, parameters are
 * bound before the imports run; warm, after) would not.
 */
import type { StepProgram } from '../../../core/model.js';

export type WarmPlan = { cells: StepProgram['cells'] } | { cold: string };

/** The cells to run in the fork server (possibly none: the runtime itself is then what is kept warm). */
export function warmPlan(program: StepProgram): WarmPlan {
  const cells: StepProgram['cells'] = [];
  for (const cell of program.cells) {
    if (cell.role !== 'imports') break;
    cells.push(cell);
  }
  for (const cell of cells) {
    const first = cell.source.split('\n').find((l) => l.trim()) ?? '';
    if (first.trimStart().startsWith('%%')) {
      return { cold: `${cellName(cell)} is a ${first.trim().split(/\s/)[0]} cell magic, which a fork server does not run ahead` };
    }
    for (const p of program.parameters) {
      if (new RegExp(`(^|[^\\w.])${p.name}\\b`).test(cell.source)) {
        return { cold: `${cellName(cell)} uses the pipeline parameter ${p.name}, which is bound only when the step starts` };
      }
    }
  }
  return { cells };
}

/** How messages name a cell: as JupyterLab numbers it (1-based), with its first line. */
function cellName(cell: StepProgram['cells'][number]): string {
  const first = cell.source.split('\n').find((l) => l.trim())?.trim() ?? '';
  return `imports cell ${cell.index + 1} ("${first.length > 60 ? `${first.slice(0, 59)}…` : first}")`;
}
