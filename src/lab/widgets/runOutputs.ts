/**
 * Under each cell, what that cell showed in the pipeline run the notebook shows ("from run X"), rendered with the
 * notebook's own rendermime registry into an area cellpipe owns; one click switches the whole notebook between the
 * kernel's outputs and the run's. A failed step's cell is marked and gets the error under it: one short line and an
 * expandable traceback.
 *
 * Nothing is written into the notebook model: the kernel's outputs stay as they are (hidden, not removed, while the
 * run's are shown), so saving the notebook never saves a run's outputs.
 */
import { NotebookActions, type NotebookPanel } from '@jupyterlab/notebook';
import type { Cell } from '@jupyterlab/cells';
import { Widget } from '@lumino/widgets';
import { Signal, type ISignal } from '@lumino/signaling';
import { cellLabel } from '../../core/notebook.js';
import type { RunRecord, StepRecord } from '../../runs/types.js';
import type { PipelineModel } from '../pipeline.js';
import type { RunOutputsModel } from '../runOutputs.js';
import { callingCell, editedSince, errorOutputOf, failingCell, mimeBundle, placeRunOutputs, provenance, splitError, type CellRunOutputs, type NbOutput } from '../model/runOutputs.js';
import { isTerminal, stateClass } from '../model/runs.js';
import { metricRows } from '../model/metrics.js';
import { showMetrics } from './metricsCell.js';

const AREA = 'cp-run-outputs';
/** On a cell node: the run's outputs are shown and the kernel's hidden. */
const SHOWING_RUN = 'cp-showing-run';
const FAILED_CELL = 'cp-failed-cell';

function kernelOutputCount(cell: Cell): number {
  return cell.model.type === 'code' ? (cell.model as unknown as { outputs: { length: number } }).outputs.length : 0;
}

export interface RunOutputsActions {
  goToCell(cellIndex: number, line?: number): void;
}

/** What one cell's area shows; the body is rendered again only when this changes. */
interface Shown {
  key: string;
  renderers: Widget[];
}

/** A failed step seen from one cell: the cell that raised (`line` in it), or the step's own cell whose `line`
 * called into it (a function of a `functions` cell); `other` is the other end, to link to. */
interface FailureMark {
  step: StepRecord;
  role: 'raised' | 'called';
  line?: number;
  other?: { cell: number; line?: number };
}

export class RunOutputsView {
  constructor(
    readonly panel: NotebookPanel,
    readonly model: PipelineModel,
    readonly outputs: RunOutputsModel,
    readonly actions: RunOutputsActions,
    mode: 'run' | 'kernel' = 'run',
  ) {
    this._mode = mode;
    outputs.changed.connect(this.render, this);
    model.runChanged.connect(this.render, this);
    model.compiled.connect(this.render, this);
    panel.content.model?.cells.changed.connect(this.onCellsChanged, this);
    NotebookActions.executed.connect(this.onExecuted, this);
    this.render();
  }

  /** `run`: every cell with run outputs shows them; `kernel`: the kernel's outputs, the run's folded away. */
  get mode(): 'run' | 'kernel' {
    return this._mode;
  }

  setMode(mode: 'run' | 'kernel'): void {
    this._mode = mode;
    this._kernelCells.clear();
    this.render();
    this._modeChanged.emit(mode);
  }

  /** Emitted when the whole notebook switches between the run's outputs and the kernel's. */
  get modeChanged(): ISignal<this, 'run' | 'kernel'> {
    return this._modeChanged;
  }

