/**
 * The state of one open notebook's pipeline: the in-browser compile (debounced while typing), the parameter
 * values for the next run, the run history, the run being shown and its steps' log lines.
 * Views (cell decorations, sidebar, inline logs) listen to its Lumino signals and never talk to the server.
 */
import { Signal, type ISignal } from '@lumino/signaling';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { ICellModel } from '@jupyterlab/cells';
import { compileNotebook, type CompileOptions, type CompileResult } from '../core/compile.js';
import type { Diagnostic } from '../core/model.js';
import type { RunRecord, WindowLine } from '../runs/types.js';
import { CellpipeAPI, ResponseError } from './api.js';
import { diagnosticsByCell, placeCells, stepColor, stepNames, stepPalette, type CellInfo, type CellPlace } from './model/cells.js';
import { isStepDone, isTerminal, latestRun } from './model/runs.js';
import { executedCopyOf, type ExecutedCopy } from './model/executedCopy.js';
import { recordedStepName, viewOfComposedRun } from './model/partOf.js';

/** How long typing must pause before the notebook is recompiled. */
export const COMPILE_DEBOUNCE_MS = 250;
/** Log lines kept per step in the page (the full-log tab pages through the rest). */
export const MAX_KEPT_LINES = 5000;
/** Lines of a step's log shown first (its end), and how many more each "earlier lines" asks for. */
export const LOG_TAIL_LINES = 200;
/** Characters of a log line shown; a longer line is cut, with a button that fetches it alone. */
export const LOG_CUT_CHARS = 10_000;

/** Notebooks run as a pipeline from this page (this JupyterLab session): the only ones pre-warmed when opened or
 *  saved, since pre-warming runs their imports cells and opening a notebook must never run its code. (The backend
 *  checks the same on its side.) */
const ranInThisSession = new Set<string>();

/** One step's log as the page holds it: a window of it, `lines[0]` being line `first`. */
export interface StepLog {
  lines: WindowLine[];
  /** Index of `lines[0]` in the step's log: lines before it are fetched on request (`loadEarlier`). */
  first: number;
  /** True once the server said the log ended. */
  ended: boolean;
}

export class PipelineModel {
  constructor(
    readonly panel: NotebookPanel,
    readonly api: CellpipeAPI,
    /** Compile options from the user's settings (read at every compile). */
    private readonly compileOptions: () => Pick<CompileOptions, 'defaultBaseImage' | 'readNotebook'> = () => ({}),
  ) {
    const model = panel.content.model;
    if (model) {
      model.contentChanged.connect(this.scheduleCompile, this);
      model.cells.changed.connect(this.scheduleCompile, this);
      model.metadataChanged.connect(this.scheduleCompile, this);
    }
    panel.content.modelChanged.connect(this.scheduleCompile, this);
    void panel.context.ready.then(() => {
      this.compileNow();
      void this.loadHistory();
      this.prewarm();
    });
    // The backend runs the saved file: once it is saved, its imports may be new.
    panel.context.saveState.connect((_c, state) => {
      if (state === 'completed') this.prewarm();
    });
  }

  /** Emitted after every compile. */
  get compiled(): ISignal<this, CompileResult> {
    return this._compiled;
  }
  /** Emitted when the run history or the shown run changes (state, steps). */
  get runChanged(): ISignal<this, RunRecord | undefined> {
    return this._runChanged;
  }
  /** Emitted for every batch of new log lines of a step of the shown run. */
  get logLines(): ISignal<this, { step: string; lines: WindowLine[]; start: number }> {
    return this._logLines;
  }
  /** Emitted when earlier lines of a step's log arrived (`loadEarlier`): they go before the ones shown. */
  get earlierLines(): ISignal<this, { step: string; lines: WindowLine[] }> {
    return this._earlierLines;
  }
  /** Emitted when a message should reach the user (errors, "not installed"). */
  get message(): ISignal<this, { text: string; hint?: string; kind: 'error' | 'info' }> {
    return this._message;
  }

