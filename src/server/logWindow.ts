/**
 * Windows of a step's log: lines `from`…`from + limit` (or the last `tail` lines) and one line's whole text,
 * without reading the rest of the file. A page showing a 1e6-line (75 MB) log asks for the few hundred lines it
 * shows, not for all of them; a 50 MB line arrives cut to a few thousand characters, its whole text only on request.
 *
 * A step's log is a JSON-lines file that only grows (runs/store.ts). Each file's index keeps the byte offset of every
 * `STRIDE`-th line and is extended, not rebuilt, when the file has grown; so finding line N reads at most `STRIDE`
 * lines past the nearest mark. The index counts every newline-terminated line; one that does not parse (torn by a
 * power cut) is shown as a `system` line saying so, keeping the numbering.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { LineText, LogLine, LogWindow, WindowLine } from '../runs/types.js';

export type { LineText, LogWindow, WindowLine };

/** Lines between two marks of the index. */
export const STRIDE = 1024;
/** How much of the file is read at a time. */
const CHUNK = 1024 * 1024;
/** Indexes kept (one per log file recently asked for). */
const KEPT_INDEXES = 64;

class LogIndex {
  /** Bytes indexed: the file up to the end of its last complete line. */
  size = 0;
  /** Complete lines in those bytes. */
  lines = 0;
  /** marks[i]: byte offset of line i × STRIDE. */
  marks = [0];
  /** Requests on this index run one after another (extending it is not reentrant). */
  queue: Promise<unknown> = Promise.resolve();
  constructor(readonly ino: number) {}

  /** Indexes what was appended since the last look. */
  async extend(handle: FileHandle, fileSize: number): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK);
    let pos = this.size;
    while (pos < fileSize) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, fileSize - pos), pos);
      if (bytesRead === 0) break;
      let nl = buf.indexOf(10, 0);
      while (nl >= 0 && nl < bytesRead) {
        this.lines++;
        this.size = pos + nl + 1;
        if (this.lines % STRIDE === 0) this.marks.push(this.size);
        nl = buf.indexOf(10, nl + 1);
      }
      pos += bytesRead;
    }
  }
}

const indexes = new Map<string, LogIndex>();

/** Runs `fn` with the file open and its index up to date; undefined when the file does not exist (yet). */
async function withIndex<T>(file: string, fn: (handle: FileHandle, index: LogIndex) => Promise<T>): Promise<T | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const stat = await handle.stat();
    let index = indexes.get(file);
    // A file that shrank or was replaced is indexed anew.
    if (!index || index.ino !== stat.ino || stat.size < index.size) {
      index = new LogIndex(stat.ino);
      indexes.set(file, index);
      if (indexes.size > KEPT_INDEXES) indexes.delete(indexes.keys().next().value!);
    }
    const ix = index;
    const run = ix.queue.then(async () => {
      await ix.extend(handle, stat.size);
      return fn(handle, ix);
    });
    ix.queue = run.catch(() => undefined);
    return await run;
  } finally {
    await handle.close();
  }
}

/**
 * Reads lines [from, to) of an indexed file, calling `onLine` with each line's first `keep` bytes, its last bytes
 * (when it is longer) and its size: a 50 MB line never has to be in memory whole.
 */
async function scanLines(
  handle: FileHandle,
  index: LogIndex,
  from: number,
  to: number,
  keep: number,
  onLine: (n: number, head: Buffer, tail: Buffer | undefined, bytes: number) => void,
): Promise<void> {
  if (from >= to) return;
  const mark = Math.floor(from / STRIDE);
  let n = mark * STRIDE;
  let pos = index.marks[mark];
  const buf = Buffer.allocUnsafe(CHUNK);
  let head: Buffer[] = [];
  let headBytes = 0;
  let tail: Buffer | undefined;
  let bytes = 0;
  while (n < to && pos < index.size) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, index.size - pos), pos);
    if (bytesRead === 0) break;
    let start = 0;
    while (start < bytesRead && n < to) {
      const nl = buf.indexOf(10, start);
      const end = nl >= 0 && nl < bytesRead ? nl : bytesRead;
      if (n >= from) {
        // Keep the line's head (up to `keep` bytes) and its last 4 KB; count the rest.
        const piece = buf.subarray(start, end);
        if (headBytes < keep) {
          const take = piece.subarray(0, keep - headBytes);
          head.push(Buffer.from(take));
          headBytes += take.length;
        }
        if (bytes + piece.length > keep) tail = Buffer.concat([tail ?? Buffer.alloc(0), piece.subarray(-4096)]).subarray(-4096);
        bytes += piece.length;
      }
      if (end === bytesRead) break;
      if (n >= from) onLine(n, Buffer.concat(head), bytes > keep ? tail : undefined, bytes);
      n++;
      head = [];
      headBytes = 0;
      tail = undefined;
      bytes = 0;
      start = nl + 1;
    }
    pos += bytesRead;
  }
}

