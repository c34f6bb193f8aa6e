/**
 * "Reference a notebook…" (the tag editor's button, and a command): JupyterLab's own file dialog picks a notebook,
 * and a Kale 2.3 `notebook:` cell referencing it is inserted below the cell, as one undoable change of the notebook.
 */
import { Notification } from '@jupyterlab/apputils';
import type { IDocumentManager } from '@jupyterlab/docmanager';
import { FileDialog } from '@jupyterlab/filebrowser';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { parseCellTags } from '../core/tags.js';
import { notebookCell } from './model/notebookRef.js';
import type { PipelineModel } from './pipeline.js';

/** The step and unit names the notebook uses now (a new unit's name must be none of them). */
function namesTaken(model: PipelineModel): string[] {
  const names = new Set(model.result?.graph?.steps.map((s) => s.unit?.name ?? s.name) ?? []);
  for (const c of model.cells()) {
    const { tags } = parseCellTags({ index: 0, type: 'code', source: '', tags: [...c.tags] });
    if (tags.notebook) names.add(tags.notebook);
    if (tags.step) names.add(tags.step);
  }
  return [...names];
}

export async function referenceNotebookBelow(manager: IDocumentManager, panel: NotebookPanel, model: PipelineModel, index: number): Promise<void> {
  const nb = panel.content.model;
  if (!nb) return;
  const here = panel.context.path;
  const folder = here.includes('/') ? here.slice(0, here.lastIndexOf('/')) : '';
  const result = await FileDialog.getOpenFiles({
    manager,
    title: 'Reference a notebook',
    label: 'Its steps become steps of this pipeline (a Kale 2.3 notebook: cell below the cell)',
    defaultPath: folder,
    filter: (item) => (item.type === 'notebook' || item.type === 'directory' ? {} : null),
  });
  if (!result.button.accept) return;
  const picked = (result.value ?? []).find((m) => m.type === 'notebook');
  if (!picked) {
    Notification.warning('No notebook was picked: select an .ipynb file to reference', { autoClose: 5000 });
    return;
  }
  if (picked.path === here) {
    Notification.error(`${here} cannot reference itself (a reference cycle): pick another notebook`, { autoClose: 6000 });
    return;
  }
  nb.sharedModel.insertCell(index + 1, notebookCell(here, picked.path, namesTaken(model)));
  panel.content.activeCellIndex = index + 1;
  model.compileNow();
}
