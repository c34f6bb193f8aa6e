/**
 * The one client of cellpipe's backend, reached through Jupyter at `<baseUrl>cellpipe/api/…` (jupyter-server-proxy),
 * so every request carries Jupyter's token and XSRF cookie via `ServerConnection.makeRequest`.
 * Log and run streams are Server-Sent Events read with fetch streaming (same auth headers).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import type { RunRecord, LogLine, LogWindow, LineText, ScheduleView } from '../runs/types.js';
import type { PartOf } from './model/partOf.js';
import type { CompileResult } from '../core/compile.js';
import type { RecordedCell } from '../core/executed.js';
import { CELLPIPE_VERSION } from '../core/version.generated.js';
import { SSEParser } from './model/sse.js';
import type { ProfilesResponse } from './model/targets.js';
import { CellpipeError } from '../core/errors.js';
import type { ProfileFormValues } from '../core/profile-form.js';
import type { DoctorReport } from '../core/doctor-report.js';

/** `GET /api/doctor`: what `cellpipe doctor --json` prints (one shape with the CLI's, core/doctor-report.ts). */
export type { Check as DoctorCheck, DoctorReport, TargetReport as DoctorTarget } from '../core/doctor-report.js';

/** An error from the backend with the message (and hint) the user should read. */
export class ResponseError extends CellpipeError {
  constructor(
    message: string,
    readonly status: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ResponseError';
  }

  /** Any failure as a ResponseError (status 0 when it did not come from the backend). */
  static from(err: unknown): ResponseError {
    return err instanceof ResponseError ? err : new ResponseError(String(err), 0);
  }
}

/** Raised when `/api/health` is missing: the Python part of cellpipe is not installed in this Jupyter server. */
export const NOT_INSTALLED =
  'the cellpipe server part is not installed in this Jupyter server (GET cellpipe/api/health → 404)';
export const NOT_INSTALLED_HINT = 'install it where Jupyter runs: pip install cellpipe (from a checkout: pip install -e python/), then restart JupyterLab';

export interface CreateScheduleRequest {
  path: string;
  profile: string;
  /** 5 fields (UTC) or a macro such as `@daily`. */
  cron: string;
  parameters: Record<string, unknown>;
  maxConcurrency?: number;
  catchUp?: boolean;
}

export interface StartRunRequest {
  path: string;
  parameters: Record<string, unknown>;
  /** 'local' or a Kubeflow profile name from GET /api/profiles */
  target: string;
  cache?: boolean;
}

/** Typed methods over the backend's HTTP API. */
export class CellpipeAPI {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** Absolute URL of an API path, e.g. `runs/abc/logs/sack`. */
  url(path: string, query: Record<string, string | number | undefined> = {}): string {
    const q = Object.entries(query)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    return URLExt.join(this.settings.baseUrl, 'cellpipe', 'api', path) + (q ? `?${q}` : '');
  }

  /** The backend's version; sends the page's, so a mismatch is in the Jupyter log too. */
  health(): Promise<{ version: string }> {
    return this.request(`health?page=${encodeURIComponent(CELLPIPE_VERSION)}`);
  }

  profiles(): Promise<ProfilesResponse> {
    return this.request('profiles');
  }

  /** Sends JupyterLab's settings to the backend; answers with the profiles under them. */
  putSettings(settings: { profiles: Record<string, unknown>; runsDir: string; concurrency: number; defaultBaseImage: string }): Promise<ProfilesResponse> {
    return this.request('settings', { method: 'PUT', body: JSON.stringify(settings) });
  }

  /** Adds a Kubeflow profile to the profiles file (the "Add a Kubeflow profile…" form); answers the targets under it. */
  addProfile(values: ProfileFormValues): Promise<ProfilesResponse & { saved: string; file: string }> {
    return this.request('profiles', { method: 'POST', body: JSON.stringify(values) });
  }

  /** What `cellpipe doctor` checks, with each check's state and fix (the backend runs the CLI's own checks). */
  doctor(): Promise<DoctorReport> {
    return this.request('doctor');
  }