/** The start of a JSON string literal `s` (from its opening quote) decoded, up to `max` characters. */
function decodeStringStart(s: string, quote: number, max: number): string {
  let i = quote + 1;
  let count = 0;
  while (count < max && i < s.length && s[i] !== '"') {
    i += s[i] === '\\' ? (s[i + 1] === 'u' ? 6 : 2) : 1;
    count++;
  }
  // Back off an escape cut in half by the end of what was read.
  while (i > s.length) i -= 1;
  for (;;) {
    try {
      return JSON.parse(s.slice(quote, i) + '"') as string;
    } catch {
      if (i <= quote + 1) return '';
      i--;
    }
  }
}

/** A stored line as a window shows it: parsed, its text cut at `cut` characters. */
function windowLine(n: number, head: Buffer, tail: Buffer | undefined, bytes: number, cut: number): WindowLine {
  if (!tail) {
    let line: LogLine;
    try {
      line = JSON.parse(head.toString('utf8')) as LogLine;
    } catch {
      return { n, time: '', stream: 'system', text: '[cellpipe] this log line is damaged (a write was cut short) and cannot be shown' };
    }
    if (typeof line.text === 'string' && line.text.length > cut) return { ...line, n, text: line.text.slice(0, cut), cut: bytes };
    return { ...line, n };
  }
  // Too long to parse whole: read the fields from the head (and the tail, for fields written after the text).
  const s = head.toString('utf8');
  const around = s + (tail ? tail.toString('utf8') : '');
  const stream = /"stream":"(stdout|stderr|system)"/.exec(around)?.[1] as LogLine['stream'] | undefined;
  const time = /"time":"([^"\\]*)"/.exec(around)?.[1] ?? '';
  const q = s.indexOf('"text":"');
  const text = q >= 0 ? decodeStringStart(s, q + 7, cut) : '';
  return { n, time, stream: stream ?? 'stdout', text, cut: bytes };
}

/**
 * Lines `from` … `from + limit` of the log in `file` (or, with `tail`, its last `tail` lines), each text cut at `cut`
 * characters. A log that does not exist yet is empty.
 */
export async function readLogWindow(file: string, opts: { from?: number; tail?: number; limit: number; cut: number }): Promise<LogWindow> {
  const got = await withIndex(file, async (handle, index) => {
    const total = index.lines;
    const from = opts.tail !== undefined ? Math.max(0, total - opts.tail) : Math.min(opts.from ?? 0, total);
    const to = Math.min(total, from + (opts.tail !== undefined ? opts.tail : opts.limit));
    const lines: WindowLine[] = [];
    // Enough bytes for `cut` characters however they are escaped (at most 6 bytes each, \uXXXX), plus the fields.
    const keep = opts.cut * 6 + 4096;
    await scanLines(handle, index, from, to, keep, (n, head, tail, bytes) => lines.push(windowLine(n, head, tail, bytes, opts.cut)));
    return { from, lines, total };
  });
  return got ?? { from: 0, lines: [], total: 0 };
}

/** Line `n` of the log in `file`, its text from character `start`, at most `length` characters; undefined if no such line. */
export async function readLogLine(file: string, n: number, start: number, length: number): Promise<LineText | undefined> {
  return withIndex(file, async (handle, index) => {
    if (n >= index.lines) return undefined;
    let found: LineText | undefined;
    await scanLines(handle, index, n, n + 1, Number.MAX_SAFE_INTEGER, (i, head) => {
      const line = windowLine(i, head, undefined, head.length, Number.MAX_SAFE_INTEGER);
      found = { n: i, time: line.time, stream: line.stream, text: line.text.slice(start, start + length), start, length: line.text.length };
    });
    return found;
  });
}
