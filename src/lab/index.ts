/**
 * cellpipe's JupyterLab plugin: cell tagging (chips, editor, commands), compiler diagnostics on cells,
 * the pipeline sidebar, and inline step logs. One `PipelineModel` per open notebook holds the state;
 * views follow its signals.
 */
import { ILabShell, ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { cellLabel } from '../core/notebook.js';
import { CELLPIPE_VERSION } from '../core/version.generated.js';
import { CellpipeAPI, ResponseError } from './api.js';
import { PipelineModel } from './pipeline.js';
import { NotebookDecorations } from './widgets/decorations.js';
import { RunOutputsModel } from './runOutputs.js';
import { RunOutputsView } from './widgets/runOutputs.js';
import { PipelineSidebar } from './widgets/sidebar.js';
import { editTagsDialog } from './widgets/tagEditor.js';
import { createLogTab } from './widgets/logTab.js';
import { compareTabId, createCompareTab } from './widgets/compare.js';
import { CommandIDs, DEFAULT_SETTINGS, PLUGIN_ID, type CellpipeSettings } from './tokens.js';
import { makeStepTags, readTagEdit, renameStep, setRoleTags, suggestStepName, validateTagEdit, writeTags, type RoleChoice } from './model/tags.js';
import { firstCells, stepNames } from './model/cells.js';
import { failingCell } from './model/runOutputs.js';
import { targetOptions, type ProfilesResponse, type TargetOption } from './model/targets.js';
import { versionMismatch } from './model/version.js';

const pipelineIcon = new LabIcon({
  name: 'cellpipe:pipeline',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="2" width="8" height="5" rx="1.5"/><rect x="13" y="9.5" width="8" height="5" rx="1.5"/><rect x="3" y="17" width="8" height="5" rx="1.5"/>' +
    '<path d="M7 7v2.5h6v1.5H6V7zM13 13v1H8v3H6.5v-4.5z"/></g></svg>',
});

const tagIcon = new LabIcon({
  name: 'cellpipe:tag',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" ' +
    'd="M3 3h8l10 10-8 8L3 11zm4 2.5A1.5 1.5 0 1 0 7 8.5 1.5 1.5 0 0 0 7 5.5z"/></svg>',
});

const ROLES: Exclude<RoleChoice, 'step'>[] = ['none', 'imports', 'functions', 'pipeline-parameters', 'pipeline-metrics', 'skip'];

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Tag notebook cells as pipeline steps, run the pipeline and watch every step\'s logs inline.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILabShell, ICommandPalette, ISettingRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null,
  ) => {
    const api = new CellpipeAPI();
    let settings: CellpipeSettings = { ...DEFAULT_SETTINGS };
    const models = new Map<NotebookPanel, { model: PipelineModel; decorations: NotebookDecorations; outputs: RunOutputsView }>();

    const goToCell = async (panel: NotebookPanel, index: number, line?: number) => {
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
    };

    const openFullLog = (runId: string, step: string, notebook: string) => {
      const id = `cellpipe-log-${runId}-${step}`;
      const open = Array.from(app.shell.widgets('main')).find((w) => w.id === id);
      if (open) return app.shell.activateById(id);
      app.shell.add(createLogTab(api, runId, step, notebook), 'main', { mode: 'split-right' });
    };

    let targets: TargetOption[] = targetOptions(undefined);
    const sidebar = new PipelineSidebar(
      {
        goToStep: (model, step) => {
          // A failed step of the shown run: where it raised, not where it starts.
          const failed = model.run?.steps.find((s) => s.name === step);
          const raisedAt = failed ? failingCell(failed, model.cells()) : undefined;
          if (raisedAt !== undefined) return void goToCell(model.panel, raisedAt, failed?.error?.line);
          const at = firstCells(model.cells(), model.result?.graph).get(step);
          if (at !== undefined) void goToCell(model.panel, at);
        },
        goToCell: (model, cell, line) => void goToCell(model.panel, cell, line),
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
      () => targets,
    );
    sidebar.title.icon = pipelineIcon;
    sidebar.title.caption = 'cellpipe pipeline';
    app.shell.add(sidebar, 'left', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);

    const showTargets = (resp: ProfilesResponse) => {
      targets = targetOptions(resp);
      sidebar.update();
    };
    // With a settings registry the target list comes back from sending the settings (below).
    if (!settingRegistry) void api.profiles().then(showTargets).catch(() => undefined); // no backend: only Local is offered

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

    const attach = (panel: NotebookPanel) => {
      if (models.has(panel)) return;
      const model = new PipelineModel(panel, api, () => ({ defaultBaseImage: settings.defaultBaseImage }));
      const decorations = new NotebookDecorations(panel, model, {
        editTags: (i) => void editTags(panel, i),
        openFullLog: (runId, step) => openFullLog(runId, step, model.path),
        goToCell: (i, line) => void goToCell(panel, i, line),
        inlineLogs: () => settings.inlineLogs,
      });
      const runOutputs = new RunOutputsModel(model);
      const outputs = new RunOutputsView(panel, model, runOutputs, { goToCell: (i, line) => void goToCell(panel, i, line) }, settings.cellOutputs);
      models.set(panel, { model, decorations, outputs });
      panel.disposed.connect(() => {
        outputs.dispose();
        runOutputs.dispose();
        decorations.dispose();
        model.dispose();
        models.delete(panel);
        if (tracker.currentWidget === null) sidebar.setModel(null);
      });
    };
    tracker.widgetAdded.connect((_, panel) => attach(panel));
    tracker.forEach(attach);
    const follow = () => {
      const panel = tracker.currentWidget;
      if (panel) attach(panel);
      sidebar.setModel(panel ? models.get(panel)!.model : null);
    };
    tracker.currentChanged.connect(follow);
    follow();

    let lastOutputsMode: CellpipeSettings['cellOutputs'] = DEFAULT_SETTINGS.cellOutputs;
    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then((s) => {
        const apply = () => {
          settings = { ...DEFAULT_SETTINGS, ...(s.composite as Partial<CellpipeSettings>) };
          const outputsMode = (s.composite as Partial<CellpipeSettings>).cellOutputs === 'kernel' ? 'kernel' : 'run';
          const changedMode = outputsMode !== lastOutputsMode;
          lastOutputsMode = outputsMode;
          for (const { model, decorations, outputs } of models.values()) {
            model.compileNow();
            decorations.renderLogs();
            if (changedMode) outputs.setMode(outputsMode);
          }
          sidebar.update();
          // The backend runs with these settings too; its answer is the target list under them.
          const { profiles, runsDir, concurrency, defaultBaseImage } = settings;
          void api
            .putSettings({ profiles, runsDir, concurrency, defaultBaseImage })
            .then(showTargets)
            .catch((err: unknown) => {
              const e = ResponseError.from(err);
              sidebar.setStatus({ text: `cellpipe settings not applied: ${e.message}`, hint: e.hint });
            });
        };
        s.changed.connect(apply);
        apply();
      }, (err: unknown) => console.warn('cellpipe: settings not loaded', err));
    }

    /** The notebook and cell index a command acts on. */
    const target = (args: Record<string, unknown>) => {
      const panel = tracker.currentWidget;
      if (!panel || !panel.content.model) return undefined;
      const index = typeof args.cellIndex === 'number' ? args.cellIndex : panel.content.activeCellIndex;
      const cell = panel.content.widgets[index];
      if (!cell) return undefined;
      return { panel, index, cell };
    };
    const tagsOf = (panel: NotebookPanel, i: number): string[] => {
      const t = panel.content.model!.cells.get(i).getMetadata('tags');
      return Array.isArray(t) ? (t as string[]) : [];
    };
    const setTags = (panel: NotebookPanel, i: number, tags: string[]) => {
      const cell = panel.content.model!.cells.get(i);
      if (tags.length) cell.setMetadata('tags', tags);
      else cell.deleteMetadata('tags');
    };

    const editTags = async (panel: NotebookPanel, index: number) => {
      const model = models.get(panel)?.model;
      if (!model || !panel.content.model) return;
      const before = tagsOf(panel, index);
      const initial = readTagEdit(before);
      const steps = stepNames(model.cells());
      const step = model.places()[index]?.step;
      const files = model.result?.graph?.steps.find((s) => s.name === step)?.files ?? [];
      const edit = await editTagsDialog(`Pipeline tags of ${cellLabel(index)}`, initial, steps, (s) => model.stepColor(s), files);
      if (!edit) return;
      const cells = panel.content.model.cells;
      const renamedFrom = initial.role === 'step' && edit.role === 'step' ? initial.step : '';
      const renamedTo = edit.step.trim();
      if (renamedFrom && renamedTo && renamedFrom !== renamedTo && !steps.includes(renamedTo)) {
        // A rename: every cell of the step and every prev: naming it follow.
        const all = Array.from({ length: cells.length }, (_, i) => tagsOf(panel, i));
        const renamed = renameStep(all, renamedFrom, renamedTo);
        renamed.forEach((tags, i) => i !== index && tags !== all[i] && setTags(panel, i, tags));
      }
      setTags(panel, index, writeTags(before, edit));
      model.compileNow();
    };

    app.commands.addCommand(CommandIDs.editTags, {
      label: 'Edit Pipeline Tags…',
      caption: 'cellpipe: role, step name, dependencies and options of this cell',
      icon: tagIcon,
      isEnabled: () => !!tracker.currentWidget,
      execute: async (args) => {
        const t = target(args);
        if (t) await editTags(t.panel, t.index);
      },
    });

    app.commands.addCommand(CommandIDs.newStep, {
      label: 'Make This Cell a New Pipeline Step…',
      isEnabled: () => !!tracker.currentWidget,
      execute: async (args) => {
        const t = target(args);
        if (!t) return;
        const model = models.get(t.panel)!.model;
        const places = model.places();
        const taken = stepNames(model.cells());
        let name = typeof args.name === 'string' ? args.name : undefined;
        if (!name) {
          const res = await InputDialog.getText({ title: 'New pipeline step', label: 'Step name', text: suggestStepName(taken) });
          if (!res.button.accept || !res.value) return;
          name = res.value.trim();
        }
        const problems = validateTagEdit({ ...readTagEdit([]), role: 'step', step: name });
        if (problems.length) {
          Notification.error(`${cellLabel(t.index)}: ${problems[0].message}`, { autoClose: 6000 });
          return;
        }
        // The step above (if any) becomes the new step's dependency, as the cells ran in that order.
        let above: string | undefined;
        for (let i = t.index - 1; i >= 0 && !above; i--) above = places[i]?.step;
        setTags(t.panel, t.index, makeStepTags(tagsOf(t.panel, t.index), name, above && above !== name ? [above] : []));
        model.compileNow();
      },
    });

    app.commands.addCommand(CommandIDs.joinAbove, {
      label: 'Join the Pipeline Step Above',
      isEnabled: () => !!tracker.currentWidget,
      execute: (args) => {
        const t = target(args);
        if (!t) return;
        setTags(t.panel, t.index, setRoleTags(tagsOf(t.panel, t.index), 'none'));
        models.get(t.panel)!.model.compileNow();
      },
    });

    app.commands.addCommand(CommandIDs.skipCell, {
      label: 'Skip Cell in the Pipeline',
      isEnabled: () => !!tracker.currentWidget,
      execute: (args) => {
        const t = target(args);
        if (!t) return;
        setTags(t.panel, t.index, setRoleTags(tagsOf(t.panel, t.index), 'skip'));
        models.get(t.panel)!.model.compileNow();
      },
    });

    app.commands.addCommand(CommandIDs.setRole, {
      label: (args) => (args.role ? `Set Pipeline Role: ${String(args.role)}` : 'Set Pipeline Role'),
      isEnabled: () => !!tracker.currentWidget,
      execute: (args) => {
        const t = target(args);
        const role = String(args.role ?? '') as Exclude<RoleChoice, 'step'>;
        if (!t || !ROLES.includes(role)) return;
        setTags(t.panel, t.index, setRoleTags(tagsOf(t.panel, t.index), role));
        models.get(t.panel)!.model.compileNow();
      },
    });

    app.commands.addCommand(CommandIDs.run, {
      label: 'Run Pipeline Locally',
      isEnabled: () => !!tracker.currentWidget,
      execute: async () => {
        const panel = tracker.currentWidget;
        if (panel) await models.get(panel)?.model.start();
      },
    });
    app.commands.addCommand(CommandIDs.cancel, {
      label: 'Cancel Pipeline Run',
      isEnabled: () => !!tracker.currentWidget,
      execute: async () => {
        const panel = tracker.currentWidget;
        if (panel) await models.get(panel)?.model.cancel();
      },
    });
    app.commands.addCommand(CommandIDs.toggleRunOutputs, {
      label: () => {
        const panel = tracker.currentWidget;
        const view = panel ? models.get(panel)?.outputs : undefined;
        return view?.mode === 'kernel' ? 'Show the Pipeline Run\'s Outputs under Cells' : 'Show the Kernel\'s Outputs under Cells';
      },
      isEnabled: () => !!tracker.currentWidget,
      execute: () => {
        const panel = tracker.currentWidget;
        const view = panel ? models.get(panel)?.outputs : undefined;
        view?.setMode(view.mode === 'kernel' ? 'run' : 'kernel');
      },
    });
    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Show Pipeline Sidebar',
      execute: () => app.shell.activateById(sidebar.id),
    });
    app.commands.addCommand(CommandIDs.fullLog, {
      label: 'Open Step Log',
      execute: (args) => openFullLog(String(args.runId), String(args.step), String(args.path ?? '')),
    });

    const commandMode = '.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus';
    app.commands.addKeyBinding({ command: CommandIDs.newStep, keys: ['Shift Alt S'], selector: commandMode });
    app.commands.addKeyBinding({ command: CommandIDs.joinAbove, keys: ['Shift Alt J'], selector: commandMode });
    app.commands.addKeyBinding({ command: CommandIDs.skipCell, keys: ['Shift Alt K'], selector: commandMode });
    app.commands.addKeyBinding({ command: CommandIDs.editTags, keys: ['Shift Alt E'], selector: commandMode });

    if (palette) {
      const category = 'Pipeline (cellpipe)';
      for (const command of [CommandIDs.editTags, CommandIDs.newStep, CommandIDs.joinAbove, CommandIDs.skipCell, CommandIDs.run, CommandIDs.cancel, CommandIDs.openSidebar, CommandIDs.toggleRunOutputs]) {
        palette.addItem({ command, category });
      }
      for (const role of ROLES) palette.addItem({ command: CommandIDs.setRole, args: { role }, category });
    }

    // A small hook for the end-to-end tests and the in-browser benchmark (read-only views of the models).
    (window as unknown as Record<string, unknown>).cellpipeDebug = {
      model: (path: string) => Array.from(models.values()).find((m) => m.model.path === path)?.model,
      rediagnose: (path: string) => {
        const entry = Array.from(models.values()).find((m) => m.model.path === path);
        if (!entry) return undefined;
        const t0 = performance.now();
        entry.model.compileNow();
        return { total: performance.now() - t0, compile: entry.model.lastCompileMs };
      },
    };
  },
};

export default [plugin];
