/**
 * An incremental Server-Sent Events parser (the `text/event-stream` format of the HTML standard), fed with
 * whatever chunks the network delivers. Used with `fetch` streaming so the request carries Jupyter's auth headers.
 */

/** One dispatched event. */
export interface SSEEvent {
  event: string;
  data: string;
  id?: string;
}

export class SSEParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  /** The last `id:` seen (for resuming with `from=`). */
  lastId: string | undefined;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): SSEEvent[] {
    this.buffer += chunk;
    const out: SSEEvent[] = [];
    // Lines are read from a moving position and the buffer is cut once at the end: a chunk of 10 000 events costs
    // one pass, not 10 000 copies of what is left of it.
    let pos = 0;
    let nl: number;
    while ((nl = this.nextBreak(pos)) >= 0) {
      let line = this.buffer.slice(pos, nl);
      const skip = this.buffer[nl] === '\r' && this.buffer[nl + 1] === '\n' ? 2 : 1;
      pos = nl + skip;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.data.length) {
          const ev: SSEEvent = { event: this.event || 'message', data: this.data.join('\n') };
          if (this.id !== undefined) ev.id = this.id;
          out.push(ev);
        }
        this.data = [];
        this.event = '';
        this.id = undefined;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = this.lastId = value;
    }
    if (pos > 0) this.buffer = this.buffer.slice(pos);
    this.cr = -1;
    return out;
  }

  /** Where the next CR is (Infinity: none in the buffer), so that a buffer without CRs is searched for one once. */
  private cr = -1;

  private nextBreak(from: number): number {
    const n = this.buffer.indexOf('\n', from);
    if (this.cr < from) {
      const found = this.buffer.indexOf('\r', from);
      this.cr = found < 0 ? Infinity : found;
    }
    const r = this.cr === Infinity ? -1 : this.cr;
    if (r >= 0 && (n < 0 || r < n)) {
      // A lone CR at the very end may be the first half of CRLF: wait for more.
      if (r === this.buffer.length - 1) return -1;
      return r;
    }
    return n;
  }
}
