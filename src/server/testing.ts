/**
 * Test helpers for the backend (used by the *.test.ts files only): an HTTP client over a Unix socket,
 * a Server-Sent Events reader, and a scripted Runtime that records its runs in a real RunStore.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import type { RunStore } from '../runs/store.js';
import type { LogLine, RunRecord } from '../runs/types.js';
import type { LogOptions, RunRequest, Runtime } from '../runtimes/types.js';
import { LocalRuntime } from '../runtimes/local/runtime.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

/** One HTTP request to the backend on `socketPath`; JSON bodies are serialised. */
export function call(
  socketPath: string,
  method: string,
  urlPath: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        // A connection per request: a kept-alive one can be closed by the server's keep-alive timeout (5 s) just as
        // the next request goes out on it (ECONNRESET) — a race a test idle for about that long (a run) would lose.
        agent: false,
        method,
        path: urlPath,
        // As the page sends them (http.ts refuseCrossSite): JSON for anything that changes state.
        headers: { ...(payload !== undefined || method !== 'GET' ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

/**
 * Reads an event stream until the server ends it (or `until` returns true, then the connection is dropped).
 * Resolves with the events and the response status.
 */
export function readEvents(
  socketPath: string,
  urlPath: string,
  options: {
    headers?: Record<string, string>;
    until?: (e: SseEvent, all: SseEvent[]) => boolean;
    onEvent?: (e: SseEvent) => void;
    /** POST this JSON body instead of a GET. */
    body?: unknown;
  } = {},
): Promise<{ status: number; contentType: string; events: SseEvent[] }> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const method = payload === undefined ? 'GET' : 'POST';
    const headers = { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers };
    const req = request({ socketPath, agent: false, method, path: urlPath, headers }, (res) => {
      const contentType = String(res.headers['content-type'] ?? '');
      let buffer = '';
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        resolve({ status: res.statusCode ?? 0, contentType, events });
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e: Partial<SseEvent> & { dataText?: string } = {};
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') e.event = value;
            else if (field === 'id') e.id = value;
            else if (field === 'data') e.dataText = (e.dataText ? e.dataText + '\n' : '') + value;
          }
          if (e.dataText === undefined) continue;
          let data: unknown = e.dataText;
          try {
            data = JSON.parse(e.dataText);
          } catch {
            // keep the text
          }
          const ev: SseEvent = { event: e.event ?? 'message', id: e.id, data };
          events.push(ev);
          options.onEvent?.(ev);
          if (options.until?.(ev, events)) {
            finish();
            req.destroy();
            return;
          }
        }
      });
      res.on('end', finish);
      res.on('close', finish);
    });
    req.on('error', (err) => {
      if (events.length) resolve({ status: 200, contentType: 'text/event-stream', events });
      else reject(err);
    });
    req.end(payload);
  });
}

/** What one step of a scripted run does. */
export interface StepScript {
  /** Log lines printed, one per `intervalMs`. */
  lines: number;
  /** Keep printing (one line per interval) until the run is cancelled. */
  untilCancelled?: boolean;
  fail?: boolean;
}

/**
 * A Runtime that executes no code: it walks the graph's steps in order, writing states and log lines into a
 * real RunStore exactly as a runtime does. It stands in for the local runtime in tests of the HTTP layer.
 */
export class ScriptedRuntime implements Runtime {
  readonly submitted: RunRequest[] = [];
  private readonly cancelled = new Set<string>();
  private readonly done = new Map<string, Promise<void>>();
  private seq = 0;

  constructor(
    readonly store: RunStore,
    private readonly script: (step: string) => StepScript = () => ({ lines: 3 }),
    private readonly intervalMs = 5,
  ) {}

  async submit(request: RunRequest): Promise<string> {
    this.submitted.push(request);
    const id = `20261128-000000-${String(++this.seq).padStart(6, '0')}${Math.random().toString(16).slice(2, 6)}`;
    const record = LocalRuntime.queuedRecord(id, request, request.parameters);
    await this.store.create(record);
    this.done.set(id, this.execute(id, request));
    return id;
  }

  /** Resolves when the scripted run has finished writing. */
  finished(runId: string): Promise<void> {
    return this.done.get(runId) ?? Promise.resolve();
  }

