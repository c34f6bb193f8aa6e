/**
 * How much of a step's log the run store keeps, as CI systems do: a step that prints without end (a print in a
 * loop, a progress bar on a pipe) must not fill the disk nor freeze the page that shows it. Per step, the first half
 * of the limit is stored as it arrives (the head); past it only the last half is kept (the tail), in memory, and
 * written when the step ends, after a note of how much was cut. A line longer than the line limit keeps its start
 * and says how many characters were cut.
 *
 * Set with `CELLPIPE_LOG_LIMIT` (bytes per step log: `20M`, `512K`, `0` for no limit; default 10M) and
 * `CELLPIPE_LOG_LINE_LIMIT` (characters per line, `0` for no limit; default 65536).
 */
import type { LogLine } from './types.js';
import { formatBytes } from '../core/bytes.js';

export interface LogLimits {
  /** Bytes of stored log per step (0: no limit). */
  bytes: number;
  /** Characters per line (0: no limit). */
  lineChars: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = { bytes: 10 * 1024 * 1024, lineChars: 65536 };

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** `10M`, `512k`, `2048`, `1.5G` → bytes; undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(text);
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
}

/** The limits the environment sets (CELLPIPE_LOG_LIMIT, CELLPIPE_LOG_LINE_LIMIT); a value that is no size is an error. */
export function logLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): LogLimits {
  const read = (name: string, fallback: number, what: string): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = what === 'bytes' ? parseSize(raw) : /^\s*\d+\s*$/.test(raw) ? Number(raw) : undefined;
    if (n === undefined) {
      throw new Error(`${name} must be ${what === 'bytes' ? 'a size like 10M, 512K or 2048' : 'a number of characters'} (0 for no limit), got '${raw}'`);
    }
    return n;
  };
  return {
    bytes: read('CELLPIPE_LOG_LIMIT', DEFAULT_LOG_LIMITS.bytes, 'bytes'),
    lineChars: read('CELLPIPE_LOG_LINE_LIMIT', DEFAULT_LOG_LIMITS.lineChars, 'chars'),
  };
}

/** `10485760` → `10 MiB`. */
export function humanBytes(n: number): string {
  return formatBytes(n, 'limit');
}

function systemLine(text: string): string {
  return JSON.stringify({ time: new Date().toISOString(), stream: 'system', text } satisfies LogLine) + '\n';
}

/**
 * The head-and-tail cut of one step's log. `admit` says what to append now for each line; `finish` what to append
 * when the step ends (the note of what was cut and the kept tail).
 */
export class StepLogCap {
  private readonly head: number;
  private readonly tailBudget: number;
  private cutting = false;
  /** The held-back tail: lines from `tailStart` on (a queue; dropping from its front is O(1), compacted now and then). */
  private tail: string[] = [];
  private tailStart = 0;
  private tailBytes = 0;
  private cutLines = 0;
  private cutBytes = 0;

  /** `stored`: bytes already in the log file (a step that went on in another process, or an earlier attempt). */
  constructor(
    private readonly limits: LogLimits,
    private stored = 0,
  ) {
    this.head = Math.floor(limits.bytes / 2);
    this.tailBudget = limits.bytes - this.head;
  }

  /** The line as it is kept: a text longer than the line limit keeps its start and says what was cut. */
  fitLine(line: LogLine): LogLine {
    const max = this.limits.lineChars;
    if (!max || line.text.length <= max) return line;
    const cut = line.text.length - max;
    return { ...line, text: `${line.text.slice(0, max)} … [${cut} characters cut: log lines are kept up to ${max} characters (CELLPIPE_LOG_LINE_LIMIT)]` };
  }

  /** What to append now for this encoded line (itself, a note first, or nothing while the tail is held back). */
  admit(encoded: string): string[] {
    const size = Buffer.byteLength(encoded);
    if (!this.limits.bytes || (!this.cutting && this.stored + size <= this.head)) {
      this.stored += size;
      return [encoded];
    }
    const out: string[] = [];
    if (!this.cutting) {
      this.cutting = true;
      out.push(
        systemLine(
          `[cellpipe] this step's log reached ${humanBytes(this.head)}: from here on only its last ${humanBytes(this.tailBudget)} are kept, ` +
            `written when the step ends (the log limit is ${humanBytes(this.limits.bytes)} per step: CELLPIPE_LOG_LIMIT)`,
        ),
      );
    }
    this.tail.push(encoded);
    this.tailBytes += size;
    while (this.tailBytes > this.tailBudget && this.tailStart < this.tail.length) {
      const dropped = Buffer.byteLength(this.tail[this.tailStart++]);
      this.tailBytes -= dropped;
      this.cutLines++;
      this.cutBytes += dropped;
    }
    if (this.tailStart > 4096 && this.tailStart * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.tailStart);
      this.tailStart = 0;
    }
    return out;
  }

  /** At the step's end: what was cut, then the kept tail. Empty when nothing was held back. */
  finish(): string[] {
    if (!this.cutting) return [];
    const kept = this.tail.slice(this.tailStart);
    this.tail = [];
    this.tailStart = 0;
    const note = this.cutLines
      ? `[cellpipe] … ${this.cutLines} lines (${humanBytes(this.cutBytes)}) cut here: the log keeps the first ${humanBytes(this.head)} and the last ${humanBytes(this.tailBudget)} of a step (CELLPIPE_LOG_LIMIT); its last ${kept.length} lines follow`
      : `[cellpipe] nothing was cut after all: the last ${kept.length} lines follow`;
    this.cutting = false;
    this.tailBytes = 0;
    return [systemLine(note), ...kept];
  }
}
