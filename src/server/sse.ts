/**
 * Server-Sent Events: the transport for run status and log lines. Plain HTTP, so it passes through
 * jupyter-server-proxy and Jupyter's auth unchanged, and `EventSource` reconnects by itself
 * (sending `Last-Event-ID`, which the log route turns into the line to resume from).
 */
import type { ServerResponse } from 'node:http';

/** How often a comment line is sent so that idle streams are not cut by proxies. */
export const HEARTBEAT_MS = 15_000;

export class EventStream {
  private readonly controller = new AbortController();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly res: ServerResponse, heartbeatMs = HEARTBEAT_MS) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Tell buffering proxies (nginx and friends) to pass events through as they come.
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    res.on('close', () => this.controller.abort());
    this.heartbeat = setInterval(() => {
      if (!res.writableEnded) res.write(': ping\n\n');
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  /** Aborted when the client goes away (or the stream is closed). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get closed(): boolean {
    return this.controller.signal.aborted || this.res.writableEnded;
  }

  /** Sends one event; `data` is serialised as JSON (one line). Returns false when the client is gone. */
  send(event: string, data: unknown, id?: number | string): boolean {
    if (this.closed) return false;
    let frame = '';
    if (id !== undefined) frame += `id: ${id}\n`;
    frame += `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.res.write(frame);
    return true;
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (!this.res.writableEnded) this.res.end();
    this.controller.abort();
  }
}