  private async execute(id: string, request: RunRequest): Promise<void> {
    const sleep = () => new Promise((r) => setTimeout(r, this.intervalMs));
    await this.store.update(id, { state: 'running', startedAt: new Date().toISOString() });
    let failed = false;
    for (const step of request.graph.steps) {
      if (this.cancelled.has(id)) break;
      if (failed) {
        await this.store.updateStep(id, step.name, { state: 'skipped' });
        continue;
      }
      const script = this.script(step.name);
      await this.store.updateStep(id, step.name, { state: 'running', startedAt: new Date().toISOString(), attempts: 1 });
      for (let i = 1; (i <= script.lines || script.untilCancelled) && !this.cancelled.has(id); i++) {
        await this.store.appendLog(id, step.name, { time: new Date().toISOString(), stream: 'stdout', text: `${step.name} line ${i}` });
        await sleep();
      }
      if (this.cancelled.has(id)) break;
      failed = !!script.fail;
      await this.store.updateStep(id, step.name, {
        state: failed ? 'failed' : 'succeeded',
        finishedAt: new Date().toISOString(),
        exitCode: failed ? 1 : 0,
      });
    }
    if (this.cancelled.has(id)) {
      const rec = (await this.store.get(id))!;
      for (const s of rec.steps) {
        if (s.state === 'running' || s.state === 'pending') await this.store.updateStep(id, s.name, { state: 'cancelled' });
      }
      await this.store.update(id, { state: 'cancelled', finishedAt: new Date().toISOString() });
      return;
    }
    await this.store.update(id, { state: failed ? 'failed' : 'succeeded', finishedAt: new Date().toISOString() });
  }

  async status(runId: string): Promise<RunRecord> {
    const rec = await this.store.get(runId);
    if (!rec) throw new Error(`no run ${runId}`);
    return rec;
  }

  logs(runId: string, step: string, options: LogOptions = {}): AsyncIterable<LogLine> {
    return this.store.readLogs(runId, step, options);
  }

  async cancel(runId: string): Promise<void> {
    this.cancelled.add(runId);
    await this.finished(runId);
  }
}

/**
 * Records a finished local run of `notebook` whose steps printed the given lines (`logs`: step → the texts of its
 * lines, in order), in `store`. The logs are written straight in the store's format (one JSON LogLine per line, as
 * `appendLog` writes them) in large writes, so a 1e6-line or a 50 MB-line log takes seconds, not a minute of
 * printing. Used by the tests of big logs.
 */
export async function recordRunWithLogs(store: RunStore, notebook: string, logs: Record<string, Iterable<string>>): Promise<string> {
  const { appendFileSync } = await import('node:fs');
  const { newRunId, pendingStep } = await import('../runs/store.js');
  const id = newRunId();
  const now = new Date().toISOString();
  const steps = Object.keys(logs);
  await store.create({ id, notebook, notebookHash: '', specHash: '', runtime: 'local', parameters: {}, state: 'running', createdAt: now, startedAt: now, steps: steps.map((s) => pendingStep(s)) });
  for (const step of steps) {
    await store.updateStep(id, step, { state: 'running', startedAt: now });
    const file = store.logFile(id, step);
    let batch: string[] = [];
    let size = 0;
    for (const text of logs[step]) {
      const line = JSON.stringify({ time: now, stream: 'stdout', text } satisfies LogLine) + '\n';
      batch.push(line);
      size += line.length;
      if (size > 4 * 1024 * 1024) {
        appendFileSync(file, batch.join(''));
        batch = [];
        size = 0;
      }
    }
    appendFileSync(file, batch.join(''));
    await store.updateStep(id, step, { state: 'succeeded', finishedAt: new Date().toISOString() });
  }
  await store.update(id, { state: 'succeeded', finishedAt: new Date().toISOString() });
  return id;
}

/** `count` numbered lines of about `width` characters: `line 1 xxxx…`. */
export function* numberedLines(count: number, width = 60): Iterable<string> {
  const pad = 'x'.repeat(width);
  for (let i = 1; i <= count; i++) yield `line ${i} ${pad}`;
}
