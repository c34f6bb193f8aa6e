/**
 * What cellpipe draws on the notebook itself: a chip bar above each code cell (role or step, colour, deps,
 * diagnostics icon) and, under each step's last cell, the step's inline log.
 *
 * Everything is plain DOM owned by cellpipe and attached to the cell widgets' nodes; nothing is written into the
 * notebook model (the inline logs never become saved outputs).
 */
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { Cell } from '@jupyterlab/cells';
import { cellLabel } from '../../core/notebook.js';
import type { RunRecord, StepRecord, WindowLine } from '../../runs/types.js';
import type { PipelineModel } from '../pipeline.js';
import { chipLabel, diagnosticTooltip, filesLabel, firstCells, logAnchors, worstSeverity } from '../model/cells.js';
import { failedStepAction, renderChipActions } from './stepActionsDom.js';
import { formatDuration, isErrorLine, isTerminal, stateClass, stepMarks } from '../model/runs.js';
import { formatCount, logLineElement } from './logLines.js';
import { showInEditor } from './squiggles.js';
import { logFolded, readFoldChoices, writeFoldChoices, type FoldChoices } from '../model/logFold.js';

/** What the decorations need from the plugin: open the editor, open the full log, jump to a cell. */
export interface DecorationActions {
  editTags(cellIndex: number): void;
  openFullLog(runId: string, step: string): void;
  goToCell(cellIndex: number, line?: number): void;
  /** Whether inline logs are shown (setting). */
  inlineLogs(): boolean;
  /** Whether the shown run's outputs of this step are under its cells now (so its prints need not be in its log). */
  outputsShown(step: string): boolean;
}

const BAR = 'cp-cell-bar';

/** Sets a text only when it changed: a recompile of 300 cells then touches the DOM only where something moved. */
function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
function setClass(el: HTMLElement, name: string): void {
  if (el.className !== name) el.className = name;
}
/** Inline logs show the newest lines only (and earlier ones on request, up to this many), so a 1e6-line log cannot slow the notebook; "full log" pages through them all. */
export const MAX_INLINE_LINES = 5000;
const LOG = 'cp-inline-log';

/** What a step's log header says after its state: its duration (so far) and its marks. */
function headerMeta(step: StepRecord): string {
  return [formatDuration(step.startedAt, step.finishedAt), ...stepMarks(step)].filter(Boolean).join(' · ');
}

const foldsKey = (path: string) => `cellpipe:collapsed-logs:${path}`;

/** The steps whose inline log the user folded or opened in this notebook (localStorage; none when unavailable). */
function readFolds(path: string): FoldChoices {
  try {
    return readFoldChoices(localStorage.getItem(foldsKey(path)));
  } catch {
    return new Map();
  }
}

function writeFolds(path: string, choices: FoldChoices): void {
  try {
    const saved = writeFoldChoices(choices);
    if (saved) localStorage.setItem(foldsKey(path), saved);
    else localStorage.removeItem(foldsKey(path));
  } catch {
    // private mode or full storage: folding still works for this page
  }
}

export class NotebookDecorations {
  constructor(
    readonly panel: NotebookPanel,
    readonly model: PipelineModel,
    readonly actions: DecorationActions,
  ) {
    model.compiled.connect(this.renderCells, this);
    model.runChanged.connect(this.renderLogs, this);
    model.logLines.connect(this.onLines, this);
    model.earlierLines.connect(this.onEarlier, this);
    panel.content.model?.cells.changed.connect(() => requestAnimationFrame(() => this.renderAll()));
    this.folds = readFolds(panel.context.path);
    // A running step's header counts its duration up, between the run's own state changes.
    this.ticker = setInterval(() => this.tick(), 1000);
    this.renderAll();
  }

  renderAll(): void {
    this.renderCells();
    this.renderLogs();
  }

