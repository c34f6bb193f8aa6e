/**
 * Writing cellpipe's tag edits into the notebook: through each cell's shared model in an undoable transaction, so
 * Ctrl+Z takes back a skip, a new step or an edit as it takes back any change to the cell.
 */
import { InputDialog, Notification } from '@jupyterlab/apputils';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { cellLabel } from '../core/notebook.js';
import { stepNames } from './model/cells.js';
import { newStepDependencies, stepsBefore } from './model/newStep.js';
import { makeStepTags, readTagEdit, renameStep, setRoleTags, suggestStepName, validateTagEdit, writeTags, type RoleChoice } from './model/tags.js';
import type { PipelineModel } from './pipeline.js';
import { editTagsDialog } from './widgets/tagEditor.js';

/** A cell's tags as the notebook holds them. */
export function tagsOf(panel: NotebookPanel, index: number): string[] {
  const t = panel.content.model!.cells.get(index).getMetadata('tags');
  return Array.isArray(t) ? (t as string[]) : [];
}

/**
 * Sets the tags of cells (index → tags), each as one step of that cell's undo history — JupyterLab keeps one
 * history per cell, and Ctrl+Z in a notebook undoes the active cell's last change. A cell's own `setMetadata` is
 * not undoable (it writes under no tracked origin); inside the cell's undoable transaction it joins that one,
 * which the cell's undo manager tracks.
 */
export function setTagsUndoably(panel: NotebookPanel, changes: ReadonlyMap<number, string[]>): void {
  const nb = panel.content.model;
  if (!nb) return;
  for (const [i, tags] of changes) {
    const cell = nb.cells.get(i);
    // A separate undo step: not merged with typing in the cell just before or after. (The Yjs cell has an undo
    // manager; the interface does not promise one.)
    const undo = (cell.sharedModel as { undoManager?: { stopCapturing(): void } | null }).undoManager;
    undo?.stopCapturing();
    cell.sharedModel.transact(() => {
      if (tags.length) cell.setMetadata('tags', tags);
      else cell.deleteMetadata('tags');
    }, true);
    undo?.stopCapturing();
  }
}

export function setTags(panel: NotebookPanel, index: number, tags: string[]): void {
  setTagsUndoably(panel, new Map([[index, tags]]));
}

/** Gives a cell a role (not `step`): `skip`, `imports`, none (joins the step above) … */
export function setRole(panel: NotebookPanel, model: PipelineModel, index: number, role: Exclude<RoleChoice, 'step'>): void {
  setTags(panel, index, setRoleTags(tagsOf(panel, index), role));
  model.compileNow();
}

/**
 * Opens the tag editor on a cell and writes what the user chose; renaming a step renames it everywhere. Answers
 * `'reference-notebook'` when the user asked to insert a `notebook:` cell below instead (the caller has the file picker).
 */
export async function editTags(panel: NotebookPanel, model: PipelineModel, index: number): Promise<'reference-notebook' | void> {
  if (!panel.content.model) return;
  const before = tagsOf(panel, index);
  const initial = readTagEdit(before);
  // Depends on offers the steps that start above the cell (and keeps any prev: the cell already has).
  const steps = [...new Set([...stepsBefore(model.places(), index), ...initial.prev])];
  const step = model.places()[index]?.step;
  const files = model.result?.graph?.steps.find((s) => s.name === step)?.files ?? [];
  const edit = await editTagsDialog(`Pipeline tags of ${cellLabel(index)}`, initial, steps, (s) => model.stepColor(s), files);
  if (!edit) return;
  if (edit === 'reference-notebook') return edit;
  const changes = new Map<number, string[]>();
  const renamedFrom = initial.role === 'step' && edit.role === 'step' ? initial.step : '';
  const renamedTo = edit.step.trim();
  if (renamedFrom && renamedTo && renamedFrom !== renamedTo && !steps.includes(renamedTo)) {
    // A rename: every cell of the step and every prev: naming it follow.
    const count = panel.content.model.cells.length;
    const all = Array.from({ length: count }, (_, i) => tagsOf(panel, i));
    renameStep(all, renamedFrom, renamedTo).forEach((tags, i) => i !== index && tags !== all[i] && changes.set(i, tags));
  }
  changes.set(index, writeTags(before, edit));
  setTagsUndoably(panel, changes);
  model.compileNow();
}

/**
 * Makes a cell the first of a new step (`name`, or asked for), depending on the earlier steps whose data it reads
 * (else on the step above), and says so.
 */
export async function newStep(panel: NotebookPanel, model: PipelineModel, index: number, name?: string): Promise<void> {
  const places = model.places();
  const taken = stepNames(model.cells());
  if (!name) {
    const res = await InputDialog.getText({ title: 'New pipeline step', label: 'Step name', text: suggestStepName(taken) });
    if (!res.button.accept || !res.value) return;
    name = res.value.trim();
  }
  const problems = validateTagEdit({ ...readTagEdit([]), role: 'step', step: name });
  if (problems.length) {
    Notification.error(`${cellLabel(index)}: ${problems[0].message}`, { autoClose: 6000 });
    return;
  }
  let above: string | undefined;
  for (let i = index - 1; i >= 0 && !above; i--) above = places[i]?.step;
  const bare = makeStepTags(tagsOf(panel, index), name, []);
  const deps = newStepDependencies(model.compileWithTags(new Map([[index, bare]])).graph, name, stepsBefore(places, index), above);
  setTags(panel, index, makeStepTags(tagsOf(panel, index), name, deps.prev));
  model.compileNow();
  Notification.info(`${cellLabel(index)} is step ${name}, ${deps.because}: change it in Depends on (Shift+Alt+E)`, { autoClose: 6000 });
}
