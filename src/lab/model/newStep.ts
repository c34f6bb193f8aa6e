/**
 * A new step's dependencies (Shift+Alt+S), no DOM: the data decides — the earlier steps that bind names the new
 * step reads, as the compiler works them out — and only when the data names none does the new step follow the step
 * above (the cells ran in that order). **Depends on** offers only steps that start above the cell.
 */
import type { StepGraph } from '../../core/model.js';
import type { CellPlace } from './cells.js';

/** The steps that start above cell `index`, in notebook order: the ones a step there may depend on. */
export function stepsBefore(places: readonly (CellPlace | undefined)[], index: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < index && i < places.length; i++) {
    const s = places[i]?.step;
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

/** What the new step `name` depends on, and the sentence that says why. */
export interface NewStepDependencies {
  prev: string[];
  /** For the person: "after features (it reads X_train_s, y_train)". */
  because: string;
}

/**
 * The dependencies of the new step `name` from `graph` (the notebook compiled with the new step tagged and no
 * `prev:`): the earlier steps its inputs come from; none of those: the step above, if any.
 */
export function newStepDependencies(graph: StepGraph | undefined, name: string, earlier: readonly string[], above: string | undefined): NewStepDependencies {
  const step = graph?.steps.find((s) => s.name === name);
  const reads = new Map<string, string[]>();
  for (const [input, from] of Object.entries(step?.inputSources ?? {})) {
    if (from === name || !earlier.includes(from)) continue;
    reads.set(from, [...(reads.get(from) ?? []), input]);
  }
  if (reads.size) {
    const prev = earlier.filter((s) => reads.has(s));
    const parts = prev.map((s) => `${s} (it reads ${reads.get(s)!.sort().join(', ')})`);
    return { prev, because: `after ${parts.join(' and ')}` };
  }
  if (above && above !== name) return { prev: [above], because: `after ${above}, the step above (it reads nothing earlier steps make)` };
  return { prev: [], because: 'first in the pipeline (it reads nothing earlier steps make)' };
}
