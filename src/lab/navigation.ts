/** Moving the user's eye: to a cell (and line) of a notebook, and to a step's whole log in a main-area tab. */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { NotebookPanel } from '@jupyterlab/notebook';
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
