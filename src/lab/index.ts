/**
 * cellpipe's JupyterLab plugin: cell tagging (chips, editor, commands), compiler diagnostics on cells,
 * the pipeline sidebar, and inline step logs. One `PipelineModel` per open notebook holds the state;
 * views follow its signals. The parts: notebooks.ts (the open notebooks and their views), commands.ts,
 * settings.ts, tagEdits.ts, navigation.ts; this file wires them.
 */
import { ILabShell, ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { referenceNotebookBelow } from './referenceNotebook.js';
import { CELLPIPE_VERSION } from '../core/version.generated.js';
import { CellpipeAPI, ResponseError } from './api.js';
import { addCommands } from './commands.js';
import { pipelineIcon } from './icons.js';
import { firstCells } from './model/cells.js';
import { failingCell } from './model/runOutputs.js';
import { targetOptions, type ProfilesResponse, type TargetOption } from './model/targets.js';
import { versionMismatch } from './model/version.js';
import { goToCell, openReferenced, referencedStepOrigin } from './navigation.js';
import { OpenNotebooks } from './notebooks.js';
import { followSettings } from './settings.js';
import { editTags } from './tagEdits.js';
import { CommandIDs, DEFAULT_SETTINGS, PLUGIN_ID, type CellpipeSettings } from './tokens.js';
import { compareTabId, createCompareTab } from './widgets/compare.js';
import { PipelineSidebar } from './widgets/sidebar.js';

/** The sidebar and what its buttons do. */
function createSidebar(app: JupyterFrontEnd, api: CellpipeAPI, targets: () => TargetOption[]): PipelineSidebar {
  const sidebar = new PipelineSidebar(
    {
      goToStep: (model, step) => {
        // A referenced notebook's step: its first cell there.
        const origin = referencedStepOrigin(model.result, step);
        if (origin) return void openReferenced(app, model.path, origin.notebook, origin.index);
        // A failed step of the shown run: where it raised, not where it starts.
        const failed = model.run?.steps.find((s) => s.name === step);
        const raisedAt = failed ? failingCell(failed, model.cells()) : undefined;
        if (raisedAt !== undefined) return void goToCell(app, model.panel, raisedAt, failed?.error?.line);
        const at = firstCells(model.cells(), model.result?.graph).get(step);
        if (at !== undefined) void goToCell(app, model.panel, at);
      },
      goToCell: (model, cell, line) => void goToCell(app, model.panel, cell, line),
      openNotebook: (path) => void app.commands.execute('docmanager:open', { path }),
      openReferenced: (model, notebook) => void openReferenced(app, model.path, notebook),
      compare: (model, runIds) => {
        const id = compareTabId(runIds);
        if (Array.from(app.shell.widgets('main')).some((w) => w.id === id)) return app.shell.activateById(id);
        app.shell.add(createCompareTab(model, runIds), 'main', { mode: 'split-right' });
      },
      exportRun: async (model, run) => {
        try {
          const out = await api.exportRun(run.id, model.path);
          await app.commands.execute('docmanager:open', { path: out.path });
          Notification.success(`${out.path}: ${out.filled} cell${out.filled === 1 ? '' : 's'} with outputs from run ${run.id}${out.notes.length ? ` (${out.notes.join('; ')})` : ''}`, { autoClose: 6000 });
        } catch (err) {
          const e = ResponseError.from(err);
          sidebar.setStatus({ text: e.message, hint: e.hint });
        }
      },
    },
    targets,
  );
  sidebar.title.icon = pipelineIcon;
  sidebar.title.caption = 'cellpipe pipeline';
  return sidebar;
}

/** Says so in the sidebar when the backend is missing or of another version than the page. */
function checkBackend(api: CellpipeAPI, sidebar: PipelineSidebar): void {
  void api.health().then(
    (backend) => {
      const mismatch = versionMismatch(CELLPIPE_VERSION, backend.version);
      if (mismatch) sidebar.setStatus(mismatch);
    },
    (err: unknown) => {
      const e = ResponseError.from(err);
      sidebar.setStatus({ text: e.message, hint: e.hint });
    },
  );
}

function activate(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  _labShell: ILabShell | null,
  palette: ICommandPalette | null,
  settingRegistry: ISettingRegistry | null,
  restorer: ILayoutRestorer | null,
  docManager: IDocumentManager | null,
): void {
  const api = new CellpipeAPI();
  let settings: CellpipeSettings = { ...DEFAULT_SETTINGS };
  let targets: TargetOption[] = targetOptions(undefined);
  const notebooks = new OpenNotebooks(app, tracker, api, () => settings, (panel, i) => {
    const model = notebooks.get(panel)?.model;
    if (!model) return;
    void editTags(panel, model, i).then((asked) => {
      if (asked === 'reference-notebook' && docManager) void referenceNotebookBelow(docManager, panel, model, i);
    });
  });
  const sidebar = createSidebar(app, api, () => targets);
  app.shell.add(sidebar, 'left', { rank: 600 });
  restorer?.add(sidebar, sidebar.id);
  const showTargets = (resp: ProfilesResponse) => {
    targets = targetOptions(resp);
    sidebar.update();
    app.commands.notifyCommandChanged(CommandIDs.run); // the picked target may have gone
  };
  sidebar.profilesChanged.connect((_, resp) => showTargets(resp));
  // With a settings registry the target list comes back from sending the settings (followSettings).
  if (!settingRegistry) void api.profiles().then(showTargets).catch(() => undefined); // no backend: only Local is offered
  checkBackend(api, sidebar);

  addCommands({ app, api, notebooks, sidebarId: sidebar.id, target: () => sidebar.target, docManager }, palette);
  // The Run menu, the toolbar button and the palette follow the run's state and the picked target.
  const runCommandsChanged = () => {
    app.commands.notifyCommandChanged(CommandIDs.run);
    app.commands.notifyCommandChanged(CommandIDs.cancel);
  };
  sidebar.targetChanged.connect(runCommandsChanged);
  const track = (panel: NotebookPanel) => {
    notebooks.attach(panel).model.runChanged.connect(runCommandsChanged);
    panel.disposed.connect(() => tracker.currentWidget === null && sidebar.setModel(null));
  };
  tracker.widgetAdded.connect((_, panel) => track(panel));
  tracker.forEach(track);
  const follow = () => {
    sidebar.setModel(notebooks.current()?.model ?? null);
    runCommandsChanged();
  };
  tracker.currentChanged.connect(follow);
  follow();

  if (settingRegistry) {
    followSettings(settingRegistry, {
      api,
      notebooks,
      set: (s) => (settings = s),
      showTargets,
      status: (s) => sidebar.setStatus(s),
      redraw: () => sidebar.update(),
    }).catch((err: unknown) => console.warn('cellpipe: settings not loaded', err));
  }

  // A small hook for the end-to-end tests and the in-browser benchmark (read-only views of the models).
  (window as unknown as Record<string, unknown>).cellpipeDebug = {
    model: (path: string) => notebooks.byPath(path)?.model,
    rediagnose: (path: string) => {
      const entry = notebooks.byPath(path);
      if (!entry) return undefined;
      const t0 = performance.now();
      entry.model.compileNow();
      return { total: performance.now() - t0, compile: entry.model.lastCompileMs };
    },
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Tag notebook cells as pipeline steps, run the pipeline and watch every step\'s logs inline.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILabShell, ICommandPalette, ISettingRegistry, ILayoutRestorer, IDocumentManager],
  activate,
};

export default [plugin];