  render(): void {
    const run = this.model.run;
    if (run?.id !== this._lastRun) {
      // Another run's outputs are newer than the kernel's again.
      this._lastRun = run?.id;
      this._kernelCells.clear();
    }
    const widgets = this.panel.content.widgets;
    const cells = this.model.cells();
    const placed = run && run.id === this.outputs.runId ? placeRunOutputs(this.outputs.steps(), cells) : new Map<number, CellRunOutputs>();
    const failed = new Map<number, FailureMark>();
    for (const s of run?.steps ?? []) {
      const at = failingCell(s, cells);
      if (at === undefined) continue;
      const call = callingCell(s, cells);
      failed.set(at, { step: s, role: 'raised', line: s.error?.line, ...(call ? { other: call } : {}) });
      // The step's own cell that called the function gets its mark too (unless another step raised there).
      if (call && !failed.has(call.cell)) failed.set(call.cell, { step: s, role: 'called', line: call.line, other: { cell: at, line: s.error?.line } });
    }
    // While a step runs, its cells say so (their outputs come when it ends: every runtime writes them then).
    const running = new Map<number, StepRecord>();
    for (const s of run?.steps ?? []) {
      if (s.state !== 'running') continue;
      for (const i of this.model.result?.graph?.steps.find((g) => g.name === s.name)?.cells ?? []) if (!placed.has(i)) running.set(i, s);
    }
    const wanted = new Set<Element>();
    if (run) {
      for (const index of new Set([...placed.keys(), ...failed.keys(), ...running.keys()])) {
        const cell = widgets[index];
        if (!cell) continue;
        const area = this.renderCell(cell, index, run, placed.get(index), failed.get(index), running.get(index));
        if (area) wanted.add(area);
      }
    }
    for (const area of this.panel.content.node.querySelectorAll<HTMLElement>(`.${AREA}`)) {
      if (!wanted.has(area)) this.removeArea(area);
    }
    widgets.forEach((cell, i) => {
      cell.node.classList.toggle(FAILED_CELL, failed.has(i));
      if (!cell.node.querySelector(`:scope > .${AREA}`)) cell.node.classList.remove(SHOWING_RUN);
    });
    this.renderMetrics(run, cells);
  }

  /** The `pipeline-metrics` cell shows the metrics the run's steps recorded. */
  private renderMetrics(run: RunRecord | undefined, cells: readonly { tags: readonly string[] }[]): void {
    const graph = this.model.result?.graph;
    const at = cells.findIndex((c) => c.tags.includes('pipeline-metrics'));
    const writers = new Map<string, string>();
    for (const s of graph?.steps ?? []) for (const m of s.metrics) writers.set(m, s.name);
    this.panel.content.widgets.forEach((cell, i) => {
      const shown = i === at ? run : undefined;
      showMetrics(cell, shown, shown ? metricRows(shown, graph?.metrics ?? [], writers) : []);
    });
  }

  dispose(): void {
    this.outputs.changed.disconnect(this.render, this);
    this.model.runChanged.disconnect(this.render, this);
    this.model.compiled.disconnect(this.render, this);
    NotebookActions.executed.disconnect(this.onExecuted, this);
    Signal.clearData(this);
    for (const area of this.panel.content.node.querySelectorAll<HTMLElement>(`.${AREA}`)) this.removeArea(area);
    for (const cell of this.panel.content.widgets) {
      cell.node.classList.remove(SHOWING_RUN, FAILED_CELL);
      showMetrics(cell, undefined, []);
    }
  }

  private renderCell(cell: Cell, index: number, run: RunRecord, got: CellRunOutputs | undefined, failure: FailureMark | undefined, runningStep?: StepRecord): HTMLElement | undefined {
    const failedStep = failure?.step;
    const stepName = got?.step ?? failedStep?.name ?? runningStep?.name;
    const step = run.steps.find((s) => s.name === stepName);
    if (!step) return undefined;
    let outputs: NbOutput[] = got?.outputs ?? [];
    // The failed cell shows the error even when the step recorded no outputs (a runtime that kept none).
    if (failure?.role === 'raised' && failedStep?.error && !outputs.some((o) => o.output_type === 'error')) outputs = [...outputs, errorOutputOf(failedStep.error)];
    // A cell that showed nothing in the run nor in the kernel (an imports cell, say) needs no line saying so.
    if (!outputs.length && !kernelOutputCount(cell) && !runningStep) return undefined;
    let area = cell.node.querySelector<HTMLElement>(`:scope > .${AREA}`);
    if (!area) {
      area = document.createElement('div');
      area.className = AREA;
      const header = document.createElement('div');
      header.className = 'cp-run-outputs-header';
      const body = document.createElement('div');
      body.className = 'cp-run-outputs-body';
      area.append(header, body);
      // Right under the kernel's outputs, above cellpipe's chip bar and inline log.
      const after = cell.node.querySelector(':scope > .jp-Cell-outputWrapper');
      cell.node.insertBefore(area, after?.nextSibling ?? cell.node.querySelector(':scope > .cp-cell-bar'));
    }
    const showRun = this._mode === 'run' && !this._kernelCells.has(cell.model.id);
    area.dataset.runId = run.id;
    area.dataset.step = step.name;
    area.dataset.cell = String(index);
    area.dataset.state = step.state;
    area.classList.toggle('cp-kernel-mode', !showRun);
    cell.node.classList.toggle(SHOWING_RUN, showRun);
    this.renderHeader(area, cell, run, step, got, failure, index);
    const key = `${run.id}|${step.name}|${got?.fromRun ?? ''}|${outputs.length}|${failure ? `${failure.role}:${failure.line}` : ''}|${runningStep ? 'running' : ''}`;
    const shown = this._shown.get(area);
    if (shown?.key !== key) {
      this.disposeRenderers(area);
      const body = area.querySelector<HTMLElement>('.cp-run-outputs-body')!;
      body.replaceChildren();
      const renderers: Widget[] = [];
      for (const output of outputs) {
        if (output.output_type === 'error') body.appendChild(this.errorView(output, failure?.line, index));
        else this.renderOutput(body, output, renderers);
      }
      if (!outputs.length) {
        const none = document.createElement('div');
        none.className = 'cp-run-outputs-none';
        none.textContent = runningStep ? 'the step is running: its outputs show here when it ends' : 'this cell showed nothing in the run';
        body.appendChild(none);
      }
      this._shown.set(area, { key, renderers });
    }
    return area;
  }