  get path(): string {
    return this.panel.context.path;
  }
  get result(): CompileResult | undefined {
    return this._result;
  }
  /** Set when this notebook is a run's executed copy (`cellpipe export`): which run, of which notebook. */
  get executedCopy(): ExecutedCopy | undefined {
    return executedCopyOf(this.panel.content.model?.getMetadata('cellpipe_run'));
  }
  /** Diagnostics grouped by cell index (`-1`: about no cell). */
  get diagnostics(): Map<number, Diagnostic[]> {
    return this._diagnostics;
  }
  /** Milliseconds the last compile (including the diagnostics mapping) took. */
  get lastCompileMs(): number {
    return this._lastCompileMs;
  }
  get runs(): RunRecord[] {
    return this._runs;
  }
  get run(): RunRecord | undefined {
    return this._run;
  }
  get busy(): boolean {
    return this._starting || (!!this._run && !isTerminal(this._run.state));
  }
  /** A step's colour in this notebook: its own, unless a neighbouring step's is too close (model/cells.ts). */
  stepColor(step: string): string {
    return this._palette.get(step) ?? stepColor(step);
  }
  logOf(step: string): StepLog | undefined {
    return this._logs.get(step);
  }
  /**
   * The run of another notebook that composed this one (Kale 2.3's `notebook:` cells) when `runId` is one: its notebook
   * and the units this notebook ran as. Such a run shows only this notebook's steps, under their names here.
   */
  partOf(runId: string | undefined): { notebook: string; units: string[] } | undefined {
    return runId ? this._partOf.get(runId) : undefined;
  }
  /** The name the shown run's record gives a step shown here (another for a composed run's step of this notebook). */
  recordedStep(step: string): string {
    const s = this._run?.steps.find((x) => x.name === step);
    return s ? recordedStepName(s, !!this.partOf(this._run?.id)) : step;
  }
  /** Whether a step of the shown run ran cells of this notebook (a referenced notebook's step in a composing notebook's own run did not). */
  ranHere(step: Pick<RunRecord['steps'][number], 'unit'>): boolean {
    return !step.unit || !!this.partOf(this._run?.id);
  }

  /** The notebook's cells as the pure models see them. */
  cells(): CellInfo[] {
    const model = this.panel.content.model;
    if (!model) return [];
    const out: CellInfo[] = [];
    for (let i = 0; i < model.cells.length; i++) {
      const c: ICellModel = model.cells.get(i);
      const tags = c.getMetadata('tags');
      out.push({ id: c.id, type: c.type as CellInfo['type'], tags: Array.isArray(tags) ? (tags as string[]) : [] });
    }
    return out;
  }

  places(): CellPlace[] {
    return placeCells(this.cells());
  }

