/**
 * Server-Sent Events: the transport for run status and log lines. Plain HTTP, so it passes through
 * jupyter-server-proxy and Jupyter's auth unchanged, and `EventSource` reconnects by itself
 * (sending `Last-Event-ID`, which the log route turns into the line to resume from).
 *
 * Backpressure: a client that reads slowly must slow down what feeds it, not fill the backend's memory (a reader
 * at 20 KB/s of a 75 MB log once took the backend from 207 to 912 MB). Producers that can wait (the log and run
 * routes) `await stream.drained()` after each event, so they read their source only as fast as the client takes
 * it. A producer that cannot wait and keeps sending to a client that takes nothing is cut off once
 * `MAX_BUFFERED_BYTES` wait in the backend, with a last `dropped` event saying why.
 */
import type { ServerResponse } from 'node:http';

/** How often a comment line is sent so that idle streams are not cut by proxies. */
export const HEARTBEAT_MS = 15_000;
/** How much may wait in the backend for one client before it is dropped as too slow. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export class EventStream {
  private readonly controller = new AbortController();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly res: ServerResponse, heartbeatMs = HEARTBEAT_MS, private readonly maxBuffered = MAX_BUFFERED_BYTES) {
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
      // A client that has not taken the last events needs no ping: the connection is not idle.
      if (!res.writableEnded && !res.writableNeedDrain) res.write(': ping\n\n');
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

  /**
   * Sends one event; `data` is serialised as JSON (one line). Returns false when the client is gone — or has been
   * dropped because more than `maxBuffered` bytes were waiting for it (see `drained()` to wait instead).
   */
  send(event: string, data: unknown, id?: number | string): boolean {
    if (this.closed) return false;
    if (this.res.writableLength > this.maxBuffered) {
      const waiting = this.res.writableLength;
      this.res.write(`event: dropped\ndata: ${JSON.stringify({ reason: `the client read too slowly: ${waiting} bytes waited for it in the backend`, hint: 'Reconnect to resume (Last-Event-ID).' })}\n\n`);
      this.close();
      return false;
    }
    let frame = '';
    if (id !== undefined) frame += `id: ${id}\n`;
    frame += `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.res.write(frame);
    return true;
  }

  /**
   * Resolves once what was sent has left the backend's buffer for the socket (at once when it has), with false when
   * the client went away meanwhile. Producers await it between events so a slow reader paces them.
   */
  drained(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (!this.res.writableNeedDrain) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve(!this.closed);
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (!this.res.writableEnded) this.res.end();
    this.controller.abort();
  }
}