  private renderHeader(area: HTMLElement, cell: Cell, run: RunRecord, step: StepRecord, got: CellRunOutputs | undefined, failure: FailureMark | undefined, index: number): void {
    const header = area.querySelector<HTMLElement>('.cp-run-outputs-header')!;
    const showRun = !area.classList.contains('cp-kernel-mode');
    // Rebuilt only when what it says changed: a recompile while typing must not swap the button under the pointer.
    const edited = editedSince(got?.source, cell.model.sharedModel.getSource());
    const key = [run.id, run.state, step.name, step.state, step.startedAt, step.finishedAt, got?.fromRun, failure && JSON.stringify([failure.step.name, failure.role, failure.line, failure.other]), showRun, kernelOutputCount(cell), index, edited].join('|');
    if (header.dataset.key === key) return;
    header.dataset.key = key;
    const from = document.createElement('span');
    from.className = 'cp-run-outputs-from';
    from.textContent = provenance(run, step, got?.fromRun ?? run.id);
    const state = document.createElement('span');
    state.className = `cp-run-outputs-state ${stateClass(step.state)}`;
    // Above the kernel's own outputs the run's provenance would mislabel them: only the switch (which says whose
    // outputs it brings back) and a failure marker stay.
    const parts: HTMLElement[] = showRun ? [state, from] : [];
    if (edited && showRun) {
      const stale = document.createElement('span');
      stale.className = 'cp-run-outputs-edited';
      stale.textContent = 'code edited since';
      stale.title = `this cell's code changed after run ${run.id} ran it: these outputs are of the code it had then`;
      parts.push(stale);
    }
    if (failure) parts.push(...this.failureMarks(failure, index));
    const toggle = document.createElement('button');
    toggle.className = 'cp-outputs-switch';
    const kernelCount = kernelOutputCount(cell);
    toggle.textContent = showRun ? `kernel outputs${kernelCount ? ` (${kernelCount})` : ''}` : 'run outputs';
    toggle.title = showRun
      ? "show what this notebook's kernel printed here instead (in every cell)"
      : `show what run ${run.id} printed here instead (in every cell): ${provenance(run, step, got?.fromRun ?? run.id)}`;
    toggle.addEventListener('click', () => this.setMode(showRun ? 'kernel' : 'run'));
    parts.push(toggle);
    if (!isTerminal(run.state) && step.state === 'running') from.textContent += ' …';
    header.replaceChildren(...parts);
  }

