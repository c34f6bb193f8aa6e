/**
 * cellpipe's commands (tagging, running, showing), their keyboard shortcuts and their palette entries. Menus and
 * toolbar buttons that only name a command are declared in schema/plugin.json.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { IDocumentManager } from '@jupyterlab/docmanager';
import { referenceNotebookBelow } from './referenceNotebook.js';
import { openFullLog } from './navigation.js';
import type { OpenNotebooks } from './notebooks.js';
import { editTags, newStep, setRole } from './tagEdits.js';
import { pipelineIcon, tagIcon } from './icons.js';
import { CONTAINERS_TARGET, LOCAL_TARGET } from './model/targets.js';
import { CommandIDs } from './tokens.js';
import type { CellpipeAPI } from './api.js';
import type { RoleChoice } from './model/tags.js';
import { isTerminal } from './model/runs.js';

const ROLES: Exclude<RoleChoice, 'step'>[] = ['none', 'imports', 'functions', 'pipeline-parameters', 'pipeline-metrics', 'skip'];

/** What the commands act on and with. */
export interface CommandContext {
  app: JupyterFrontEnd;
  api: CellpipeAPI;
  notebooks: OpenNotebooks;
  /** The sidebar's id, to show it. */
  sidebarId: string;
  /** The target picked in the sidebar. */
  target(): string;
  /** JupyterLab's document manager (for the file dialog of "Reference a notebook"), when there is one. */
  docManager?: IDocumentManager | null;
}

/** The Run command's label: what the sidebar's button says, and where. */
export function runCommandLabel(target: string): string {
  return target === LOCAL_TARGET ? 'Run Pipeline' : target === CONTAINERS_TARGET ? 'Build & Run Pipeline in Containers' : `Build & Submit Pipeline to ${target}`;
}

/** The current notebook and the cell a command acts on (arg `cellIndex`, default the active cell). */
function cellTarget(notebooks: OpenNotebooks, args: Record<string, unknown>) {
  const nb = notebooks.current();
  if (!nb || !nb.panel.content.model) return undefined;
  const index = typeof args.cellIndex === 'number' ? args.cellIndex : nb.panel.content.activeCellIndex;
  if (!nb.panel.content.widgets[index]) return undefined;
  return { ...nb, index };
}

function addTagCommands({ app, notebooks, docManager }: CommandContext): void {
  const hasNotebook = () => !!notebooks.tracker.currentWidget;
  app.commands.addCommand(CommandIDs.editTags, {
    label: 'Edit Pipeline Tags…',
    caption: 'cellpipe: role, step name, dependencies and options of this cell',
    icon: tagIcon,
    isEnabled: hasNotebook,
    execute: async (args) => {
      const t = cellTarget(notebooks, args);
      if (t && (await editTags(t.panel, t.model, t.index)) === 'reference-notebook') {
        await app.commands.execute(CommandIDs.referenceNotebook, { cellIndex: t.index });
      }
    },
  });
  app.commands.addCommand(CommandIDs.referenceNotebook, {
    label: 'Reference a Notebook Below (notebook: cell)…',
    caption: 'cellpipe: pick a notebook whose steps become steps of this pipeline (Kale 2.3 composition)',
    isEnabled: () => hasNotebook() && !!docManager,
    execute: async (args) => {
      const t = cellTarget(notebooks, args);
      if (t && docManager) await referenceNotebookBelow(docManager, t.panel, t.model, t.index);
    },
  });
  app.commands.addCommand(CommandIDs.newStep, {
    label: 'Make This Cell a New Pipeline Step…',
    isEnabled: hasNotebook,
    execute: async (args) => {
      const t = cellTarget(notebooks, args);
      if (t) await newStep(t.panel, t.model, t.index, typeof args.name === 'string' ? args.name : undefined);
    },
  });
  const roleCommand = (id: string, label: string, role: Exclude<RoleChoice, 'step'>) =>
    app.commands.addCommand(id, {
      label,
      isEnabled: hasNotebook,
      execute: (args) => {
        const t = cellTarget(notebooks, args);
        if (t) setRole(t.panel, t.model, t.index, role);
      },
    });
  roleCommand(CommandIDs.joinAbove, 'Join the Pipeline Step Above', 'none');
  roleCommand(CommandIDs.skipCell, 'Skip Cell in the Pipeline', 'skip');
  app.commands.addCommand(CommandIDs.setRole, {
    label: (args) => (args.role ? `Set Pipeline Role: ${String(args.role)}` : 'Set Pipeline Role'),
    isEnabled: hasNotebook,
    execute: (args) => {
      const t = cellTarget(notebooks, args);
      const role = String(args.role ?? '') as Exclude<RoleChoice, 'step'>;
      if (t && ROLES.includes(role)) setRole(t.panel, t.model, t.index, role);
    },
  });
}