  /** Chips, colours and diagnostics on every code cell. */
  renderCells(): void {
    const places = this.model.places();
    const widgets = this.panel.content.widgets;
    const starts = firstCells(this.model.cells(), this.model.result?.graph);
    widgets.forEach((cell, i) => {
      const place = places[i];
      let bar = cell.node.querySelector<HTMLElement>(`:scope > .${BAR}`);
      if (!place || cell.model.type !== 'code') {
        bar?.remove();
        cell.node.classList.remove('cp-step-cell');
        return;
      }
      if (!bar) bar = this.createBar(cell);
      const label = chipLabel(place);
      const color = place.step ? this.model.stepColor(place.step) : '';
      // Update the bar's elements in place: a compile never replaces what the user may be pointing at.
      const chip = bar.querySelector<HTMLElement>('.cp-chip')!;
      setClass(chip, `cp-chip ${label ? '' : 'cp-chip-empty'} ${place.role ? `cp-role-${place.role}` : ''}`.trim());
      setText(chip, label ?? '+ pipeline tag');
      chip.dataset.cellIndex = String(i);
      if (color && (place.role === 'step' || place.inherited)) chip.style.setProperty('--cp-step-color', color);
      else chip.style.removeProperty('--cp-step-color');
      renderChipActions(bar, place, !!place.step && starts.get(place.step) === i, this.model);
      const deps = bar.querySelector<HTMLElement>('.cp-deps')!;
      setText(deps, place.prev.length ? `after ${place.prev.join(', ')}` : '');
      // The files the step reads, on its first cell (whether each travels into the step images on hover).
      const files = bar.querySelector<HTMLElement>('.cp-files')!;
      const reads = place.step && starts.get(place.step) === i
        ? filesLabel(this.model.result?.graph?.steps.find((s) => s.name === place.step)?.files) : undefined;
      setText(files, reads?.text ?? '');
      if (reads) files.title = reads.title;
      else files.removeAttribute('title');
      const diags = this.model.diagnostics.get(i) ?? [];
      showInEditor(cell, diags);
      const worst = worstSeverity(diags);
      const icon = bar.querySelector<HTMLElement>('.cp-diag')!;
      const text = bar.querySelector<HTMLElement>('.cp-diag-text')!;
      if (worst) {
        const tip = diagnosticTooltip(diags);
        icon.className = `cp-diag cp-diag-${worst}`;
        icon.textContent = worst === 'error' ? '✖' : worst === 'warning' ? '▲' : 'ℹ';
        icon.title = tip;
        icon.setAttribute('aria-label', tip);
        text.textContent = diags[0].message + (diags.length > 1 ? ` (+${diags.length - 1})` : '');
        text.title = tip;
      } else if (icon.textContent) {
        icon.className = 'cp-diag';
        icon.textContent = '';
        icon.removeAttribute('title');
        icon.removeAttribute('aria-label');
        text.textContent = '';
        text.removeAttribute('title');
      }
      if (color) {
        cell.node.classList.add('cp-step-cell');
        if (cell.node.style.getPropertyValue('--cp-step-color') !== color) cell.node.style.setProperty('--cp-step-color', color);
      } else {
        cell.node.classList.remove('cp-step-cell');
        cell.node.style.removeProperty('--cp-step-color');
      }
    });
    this.renderLogs();
  }

  /** Inline log areas under each step's last cell, for the run the model shows. */
  renderLogs(): void {
    const run = this.model.run;
    const widgets = this.panel.content.widgets;
    const anchors = run && this.actions.inlineLogs() ? logAnchors(this.model.cells(), this.model.result?.graph) : new Map<string, number>();
    const wanted = new Set<string>();
    for (const step of run?.steps ?? []) {
      const at = anchors.get(step.name);
      if (at === undefined || !widgets[at]) continue;
      wanted.add(step.name);
      const area = this.logArea(widgets[at], step.name, run!);
      this.renderHeader(area, step, run!);
    }
    for (const el of this.panel.content.node.querySelectorAll<HTMLElement>(`.${LOG}`)) {
      if (!run || el.dataset.runId !== run.id || !wanted.has(el.dataset.step ?? '') || !el.parentElement || !anchors.has(el.dataset.step ?? '') ||
        widgets[anchors.get(el.dataset.step ?? '')!]?.node !== el.parentElement) {
        el.remove();
        this.areas.delete(el.dataset.step ?? '');
      }
    }
  }

  /** The bar of one cell: chip (opens the editor), dependencies, diagnostics icon and first message. */
  private createBar(cell: Cell): HTMLElement {
    const bar = document.createElement('div');
    bar.className = BAR;
    const chip = document.createElement('button');
    chip.className = 'cp-chip';
    chip.title = "cellpipe: edit this cell's pipeline tags";
    chip.addEventListener('click', (ev) => {
      ev.stopPropagation();
      this.actions.editTags(this.panel.content.widgets.indexOf(cell));
    });
    const deps = document.createElement('span');
    deps.className = 'cp-deps';
    const files = document.createElement('span');
    files.className = 'cp-files';
    const icon = document.createElement('span');
    icon.className = 'cp-diag';
    const text = document.createElement('span');
    text.className = 'cp-diag-text';
    bar.append(chip, deps, files, icon, text);
    // Under the cell's input and outputs (and above its inline log, if any): one stable place for every cell.
    cell.node.insertBefore(bar, cell.node.querySelector(`:scope > .${LOG}`));
    return bar;
  }