  /** Sets a run's note (`''` removes it); answers the run's record. */
  setRunNote(id: string, notebook: string, note: string): Promise<RunRecord> {
    return this.request(`runs/${encodeURIComponent(id)}/note?notebook=${encodeURIComponent(notebook)}`, { method: 'PUT', body: JSON.stringify({ note }) });
  }

  compile(path: string): Promise<CompileResult> {
    return this.request('compile', { method: 'POST', body: JSON.stringify({ path }) });
  }

  /** Has the backend get the saved notebook's fork server ready, so its next local Run starts warm. */
  prewarm(path: string): Promise<{ warm: boolean; pid?: number; reason?: string }> {
    return this.request('prewarm', { method: 'POST', body: JSON.stringify({ path }) });
  }

  startRun(req: StartRunRequest): Promise<{ runId: string }> {
    return this.request('runs', { method: 'POST', body: JSON.stringify(req) });
  }

  /** Builds the images, uploads the version and creates the recurring run pinned to it (may take a while). */
  createSchedule(req: CreateScheduleRequest): Promise<{ schedule: ScheduleView; next: string[] }> {
    return this.request('schedules', { method: 'POST', body: JSON.stringify(req) });
  }

  /** The notebook's schedules on a profile; `recorded`: runs of them the backend has just added to the run history. */
  listSchedules(notebook: string, profile: string): Promise<{ schedules: ScheduleView[]; recorded: string[] }> {
    return this.request(`schedules?notebook=${encodeURIComponent(notebook)}&profile=${encodeURIComponent(profile)}`);
  }

  changeSchedule(id: string, profile: string, action: 'pause' | 'resume' | 'delete'): Promise<{ schedule?: ScheduleView; deleted?: string }> {
    const q = `?profile=${encodeURIComponent(profile)}`;
    return action === 'delete'
      ? this.request(`schedules/${encodeURIComponent(id)}${q}`, { method: 'DELETE' })
      : this.request(`schedules/${encodeURIComponent(id)}/${action}${q}`, { method: 'POST' });
  }

  /** The notebook's runs, and the runs of notebooks that composed it (`notebook:` cells) with the units it ran as. */
  async listRuns(notebook: string): Promise<{ runs: RunRecord[]; partOf: PartOf[] }> {
    const out = await this.request<{ runs: RunRecord[]; partOf?: PartOf[] }>(`runs?notebook=${encodeURIComponent(notebook)}`);
    return { runs: out.runs, partOf: out.partOf ?? [] };
  }

  /** `notebook` lets the server find runs it has not listed since it started. */
  getRun(id: string, notebook: string): Promise<RunRecord> {
    return this.request(`runs/${encodeURIComponent(id)}?notebook=${encodeURIComponent(notebook)}`);
  }

  cancel(id: string, notebook: string): Promise<unknown> {
    return this.request(`runs/${encodeURIComponent(id)}/cancel?notebook=${encodeURIComponent(notebook)}`, { method: 'POST' });
  }

  /** What each cell of a step showed in a run (`recorded: false` until the step has ended and written them). */
  stepOutputs(id: string, step: string, notebook: string): Promise<{ run: string; step: string; recorded: boolean; fromRun?: string; cells: Record<string, RecordedCell>; sources?: Record<string, string> }> {
    return this.request(`runs/${encodeURIComponent(id)}/outputs/${encodeURIComponent(step)}?notebook=${encodeURIComponent(notebook)}`);
  }

  /** Writes the run's executed notebook next to the notebook (`cellpipe export`); answers its path (from Jupyter's root). */
  exportRun(id: string, notebook: string): Promise<{ path: string; filled: number; notes: string[] }> {
    return this.request(`runs/${encodeURIComponent(id)}/export?notebook=${encodeURIComponent(notebook)}`, { method: 'POST' });
  }

  /**
   * A window of a step's stored log: lines [from, from + limit), or the last `tail` lines, each text cut at `cut`
   * characters (a cut line says its whole size in `cut`). The page never asks for a whole log: one may have 1e6 lines.
   */
  logWindow(id: string, notebook: string, step: string, q: { from?: number; tail?: number; limit?: number; cut?: number }): Promise<LogWindow> {
    return this.request(`runs/${encodeURIComponent(id)}/logs/${encodeURIComponent(step)}?${query({ format: 'json', notebook, ...q })}`);
  }

