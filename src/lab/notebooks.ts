/**
 * The notebooks open in JupyterLab, each with its `PipelineModel` and the views cellpipe draws on it (chips and
 * inline logs, run outputs under cells). Made when a notebook opens, disposed with it.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { CellpipeAPI } from './api.js';
import { goToCell, openFullLog } from './navigation.js';
import { PipelineModel } from './pipeline.js';
import { ReferencedNotebooks } from './model/referenced.js';
import { RunOutputsModel } from './runOutputs.js';
import type { CellpipeSettings } from './tokens.js';
import { NotebookDecorations } from './widgets/decorations.js';
import { RunOutputsView } from './widgets/runOutputs.js';

/** One open notebook as cellpipe holds it. */
export interface OpenNotebook {
  model: PipelineModel;
  decorations: NotebookDecorations;
  outputs: RunOutputsView;
}

export class OpenNotebooks {
  constructor(
    private readonly app: JupyterFrontEnd,
    readonly tracker: INotebookTracker,
    private readonly api: CellpipeAPI,
    /** The settings in force (read whenever a view needs them). */
    private readonly settings: () => CellpipeSettings,
    /** Edits a cell's tags (the tag editor); the chips open it. */
    private readonly editTags: (panel: NotebookPanel, cellIndex: number) => void,
  ) {
    // Kale 2.3's notebook: cells: referenced notebooks are read through the contents API, and read again (and the
    // open notebooks recompiled) when one is saved, renamed or deleted.
    this.referenced = new ReferencedNotebooks(
      async (p) => (await app.serviceManager.contents.get(p, { content: true })).content as object,
      () => this.entries.forEach(({ model }) => model.scheduleCompile()),
    );
    app.serviceManager.contents.fileChanged.connect((_c, change) => {
      for (const m of [change.oldValue, change.newValue]) if (m?.path && this.referenced.has(m.path)) this.referenced.refresh(m.path);
    });
  }

  private readonly referenced: ReferencedNotebooks;

  /** The notebook's entry, made on first sight. */
  attach(panel: NotebookPanel): OpenNotebook {
    const known = this.entries.get(panel);
    if (known) return known;
    const model = new PipelineModel(panel, this.api, () => ({ defaultBaseImage: this.settings().defaultBaseImage, readNotebook: this.referenced.reader(panel.context.path) }));
    const runOutputs = new RunOutputsModel(model);
    let outputs: RunOutputsView | undefined;
    const decorations = new NotebookDecorations(panel, model, {
      editTags: (i) => this.editTags(panel, i),
      openFullLog: (runId, step) => openFullLog(this.app, this.api, runId, model.recordedStep(step), model.path),
      goToCell: (i, line) => void goToCell(this.app, panel, i, line),
      inlineLogs: () => this.settings().inlineLogs,
      outputsShown: (step) => (outputs?.mode ?? this.settings().cellOutputs) === 'run' && runOutputs.showsAllPrints(step),
    });
    outputs = new RunOutputsView(panel, model, runOutputs, { goToCell: (i, line) => void goToCell(this.app, panel, i, line) }, this.settings().cellOutputs);
    // The logs fold and drop the prints once the outputs show them (and unfold when the kernel's are shown instead).
    runOutputs.changed.connect(() => decorations.renderLogs());
    outputs.modeChanged.connect(() => decorations.renderLogs());
    const entry = { model, decorations, outputs };
    this.entries.set(panel, entry);
    panel.disposed.connect(() => {
      outputs.dispose();
      runOutputs.dispose();
      decorations.dispose();
      model.dispose();
      this.entries.delete(panel);
    });
    return entry;
  }

  get(panel: NotebookPanel): OpenNotebook | undefined {
    return this.entries.get(panel);
  }

  /** The entry of the notebook JupyterLab considers current (the one commands act on). */
  current(): (OpenNotebook & { panel: NotebookPanel }) | undefined {
    const panel = this.tracker.currentWidget;
    return panel ? { ...this.attach(panel), panel } : undefined;
  }

  byPath(path: string): OpenNotebook | undefined {
    return Array.from(this.entries.values()).find((e) => e.model.path === path);
  }

  all(): OpenNotebook[] {
    return Array.from(this.entries.values());
  }

  private readonly entries = new Map<NotebookPanel, OpenNotebook>();
}