  dispose(): void {
    clearInterval(this.ticker);
    for (const el of this.panel.content.node.querySelectorAll(`.${LOG}, .${BAR}`)) el.remove();
    this.areas.clear();
  }

  private tick(): void {
    const run = this.model.run;
    if (!run || !run.steps.some((s) => s.state === 'running')) return;
    for (const [name, area] of this.areas) {
      const step = run.steps.find((s) => s.name === name);
      if (step?.state !== 'running') continue;
      const meta = area.querySelector<HTMLElement>('.cp-log-header .cp-log-meta');
      if (meta) setText(meta, headerMeta(step));
    }
  }

  private logArea(cell: Cell, step: string, run: RunRecord): HTMLElement {
    const existing = this.areas.get(step);
    if (existing && existing.dataset.runId === run.id && existing.parentElement === cell.node) return existing;
    existing?.remove();
    const area = document.createElement('div');
    area.className = LOG;
    area.dataset.step = step;
    area.dataset.runId = run.id;
    area.style.setProperty('--cp-step-color', this.model.stepColor(step));
    const header = document.createElement('div');
    header.className = 'cp-log-header';
    const pre = document.createElement('pre');
    pre.className = 'cp-log-lines';
    // The log's end is shown first; scrolling to its top (or the button there) fetches the lines before.
    const earlier = document.createElement('button');
    earlier.className = 'cp-log-earlier';
    earlier.hidden = true;
    earlier.addEventListener('click', () => this.loadEarlier(area, step));
    pre.appendChild(earlier);
    pre.addEventListener('scroll', () => {
      if (pre.scrollTop < 24 && !earlier.hidden) this.loadEarlier(area, step);
    }, { passive: true });
    area.append(header, pre);
    cell.node.appendChild(area);
    this.areas.set(step, area);
    const log = this.model.logOf(step);
    if (log) this.appendLines(area, log.lines, run.steps.find((s) => s.name === step));
    return area;
  }

  private renderHeader(area: HTMLElement, step: StepRecord, run: RunRecord): void {
    const header = area.querySelector<HTMLElement>('.cp-log-header')!;
    area.dataset.state = step.state;
    header.replaceChildren();
    // What the step printed is under its cells once its outputs are shown: the log does not say it again.
    const shown = this.actions.outputsShown(step.name);
    area.classList.toggle('cp-log-outputs-shown', shown);
    // Folded by the user once (or opened), so in every later run too (per notebook and step, kept in this browser).
    const folded = logFolded(step.state, shown, this.folds.get(step.name));
    area.classList.toggle('cp-collapsed', folded);
    const toggle = document.createElement('button');
    toggle.className = 'cp-log-toggle';
    toggle.textContent = folded ? '▸' : '▾';
    toggle.title = 'show/hide this step\'s log';
    toggle.setAttribute('aria-expanded', String(!folded));
    toggle.addEventListener('click', () => {
      const nowFolded = area.classList.toggle('cp-collapsed');
      toggle.textContent = nowFolded ? '▸' : '▾';
      toggle.setAttribute('aria-expanded', String(!nowFolded));
      this.folds.set(step.name, nowFolded);
      writeFolds(this.panel.context.path, this.folds);
    });
    const name = document.createElement('span');
    name.className = 'cp-log-step';
    name.textContent = step.name;
    const state = document.createElement('span');
    state.className = `cp-log-state ${stateClass(step.state)}`;
    state.textContent = step.state;
    const meta = document.createElement('span');
    meta.className = 'cp-log-meta';
    meta.textContent = headerMeta(step);
    if (step.start === 'cold' && step.coldStartReason) meta.title = `cold start: ${step.coldStartReason}`;
    header.append(toggle, name, state, meta);
    // Why the step has not started (a pod no node can take, an image that cannot be pulled), under its own cell.
    if (step.preparing && (step.state === 'pending' || step.state === 'running') && !isTerminal(run.state)) {
      const waits = document.createElement('div');
      waits.className = 'cp-log-waiting';
      waits.textContent = step.preparing.what;
      header.appendChild(waits);
    }
    if (shown) {
      // The prints are hidden from the log (they are the outputs above); one click shows them here too.
      const prints = document.createElement('button');
      prints.className = 'cp-log-prints';
      const showing = area.classList.contains('cp-log-show-prints');
      prints.textContent = showing ? 'hide prints' : 'prints: under the cells';
      prints.title = showing ? 'hide what the step printed: it is under its cells' : 'what the step printed is shown under its cells; click to see it in the log too';
      prints.addEventListener('click', () => {
        area.classList.toggle('cp-log-show-prints');
        this.renderHeader(area, step, run);
      });
      header.appendChild(prints);
    }
    if (step.state === 'failed' && step.error) {
      const err = document.createElement('button');
      err.className = 'cp-log-error-link';
      const where = step.error.cell !== undefined ? cellLabel(step.error.cell, step.error.line) : '';
      const { type, message } = step.error;
      const head = type && !message.startsWith(`${type}:`) ? `${type}: ${message}` : message;
      err.textContent = `${head}${where ? ` — go to ${where}` : ''}`;
      if (step.error.cell !== undefined) {
        const cellIndex = step.error.cell;
        err.addEventListener('click', () => this.actions.goToCell(cellIndex, step.error?.line));
      }
      header.appendChild(err);
    }
    const load = failedStepAction(step, run, this.model, (cell) => this.actions.goToCell(cell));
    if (load) header.appendChild(load);
    const full = document.createElement('button');
    full.className = 'cp-log-full';
    full.textContent = 'full log';
    full.addEventListener('click', () => this.actions.openFullLog(run.id, step.name));
    header.appendChild(full);
  }