  /** Parameter values for the next run: what the user typed, else the notebook's defaults. */
  parameterValues(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const p of this._result?.graph?.parameters ?? []) out[p.name] = this._params.has(p.name) ? this._params.get(p.name) : p.default;
    return out;
  }
  setParameter(name: string, value: unknown): void {
    this._params.set(name, value);
    this._paramErrors.delete(name);
    this._runChanged.emit(this._run);
  }
  /** What the user typed for a parameter is no value of its type: the value in force stays, and no run starts. */
  setParameterError(name: string, error: string): void {
    this._paramErrors.set(name, error);
    this._runChanged.emit(this._run);
  }
  /** Why the parameters typed cannot run (empty: they can), for the parameters the notebook still declares. */
  parameterErrors(): string[] {
    const declared = new Set((this._result?.graph?.parameters ?? []).map((p) => p.name));
    return [...this._paramErrors].filter(([name]) => declared.has(name)).map(([, e]) => e);
  }

  scheduleCompile(): void {
    if (this._timer !== undefined) clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._timer = undefined;
      this.compileNow();
    }, COMPILE_DEBOUNCE_MS);
  }

  /** Compiles the notebook as it is in the editor (not as saved) and publishes the diagnostics. */
  compileNow(): CompileResult {
    const t0 = performance.now();
    const model = this.panel.content.model;
    let result: CompileResult;
    try {
      result = compileNotebook(JSON.stringify(model?.toJSON() ?? {}), { ...this.compileOptions(), path: this.path });
    } catch (err) {
      result = { ok: false, programs: {}, diagnostics: [{ severity: 'error', code: 'internal', message: `cellpipe could not analyse this notebook: ${String(err)}`, hint: 'please report this with the notebook' }] };
    }
    this._result = result;
    const cells = this.cells();
    this._diagnostics = diagnosticsByCell(result.diagnostics, cells);
    const graph = result.graph;
    this._palette = stepPalette(graph ? graph.steps.map((s) => s.name) : stepNames(cells), graph?.edges ?? []);
    this._lastCompileMs = performance.now() - t0;
    this._compiled.emit(result);
    return result;
  }

  /** Compiles the notebook as it would be with some cells' tags changed (index → tags); nothing is published. */
  compileWithTags(changes: ReadonlyMap<number, string[]>): CompileResult {
    const json = (this.panel.content.model?.toJSON() ?? {}) as { cells?: { metadata?: Record<string, unknown> }[] };
    const cells = (json.cells ?? []).map((c, i) => (changes.has(i) ? { ...c, metadata: { ...(c.metadata ?? {}), tags: changes.get(i) } } : c));
    try {
      return compileNotebook(JSON.stringify({ ...json, cells }), { ...this.compileOptions(), path: this.path });
    } catch {
      return { ok: false, programs: {}, diagnostics: [] };
    }
  }

  /**
   * Asks the backend to run the saved notebook's imports once in a fork server now, so the next local Run starts
   * warm — only for a notebook already run from this page (never on the first open). Best effort: a notebook that
   * does not compile, or a server that cannot start, only means a cold start.
   */
  private prewarm(): void {
    if (!this._result?.ok || !ranInThisSession.has(this.path)) return;
    this.api.prewarm(this.path).catch(() => undefined);
  }

  /** Loads the notebook's run history and shows the latest run (with its logs). */
  async loadHistory(): Promise<void> {
    try {
      const { runs, partOf } = await this.api.listRuns(this.path);
      this._partOf = new Map(partOf.map((p) => [p.run.id, { notebook: p.run.notebook, units: p.units }]));
      this._runs = [...runs, ...partOf.map((p) => viewOfComposedRun(p.run, p.units))];
    } catch (err) {
      this.report(err);
      return;
    }
    const latest = latestRun(this._runs);
    if (latest && !this._run) await this.select(latest.id);
    else this._runChanged.emit(this._run);
  }

  /** Saves the notebook (the backend compiles the file on disk), then starts a local run and shows it. */
  async start(target = 'local'): Promise<string | undefined> {
    if (this.busy) return undefined;
    const bad = this.parameterErrors();
    if (bad.length) {
      this._message.emit({ text: `Not started: ${bad.join('; ')}`, hint: 'correct the value in the sidebar\'s Parameters', kind: 'error' });
      return undefined;
    }
    const copy = this.executedCopy;
    if (copy) {
      this._message.emit({ text: `Not started: this is an executed copy of ${copy.notebook ?? 'a notebook'} from run ${copy.run}`, hint: `run the pipeline from ${copy.notebook ?? 'the notebook it was exported from'}`, kind: 'error' });
      return undefined;
    }
    this._starting = true;
    this._runChanged.emit(this._run);
    try {
      await this.panel.context.save();
      ranInThisSession.add(this.path);
      const { runId } = await this.api.startRun({ path: this.path, parameters: this.parameterValues(), target });
      await this.select(runId);
      return runId;
    } catch (err) {
      this.report(err);
      return undefined;
    } finally {
      this._starting = false;
      this._runChanged.emit(this._run);
    }
  }

  async cancel(): Promise<void> {
    if (!this._run || isTerminal(this._run.state)) return;
    try {
      await this.api.cancel(this._run.id, this.path);
    } catch (err) {
      this.report(err);
    }
  }

  /** Sets a run's note (the backend keeps it in the run's record) and shows the record it answers. */
  async setNote(runId: string, note: string): Promise<void> {
    const run = await this.api.setRunNote(runId, this.path, note);
    const i = this._runs.findIndex((r) => r.id === run.id);
    if (i >= 0) this._runs[i] = run;
    if (this._run?.id === run.id) this._run = run;
    this._runChanged.emit(this._run);
  }

  /** Shows a run: its record, live state changes and every started step's log. */
  async select(runId: string): Promise<void> {
    this._watch?.abort();
    const watch = (this._watch = new AbortController());
    this._logs = new Map();
    let run: RunRecord;
    try {
      run = await this.api.getRun(runId, this.path);
    } catch (err) {
      this.report(err);
      return;
    }
    if (watch.signal.aborted) return;
    this.update(run, watch.signal);
    if (!isTerminal(run.state)) {
      void this.api
        .watchRun(runId, this.path, (r) => this.update(r, watch.signal), watch.signal)
        .then(async () => {
          // The event stream ended: read the final record once more (it may have ended between events).
          if (!watch.signal.aborted) this.update(await this.api.getRun(runId, this.path), watch.signal);
        })
        .catch((err) => !watch.signal.aborted && this.report(err));
    }
  }

  dispose(): void {
    this._watch?.abort();
    if (this._timer !== undefined) clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private update(recorded: RunRecord, signal: AbortSignal): void {
    if (signal.aborted) return;
    const part = this._partOf.get(recorded.id);
    const run = part ? viewOfComposedRun(recorded, part.units) : recorded;
    this._run = run;
    const i = this._runs.findIndex((r) => r.id === run.id);
    if (i >= 0) this._runs[i] = run;
    else this._runs = [run, ...this._runs];
    for (const step of run.steps) {
      if (step.state === 'pending' || this._logs.has(step.name)) continue;
      const log: StepLog = { lines: [], first: 0, ended: false };
      this._logs.set(step.name, log);
      void this.showLog(run, step.name, log, signal).catch((err) => !signal.aborted && !isStepDone(step.state) && this.report(err));
    }
    this._runChanged.emit(run);
  }

  /**
   * A step's log: its last lines first (a window, never the whole log — it may have 1e6 lines), then, while the
   * step runs, each new line as it is stored. Long lines arrive cut (`LOG_CUT_CHARS`).
   */
  private async showLog(run: RunRecord, step: string, log: StepLog, signal: AbortSignal): Promise<void> {
    const recorded = this.recordedStep(step);
    const tail = await this.api.logWindow(run.id, this.path, recorded, { tail: LOG_TAIL_LINES, cut: LOG_CUT_CHARS });
    if (signal.aborted) return;
    log.lines = tail.lines;
    log.first = tail.from;
    this._logLines.emit({ step, lines: tail.lines, start: tail.from });
    const now = run.steps.find((s) => s.name === step);
    if (now && isStepDone(now.state)) {
      log.ended = true;
      return;
    }
    await this.api.followLog(run.id, this.path, recorded, tail.total, (batch) => {
      const start = batch[0]?.n ?? log.first + log.lines.length;
      for (const { n, line } of batch) log.lines.push({ ...line, n });
      // Bounded memory: the page keeps the newest lines; the run store keeps them all.
      if (log.lines.length > 2 * MAX_KEPT_LINES) {
        log.lines.splice(0, log.lines.length - MAX_KEPT_LINES);
        log.first = log.lines[0].n;
      }
      this._logLines.emit({ step, lines: batch.map(({ n, line }) => ({ ...line, n })), start });
    }, signal, LOG_CUT_CHARS);
    log.ended = true;
  }

  /** Fetches up to `count` lines before the first one the page holds of a step's log; false when there are none. */
  async loadEarlier(step: string, count = LOG_TAIL_LINES): Promise<boolean> {
    const log = this._logs.get(step);
    const run = this._run;
    if (!log || !run || log.first === 0) return false;
    const from = Math.max(0, log.first - count);
    const got = await this.api.logWindow(run.id, this.path, this.recordedStep(step), { from, limit: log.first - from, cut: LOG_CUT_CHARS });
    if (this._run !== run || this._logs.get(step) !== log || got.lines.length === 0) return false;
    log.lines.unshift(...got.lines);
    log.first = from;
    this._earlierLines.emit({ step, lines: got.lines });
    return true;
  }

  /** Shows an error where the sidebar shows errors. */
  reportError(err: unknown): void {
    this.report(err);
  }

  private report(err: unknown): void {
    const text = err instanceof Error ? err.message : String(err);
    const hint = err instanceof ResponseError ? err.hint : undefined;
    this._message.emit({ text, hint, kind: 'error' });
  }

  private _compiled = new Signal<this, CompileResult>(this);
  private _runChanged = new Signal<this, RunRecord | undefined>(this);
  private _logLines = new Signal<this, { step: string; lines: WindowLine[]; start: number }>(this);
  private _earlierLines = new Signal<this, { step: string; lines: WindowLine[] }>(this);
  private _message = new Signal<this, { text: string; hint?: string; kind: 'error' | 'info' }>(this);
  private _result: CompileResult | undefined;
  private _diagnostics = new Map<number, Diagnostic[]>();
  private _palette = new Map<string, string>();
  private _lastCompileMs = 0;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _params = new Map<string, unknown>();
  private _paramErrors = new Map<string, string>();
  private _runs: RunRecord[] = [];
  private _partOf = new Map<string, { notebook: string; units: string[] }>();
  private _run: RunRecord | undefined;
  private _logs = new Map<string, StepLog>();
  private _watch: AbortController | undefined;
  private _starting = false;
}
