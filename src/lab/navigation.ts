/** Moving the user's eye: to a cell (and line) of a notebook, and to a step's whole log in a main-area tab. */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { NotebookPanel } from '@jupyterlab/notebook';
import type { CompileResult } from '../core/compile.js';
import { referencedPath } from './model/referenced.js';
import type { CellpipeAPI } from './api.js';
import { createLogTab } from './widgets/logTab.js';

/** Activates the notebook, selects cell `index`, scrolls it to the top, flashes it and puts the cursor on `line` (1-based). */
export async function goToCell(app: JupyterFrontEnd, panel: NotebookPanel, index: number, line?: number): Promise<void> {
  app.shell.activateById(panel.id);
  const nb = panel.content;
  if (index < 0 || index >= nb.widgets.length) return;
  nb.activeCellIndex = index;
  nb.deselectAll();
  await nb.scrollToItem(index, 'start');
  const cell = nb.widgets[index];
  cell.node.classList.add('cp-flash');
  setTimeout(() => cell.node.classList.remove('cp-flash'), 1200);
  if (line !== undefined && cell.editor) {
    cell.editor.setCursorPosition({ line: Math.max(0, line - 1), column: 0 });
    cell.editor.focus();
  }
}

/** Opens (or brings forward) the tab with one step's whole log. */
export function openFullLog(app: JupyterFrontEnd, api: CellpipeAPI, runId: string, step: string, notebook: string): void {
  const id = `cellpipe-log-${runId}-${step}`;
  const open = Array.from(app.shell.widgets('main')).find((w) => w.id === id);
  if (open) return app.shell.activateById(id);
  app.shell.add(createLogTab(api, runId, step, notebook), 'main', { mode: 'split-right' });
}

/** Where a step of a referenced notebook (Kale 2.3 composition) starts in that notebook: its path and cell index. */
export function referencedStepOrigin(result: CompileResult | undefined, step: string): { notebook: string; index: number } | undefined {
  const s = result?.graph?.steps.find((x) => x.name === step);
  if (!s?.unit || !s.cells.length) return undefined;
  const origin = result?.notebook?.cells.find((c) => c.index === s.cells[0])?.origin;
  return origin ? { notebook: origin.notebook, index: origin.index } : undefined;
}

/** Opens a notebook that the notebook at `from` references (path relative to its folder), at cell `index` if given. */
export async function openReferenced(app: JupyterFrontEnd, from: string, notebook: string, index?: number): Promise<void> {
  const widget = await app.commands.execute('docmanager:open', { path: referencedPath(from, notebook) });
  if (index === undefined || !(widget instanceof NotebookPanel)) return;
  await widget.context.ready;
  await goToCell(app, widget, index);
}