  private onLines(_: PipelineModel, ev: { step: string; lines: WindowLine[] }): void {
    const area = this.areas.get(ev.step);
    if (!area) return;
    this.appendLines(area, ev.lines, this.model.run?.steps.find((s) => s.name === ev.step));
  }

  private onEarlier(_: PipelineModel, ev: { step: string; lines: WindowLine[] }): void {
    const area = this.areas.get(ev.step);
    if (!area) return;
    const pre = area.querySelector<HTMLElement>('.cp-log-lines')!;
    const earlier = pre.querySelector<HTMLButtonElement>(':scope > .cp-log-earlier')!;
    const frag = document.createDocumentFragment();
    const step = this.model.run?.steps.find((s) => s.name === ev.step);
    for (const line of ev.lines) frag.appendChild(this.lineElement(line, ev.step, step));
    // Keep what the reader looks at in place while lines are added above it.
    const fromBottom = pre.scrollHeight - pre.scrollTop;
    earlier.after(frag);
    pre.scrollTop = pre.scrollHeight - fromBottom;
    this.updateEarlier(area);
  }

  private loadEarlier(area: HTMLElement, step: string): void {
    if (area.dataset.loading === 'earlier') return;
    area.dataset.loading = 'earlier';
    void this.model.loadEarlier(step).finally(() => delete area.dataset.loading);
  }

  /** The button above the lines: how many earlier lines there are, hidden when none (or the inline cap is reached). */
  private updateEarlier(area: HTMLElement): void {
    const pre = area.querySelector<HTMLElement>('.cp-log-lines')!;
    const earlier = pre.querySelector<HTMLButtonElement>(':scope > .cp-log-earlier')!;
    const first = Number(pre.querySelector<HTMLElement>(':scope > .cp-log-line')?.dataset.n ?? 0);
    const full = pre.childElementCount - 1 >= MAX_INLINE_LINES;
    earlier.hidden = first === 0;
    earlier.textContent = full
      ? `${formatCount(first)} earlier lines: open the full log to read them`
      : `${formatCount(first)} earlier lines — scroll up or click to show more`;
    earlier.disabled = full;
    area.dataset.first = String(first);
  }

  private lineElement(line: WindowLine, stepName: string, step?: StepRecord): HTMLElement {
    const runId = this.model.run?.id ?? '';
    const el = logLineElement(line, (n, start, length) => this.model.api.logLine(runId, this.model.path, this.model.recordedStep(stepName), n, start, length));
    if (line.stream !== 'stdout' && isErrorLine(line.text, step?.error)) el.classList.add('cp-log-error');
    // The step runtime's own bookkeeping ("[cellpipe] step x: 2 inputs …") goes to stderr, but it is no warning.
    else if (line.stream === 'stderr' && line.text.startsWith('[cellpipe] ')) el.classList.add('cp-log-meta');
    return el;
  }

  private appendLines(area: HTMLElement, lines: readonly WindowLine[], step?: StepRecord): void {
    const pre = area.querySelector<HTMLElement>('.cp-log-lines')!;
    const frag = document.createDocumentFragment();
    for (const line of lines) frag.appendChild(this.lineElement(line, area.dataset.step ?? '', step));
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(frag);
    // The newest lines count: past the cap, the oldest shown go (the button above says how many are before).
    while (pre.childElementCount - 1 > MAX_INLINE_LINES) pre.querySelector(':scope > .cp-log-line')?.remove();
    this.updateEarlier(area);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  private areas = new Map<string, HTMLElement>();
  private folds: FoldChoices;
  private ticker: ReturnType<typeof setInterval>;
}