  /** Characters [start, start + length) of line `n` of a step's log (what "show all" of a cut line shows). */
  logLine(id: string, notebook: string, step: string, n: number, start: number, length: number): Promise<LineText> {
    return this.request(`runs/${encodeURIComponent(id)}/logs/${encodeURIComponent(step)}/lines/${n}?${query({ notebook, start, length })}`);
  }

  /** Follows a run's state changes until it ends (or `signal` aborts). */
  watchRun(id: string, notebook: string, onRun: (run: RunRecord) => void, signal: AbortSignal): Promise<void> {
    return this.stream(this.url(`runs/${encodeURIComponent(id)}/events`, { notebook }), signal, (ev) => {
      if (ev.event === 'run') onRun(JSON.parse(ev.data) as RunRecord);
    });
  }

  /**
   * Follows a step's log from line `from` until the step ends (or `signal` aborts). Resumes after a dropped
   * connection from the last line id seen, so no line is lost or repeated.
   */
  async followLog(id: string, notebook: string, step: string, from: number, onLines: (lines: { n: number; line: LogLine & { cut?: number } }[]) => void, signal: AbortSignal, cut?: number): Promise<void> {
    let next = from;
    for (let attempt = 0; attempt < 20 && !signal.aborted; attempt++) {
      let ended = false;
      try {
        const url = this.url(`runs/${encodeURIComponent(id)}/logs/${encodeURIComponent(step)}`, { from: next, follow: 1, notebook, cut });
        await this.stream(url, signal, (ev) => {
          if (ev.event === 'line') {
            const n = ev.id !== undefined ? Number(ev.id) : next;
            if (n < next) return;
            next = n + 1;
            onLines([{ n, line: JSON.parse(ev.data) as LogLine }]);
          } else if (ev.event === 'end') ended = true;
        });
        if (ended) return;
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ResponseError && err.status < 500) throw err;
      }
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
    }
  }

  private async stream(
    url: string,
    signal: AbortSignal,
    onEvent: (ev: { event: string; data: string; id?: string }) => void,
  ): Promise<void> {
    const res = await ServerConnection.makeRequest(url, { signal, headers: { Accept: 'text/event-stream' } }, this.settings);
    if (!res.ok) throw await toError(res);
    if (!res.body) throw new ResponseError('the server sent no event stream', res.status);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SSEParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const ev of parser.push(decoder.decode(value, { stream: true }))) onEvent(ev);
      }
    } finally {
      reader.releaseLock();
    }
  }

  private async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, 'cellpipe', 'api', path);
    let res: Response;
    try {
      // JSON and cellpipe's own header on every request: the backend refuses state changes without them, so that a
      // page on another site can't send it commands (src/server/http.ts refuseCrossSite).
      res = await ServerConnection.makeRequest(url, { ...init, headers: { 'Content-Type': 'application/json', 'X-Cellpipe-Request': '1', ...(init.headers ?? {}) } }, this.settings);
    } catch (err) {
      throw new ResponseError(`cannot reach the cellpipe server: ${String(err)}`, 0, 'check that JupyterLab is still running');
    }
    if (!res.ok) throw await toError(res, path);
    return (await res.json()) as T;
  }
}

/** A query string of the defined values. */
function query(q: Record<string, string | number | undefined>): string {
  return Object.entries(q)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
}

async function toError(res: Response, path = ''): Promise<ResponseError> {
  if (res.status === 404 && path === 'health') return new ResponseError(NOT_INSTALLED, 404, NOT_INSTALLED_HINT);
  let body: unknown;
  const text = await res.text().catch(() => '');
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const err = (body as { error?: { message?: string; hint?: string } } | undefined)?.error;
  if (err?.message) return new ResponseError(err.message, res.status, err.hint);
  if (res.status === 404 && !text.includes('{')) return new ResponseError(NOT_INSTALLED, 404, NOT_INSTALLED_HINT);
  return new ResponseError(`cellpipe server answered ${res.status} ${res.statusText}`, res.status);
}
