/**
 * Step graph → one `StepProgram` per step: the exact code, parameters and data names the step runtime needs.
 * Key order is fixed so that the same notebook always gives byte-identical programs (and spec, and image layers).
 */
import type { Notebook, StepGraph, StepProgram } from './model.js';
import type { CellPlacement } from './graph.js';

export function stepPrograms(notebook: Notebook, graph: StepGraph, placement: Map<number, CellPlacement>, path = ''): Record<string, StepProgram> {
  const cellAt = new Map(notebook.cells.map((c) => [c.index, c]));
  // A referenced notebook's cell (src/core/compose.ts) keeps its own index: its step's program, and so its cache key,
  // changes only when that notebook changes.
  const cell = (index: number, role: StepProgram['cells'][number]['role']) => {
    const c = cellAt.get(index)!;
    return { index: c.origin?.index ?? index, ...(c.id ? { id: c.id } : {}), role, source: c.source };
  };
  const types = new Map(graph.parameters.map((p) => [p.name, p.type]));
  const programs: Record<string, StepProgram> = {};
  for (const step of graph.steps) {
    programs[step.name] = {
      format: 'cellpipe.step/v1',
      pipeline: graph.pipeline.name,
      step: step.name,
      notebook: (step.unit?.notebook ?? path).split(/[\\/]/).pop() ?? path,
      cells: [
        ...(step.prelude ?? graph.prelude).map((i) => {
          const place = placement.get(i);
          return cell(i, place?.kind === 'prelude' ? place.role : 'imports');
        }),
        ...step.cells.map((i) => cell(i, 'step')),
      ],
      parameters: step.parameters.map((name) => ({ name, type: types.get(name)! })),
      inputs: step.inputs,
      outputs: step.outputs,
      metrics: step.metrics,
    };
  }
  return programs;
}