  /**
   * The failure marker of a cell, in the failed step's own state (a functions cell's header may be another step's,
   * which succeeded): where it raised, or where the step's cell called the function that raised — each with a link
   * to the other end.
   */
  private failureMarks(failure: FailureMark, index: number): HTMLElement[] {
    const { step, role, line, other } = failure;
    const marker = document.createElement('button');
    marker.className = 'cp-failed-marker';
    marker.dataset.role = role;
    marker.dataset.state = step.state;
    marker.dataset.step = step.name;
    marker.textContent =
      role === 'raised' ? `✖ step ${step.name} failed here${line ? ` (line ${line})` : ''}` : `✖ step ${step.name} failed in a function called here${line ? ` (line ${line})` : ''}`;
    marker.title = `go to ${cellLabel(index, line)}`;
    marker.addEventListener('click', () => this.actions.goToCell(index, line));
    if (!other) return [marker];
    const link = document.createElement('button');
    link.className = 'cp-failed-link';
    link.textContent = role === 'raised' ? `called from ${cellLabel(other.cell, other.line)}` : `raised in ${cellLabel(other.cell, other.line)}`;
    link.title = `go to ${cellLabel(other.cell, other.line)}`;
    link.addEventListener('click', () => this.actions.goToCell(other.cell, other.line));
    return [marker, link];
  }

  private renderOutput(body: HTMLElement, output: NbOutput, renderers: Widget[]): void {
    const bundle = mimeBundle(output);
    if (!bundle) return;
    const rendermime = this.panel.content.rendermime;
    const mime = rendermime.preferredMimeType(bundle as never, 'any');
    const holder = document.createElement('div');
    holder.className = `cp-run-output cp-output-${String(output.output_type)}`;
    if (!mime) {
      holder.textContent = `(no renderer for ${Object.keys(bundle).join(', ')})`;
      body.appendChild(holder);
      return;
    }
    holder.dataset.mimeType = mime;
    body.appendChild(holder);
    const renderer = rendermime.createRenderer(mime);
    // Untrusted, as JupyterLab treats outputs it did not produce in this session: HTML is sanitised, no scripts run.
    const model = rendermime.createModel({ data: bundle as never, metadata: (output.metadata ?? {}) as never, trusted: false });
    void renderer.renderModel(model).catch((err: unknown) => (holder.textContent = `could not render ${mime}: ${String(err)}`));
    if (holder.isConnected) Widget.attach(renderer, holder);
    else holder.appendChild(renderer.node);
    renderers.push(renderer);
  }

  /** One short line (with where it raised) and the traceback behind a disclosure; the message appears once. */
  private errorView(output: NbOutput, errLine: number | undefined, index: number): HTMLElement {
    const { head, traceback } = splitError(output);
    const box = document.createElement('div');
    box.className = 'cp-run-error';
    const line = document.createElement('div');
    line.className = 'cp-run-error-head';
    line.textContent = head;
    if (head.endsWith('…')) line.title = `${String(output.ename ?? '')}: ${String(output.evalue ?? '')}`;
    if (errLine) {
      const where = document.createElement('button');
      where.className = 'cp-run-error-where';
      where.textContent = `line ${errLine}`;
      where.title = `go to ${cellLabel(index, errLine)}`;
      where.addEventListener('click', () => this.actions.goToCell(index, errLine));
      line.append(' ', where);
    }
    box.appendChild(line);
    if (traceback.trim()) {
      const details = document.createElement('details');
      details.className = 'cp-run-error-traceback';
      const summary = document.createElement('summary');
      summary.textContent = 'traceback';
      const pre = document.createElement('pre');
      pre.textContent = traceback;
      details.append(summary, pre);
      box.appendChild(details);
    }
    return box;
  }

  private removeArea(area: HTMLElement): void {
    this.disposeRenderers(area);
    area.parentElement?.classList.remove(SHOWING_RUN);
    area.remove();
  }

  private disposeRenderers(area: HTMLElement): void {
    for (const r of this._shown.get(area)?.renderers ?? []) {
      if (r.isAttached) Widget.detach(r);
      r.dispose();
    }
    this._shown.delete(area);
  }

  private onCellsChanged(): void {
    requestAnimationFrame(() => this.render());
  }

  /** A cell run in the kernel shows the kernel's new outputs: they are newer than the run's. */
  private onExecuted(_: unknown, args: { notebook: unknown; cell: Cell }): void {
    if (args.notebook !== this.panel.content) return;
    this._kernelCells.add(args.cell.model.id);
    this.render();
  }

  private _mode: 'run' | 'kernel' = 'run';
  private _modeChanged = new Signal<this, 'run' | 'kernel'>(this);
  private _lastRun: string | undefined;
  /** Cells (by model id) that show the kernel's outputs in run mode: they were executed since. */
  private _kernelCells = new Set<string>();
  private _shown = new WeakMap<HTMLElement, Shown>();
}
