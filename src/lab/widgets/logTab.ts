/**
 * "Full log": a step's stored log in a main-area tab, a page at a time — its last lines first, earlier pages as the
 * reader scrolls up, later ones as they scroll down, first/last page on a click — so a 1e6-line log opens as fast as
 * a short one. At most `MAX_TAB_LINES` lines are in the page: a page added at one end drops lines at the other.
 * While the step runs and the reader is at the end, new lines are followed live (the same resumable stream the
 * inline logs read) and the view stays scrolled to the newest unless the user scrolled up.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import type { CellpipeAPI } from '../api.js';
import type { WindowLine } from '../../runs/types.js';
import { LOG_CUT_CHARS } from '../pipeline.js';
import { formatCount as count, logLineElement } from './logLines.js';

/** Lines fetched per page. */
export const TAB_PAGE_LINES = 500;
/** Lines the tab holds at most. */
export const MAX_TAB_LINES = 2500;
/** How close (px) to an edge a scroll must come to fetch the next page. */
const EDGE_PX = 200;


class FullLogView {
  readonly content = new Widget();
  private readonly status = document.createElement('span');
  private readonly pre = document.createElement('pre');
  /** Lines [first, last) of the log are in the page; the log has `total` lines so far. */
  private first = 0;
  private last = 0;
  private total = 0;
  private ended = false;
  private loading = false;
  /** Bumped by a jump: pages asked for before it are dropped when they arrive. */
  private generation = 0;
  private error = '';

  constructor(
    private readonly api: CellpipeAPI,
    private readonly runId: string,
    private readonly step: string,
    private readonly notebook: string,
    private readonly signal: AbortSignal,
  ) {
    this.content.addClass('cp-full-log');
    const bar = document.createElement('div');
    bar.className = 'cp-full-log-status';
    const start = document.createElement('button');
    start.className = 'cp-full-log-first';
    start.textContent = '⤒ first lines';
    start.addEventListener('click', () => void this.jump(0));
    const end = document.createElement('button');
    end.className = 'cp-full-log-last';
    end.textContent = '⤓ last lines';
    end.addEventListener('click', () => void this.jump(undefined));
    this.status.textContent = 'loading…';
    bar.append(this.status, start, end);
    this.content.node.append(bar, this.pre);
    this.content.node.addEventListener('scroll', () => this.onScroll(), { passive: true });
  }

  /** Shows the log's last page, then follows it while the step runs. */
  async start(): Promise<void> {
    await this.jump(undefined);
    if (this.signal.aborted) return;
    try {
      await this.api.followLog(this.runId, this.notebook, this.step, this.total, (batch) => this.onLive(batch), this.signal, LOG_CUT_CHARS);
      if (this.signal.aborted) return;
      this.ended = true;
      this.content.node.dataset.ended = 'true';
    } catch (err) {
      if (!this.signal.aborted) this.error = `could not follow the log: ${(err as Error).message}`;
    }
    this.showStatus();
  }

  /** Shows the page starting at line `from` (undefined: the last page), whatever was being fetched. */
  private async jump(from: number | undefined): Promise<void> {
    const generation = ++this.generation;
    this.loading = false;
    const got = await this.fetch(from === undefined ? { tail: TAB_PAGE_LINES } : { from, limit: TAB_PAGE_LINES });
    if (!got || generation !== this.generation) return;
    this.pre.replaceChildren(...got.lines.map((l) => this.lineElement(l)));
    this.first = got.from;
    this.last = got.from + got.lines.length;
    this.content.node.scrollTop = from === undefined ? this.content.node.scrollHeight : 0;
    this.showStatus();
  }

  /** A window of the log, or undefined when another page is being fetched (or this one is no longer wanted). */
  private async fetch(q: { from?: number; tail?: number; limit?: number }): Promise<{ from: number; lines: WindowLine[] } | undefined> {
    if (this.loading) return undefined;
    this.loading = true;
    const generation = this.generation;
    try {
      const got = await this.api.logWindow(this.runId, this.notebook, this.step, { ...q, cut: LOG_CUT_CHARS });
      this.total = Math.max(this.total, got.total);
      return this.signal.aborted || generation !== this.generation ? undefined : got;
    } catch (err) {
      this.error = `could not read the log: ${(err as Error).message}`;
      this.showStatus();
      return undefined;
    } finally {
      if (generation === this.generation) this.loading = false;
    }
  }

