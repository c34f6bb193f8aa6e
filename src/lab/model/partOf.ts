/**
 * A referenced notebook (Kale 2.3's `notebook:` cells), opened on its own, shows the runs of the notebooks that
 * composed it: "part of run X of pipeline.ipynb", with its own steps' logs and outputs under its own cells. The
 * backend lists those runs with the units they ran this notebook as; this is the page's view of one (no DOM).
 */
import type { RunRecord, StepRecord } from '../../runs/types.js';

/** A run of another notebook that composed this one, and the unit names its steps of this notebook ran under. */
export interface PartOf {
  run: RunRecord;
  units: string[];
}

/** The run as this notebook shows it: only the steps it ran of this notebook, under their names here. */
export function viewOfComposedRun(run: RunRecord, units: readonly string[]): RunRecord {
  return { ...run, steps: run.steps.filter((s) => s.unit && units.includes(s.unit.name)).map((s) => ({ ...s, name: s.unit!.step })) };
}

/** The name a step shown here has in the run's record (what the backend is asked about). */
export function recordedStepName(step: Pick<StepRecord, 'name' | 'unit'>, composedView: boolean): string {
  return composedView && step.unit ? `${step.unit.name}-${step.unit.step}` : step.name;
}

/** "part of run X of pipeline.ipynb": what the history and the run line say of a composed run. */
export function partOfLabel(run: Pick<RunRecord, 'id' | 'notebook'>): string {
  return `part of run ${run.id} of ${run.notebook.split(/[\\/]/).pop()}`;
}
