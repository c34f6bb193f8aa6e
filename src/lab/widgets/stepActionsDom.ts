/**
 * The debugging actions on the notebook itself (plain DOM, as ./decorations.ts draws): "Run this step" and "Run
 * from here" beside the chip of a step's first cell, and "Load inputs into kernel" on a failed step's inline-log
 * header. Local runs: the chip has no target picker (the sidebar's actions take its target).
 */
import type { PipelineModel } from '../pipeline.js';
import type { RunRecord, StepRecord } from '../../runs/types.js';
import type { CellPlace } from '../model/cells.js';
import { loadStepIntoKernel, startPartialRun } from '../debug.js';
import { partialChoice } from '../model/debug.js';

const CHIP_ACTIONS = 'cp-chip-actions';

function button(className: string, text: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.className = className;
  b.textContent = text;
  b.title = title;
  b.addEventListener('click', (ev) => {
    ev.stopPropagation();
    onClick();
  });
  return b;
}

/** Puts (or removes) the run actions in a cell's chip bar: only the cell that starts a step has them. */
export function renderChipActions(bar: HTMLElement, place: CellPlace | undefined, firstOfStep: boolean, model: PipelineModel): void {
  let box = bar.querySelector<HTMLElement>(`:scope > .${CHIP_ACTIONS}`);
  const step = place?.role === 'step' && firstOfStep ? place.step : undefined;
  if (!step) {
    box?.remove();
    return;
  }
  if (box?.dataset.step === step) return;
  box?.remove();
  box = document.createElement('span');
  box.className = CHIP_ACTIONS;
  box.dataset.step = step;
  box.append(
    button('cp-chip-run-only', '▶ step', `run only '${step}' locally; the other steps take their outputs from the latest run that has them`,
      () => void startPartialRun(model, partialChoice('only', step), 'local')),
    button('cp-chip-run-from', '▶ from here', `run '${step}' and every step after it locally; the steps before take their outputs from the latest run`,
      () => void startPartialRun(model, partialChoice('from', step), 'local')),
  );
  bar.querySelector('.cp-chip')?.after(box);
}

/** "Load inputs into kernel" for a failed step of the shown run: binds what it read, then selects the failing cell. */
export function failedStepAction(step: StepRecord, run: RunRecord, model: PipelineModel, select: (cell: number) => void): HTMLElement | undefined {
  if (step.state !== 'failed') return undefined;
  return button('cp-log-load-inputs', 'Load inputs into kernel',
    `bind the variables '${step.name}' read in run ${run.id} in this notebook's kernel (after its imports/functions cells), then select the cell that raised`,
    () => void loadStepIntoKernel(model, step.name, select, run.id));
}