  private onScroll(): void {
    const node = this.content.node;
    if (node.scrollTop < EDGE_PX && this.first > 0) void this.earlier();
    else if (node.scrollTop + node.clientHeight > node.scrollHeight - EDGE_PX && this.last < this.total) void this.later();
  }

  private async earlier(): Promise<void> {
    const from = Math.max(0, this.first - TAB_PAGE_LINES);
    const got = await this.fetch({ from, limit: this.first - from });
    if (!got || got.from + got.lines.length !== this.first) return;
    const node = this.content.node;
    // Past the cap, the lines at the bottom go (one removal, so the page is laid out once).
    const drop = Math.max(0, this.last - got.from - MAX_TAB_LINES);
    if (drop > 0) {
      const range = document.createRange();
      range.setStartBefore(this.pre.children[this.pre.children.length - drop]);
      range.setEndAfter(this.pre.lastElementChild!);
      range.deleteContents();
      this.last -= drop;
    }
    // Keep what the reader looks at in place while lines are added above it.
    const before = node.scrollHeight;
    this.pre.prepend(...got.lines.map((l) => this.lineElement(l)));
    this.first = got.from;
    node.scrollTop += node.scrollHeight - before;
    this.showStatus();
  }

  private async later(): Promise<void> {
    const got = await this.fetch({ from: this.last, limit: TAB_PAGE_LINES });
    if (!got || got.from !== this.last) return;
    this.pre.append(...got.lines.map((l) => this.lineElement(l)));
    this.last += got.lines.length;
    this.trimTop();
    this.showStatus();
  }

  /** Lines the step prints while the tab is open: shown when the page holds the log's end, counted otherwise. */
  private onLive(batch: { n: number; line: WindowLine | Omit<WindowLine, 'n'> }[]): void {
    const node = this.content.node;
    const atEnd = node.scrollTop + node.clientHeight >= node.scrollHeight - 4;
    const frag = document.createDocumentFragment();
    for (const { n, line } of batch) {
      this.total = Math.max(this.total, n + 1);
      if (n !== this.last) continue;
      frag.appendChild(this.lineElement({ ...line, n }));
      this.last = n + 1;
    }
    this.pre.appendChild(frag);
    this.trimTop();
    if (atEnd) node.scrollTop = node.scrollHeight;
    this.showStatus();
  }

  /** Past the cap, the lines at the top go: measured and removed in one go, the view kept where it was. */
  private trimTop(): void {
    const drop = this.last - this.first - MAX_TAB_LINES;
    if (drop <= 0) return;
    const node = this.content.node;
    const firstKept = this.pre.children[drop] as HTMLElement;
    const height = firstKept.offsetTop - (this.pre.firstElementChild as HTMLElement).offsetTop;
    const range = document.createRange();
    range.setStartBefore(this.pre.firstElementChild!);
    range.setEndBefore(firstKept);
    range.deleteContents();
    this.first += drop;
    node.scrollTop -= height;
  }

  private lineElement(line: WindowLine): HTMLElement {
    return logLineElement(line, (n, start, length) => this.api.logLine(this.runId, this.notebook, this.step, n, start, length));
  }

  private showStatus(): void {
    if (this.error) {
      this.status.textContent = this.error;
      return;
    }
    const state = this.ended ? 'the step has ended' : 'following while the step runs';
    this.status.textContent = this.total === 0
      ? (this.ended ? '(empty log)' : `no lines yet · ${state}`)
      : `lines ${count(this.first + 1)}–${count(this.last)} of ${count(this.total)} · ${state}`;
    this.content.node.dataset.first = String(this.first);
    this.content.node.dataset.last = String(this.last);
    this.content.node.dataset.total = String(this.total);
  }
}

export function createLogTab(api: CellpipeAPI, runId: string, step: string, notebook: string): MainAreaWidget<Widget> {
  const stop = new AbortController();
  const view = new FullLogView(api, runId, step, notebook, stop.signal);
  const widget = new MainAreaWidget({ content: view.content });
  widget.id = `cellpipe-log-${runId}-${step}`;
  widget.title.label = `${step} log`;
  widget.title.caption = `${notebook} · run ${runId} · step ${step}`;
  widget.title.closable = true;
  widget.disposed.connect(() => stop.abort());
  void view.start();
  return widget;
}