function addRunCommands({ app, api, notebooks, sidebarId, target }: CommandContext): void {
  const hasNotebook = () => !!notebooks.tracker.currentWidget;
  app.commands.addCommand(CommandIDs.run, {
    label: () => runCommandLabel(target()),
    caption: () => `cellpipe: save the notebook and ${target() === LOCAL_TARGET ? 'run its pipeline on this machine' : `run its pipeline on ${target()}`} (the target picked in the pipeline sidebar)`,
    icon: pipelineIcon,
    isEnabled: () => {
      const model = notebooks.current()?.model;
      return !!model && !model.busy;
    },
    execute: async () => {
      const nb = notebooks.current();
      if (!nb) return;
      // Where the run shows: the sidebar (its state, the graph, the history), opened if it was closed.
      app.shell.activateById(sidebarId);
      await nb.model.start(target());
    },
  });
  app.commands.addCommand(CommandIDs.cancel, {
    label: 'Cancel Pipeline Run',
    isEnabled: () => {
      const run = notebooks.current()?.model.run;
      return !!run && !isTerminal(run.state);
    },
    execute: async () => {
      await notebooks.current()?.model.cancel();
    },
  });
  app.commands.addCommand(CommandIDs.toggleRunOutputs, {
    label: () => (notebooks.current()?.outputs.mode === 'kernel' ? 'Show the Pipeline Run\'s Outputs under Cells' : 'Show the Kernel\'s Outputs under Cells'),
    isEnabled: hasNotebook,
    execute: () => {
      const view = notebooks.current()?.outputs;
      view?.setMode(view.mode === 'kernel' ? 'run' : 'kernel');
    },
  });
  app.commands.addCommand(CommandIDs.openSidebar, {
    label: 'Show Pipeline Sidebar',
    execute: () => app.shell.activateById(sidebarId),
  });
  app.commands.addCommand(CommandIDs.fullLog, {
    label: 'Open Step Log',
    execute: (args) => openFullLog(app, api, String(args.runId), String(args.step), String(args.path ?? '')),
  });
}

/** Registers every command, the tagging shortcuts (command mode, as JupyterLab's own cell shortcuts) and the palette. */
export function addCommands(ctx: CommandContext, palette: ICommandPalette | null): void {
  addTagCommands(ctx);
  addRunCommands(ctx);
  const { commands } = ctx.app;
  const commandMode = '.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus';
  commands.addKeyBinding({ command: CommandIDs.newStep, keys: ['Shift Alt S'], selector: commandMode });
  commands.addKeyBinding({ command: CommandIDs.joinAbove, keys: ['Shift Alt J'], selector: commandMode });
  commands.addKeyBinding({ command: CommandIDs.skipCell, keys: ['Shift Alt K'], selector: commandMode });
  commands.addKeyBinding({ command: CommandIDs.editTags, keys: ['Shift Alt E'], selector: commandMode });
  // Run the pipeline from anywhere in the notebook, editing or not (Alt keeps it clear of what typing inserts).
  commands.addKeyBinding({ command: CommandIDs.run, keys: ['Shift Alt R'], selector: '.jp-Notebook' });
  if (!palette) return;
  const category = 'Pipeline (cellpipe)';
  for (const command of [CommandIDs.editTags, CommandIDs.referenceNotebook, CommandIDs.newStep, CommandIDs.joinAbove, CommandIDs.skipCell, CommandIDs.run, CommandIDs.cancel, CommandIDs.openSidebar, CommandIDs.toggleRunOutputs]) {
    palette.addItem({ command, category });
  }
  for (const role of ROLES) palette.addItem({ command: CommandIDs.setRole, args: { role }, category });
}
