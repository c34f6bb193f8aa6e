/**
 * Following a step's log as it is written, with low latency for runs this process executes.
 *
 * The log file in the run store is the only source of truth: lines are read from it by byte offset, so a
 * follower never duplicates, reorders or loses a line, whoever wrote it. What differs is *when* it looks:
 * a runtime that runs steps in this process (the local runtime, an EventEmitter with `log` and `change`
 * events) wakes the follower the moment a line is stored; otherwise (runs of another process, e.g. the CLI)
 * the file is polled.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { RunStore } from '../runs/store.js';
import { decodeLogLines, isTerminalRun, isTerminalStep } from '../runs/store.js';
import type { LogLine, RunRecord } from '../runs/types.js';

/** How often the file is looked at when no event says so. */
export const POLL_MS = 100;

/** The events of a runtime that executes runs in this process. */
interface LiveRuntime {
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

function isLive(runtime: unknown): runtime is LiveRuntime {
  const r = runtime as Partial<LiveRuntime> | null;
  return !!r && typeof r.on === 'function' && typeof r.off === 'function';
}

function stepFinished(record: RunRecord | undefined, step: string): boolean {
  if (!record) return true;
  const s = record.steps.find((x) => x.name === step);
  return isTerminalRun(record.state) || (s !== undefined && isTerminalStep(s.state));
}

/**
 * What a follower waits on between looks: `poke()` ends the current `waitForChange()` at once (an event said
 * something changed, or the follower is aborted); otherwise it ends after the poll interval — five times longer
 * for a live runtime, whose events make the timer only a fallback.
 */
function changeWaiter(live: boolean): { poke: () => void; waitForChange: () => Promise<void> } {
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const waitForChange = async () => {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(poke, live ? POLL_MS * 5 : POLL_MS);
    });
    clearTimeout(timer);
  };
  return { poke, waitForChange };
}

/**
 * The step's log lines from index `fromLine` (0-based), then each new line as it is stored, until the step
 * (or the run) has ended and every line is delivered, or `signal` aborts.
 */
export async function* tailLog(
  store: RunStore,
  runtime: unknown,
  runId: string,
  step: string,
  fromLine: number,
  signal: AbortSignal,
): AsyncIterable<LogLine> {
  const file = store.logFile(runId, step);
  const live = isLive(runtime);
  const { poke, waitForChange } = changeWaiter(live);
  let finished = false;
  const onLog = (r: string, s: string) => {
    if (r === runId && s === step) poke();
  };
  const onChange = (record: RunRecord) => {
    if (record.id === runId && stepFinished(record, step)) {
      finished = true;
      poke();
    }
  };
  if (live) {
    runtime.on('log', onLog);
    runtime.on('change', onChange);
  }
  signal.addEventListener('abort', poke);

  let handle: FileHandle | undefined;
  let offset = 0;
  let carry = '';
  let index = 0;
  const buf = Buffer.alloc(64 * 1024);
  /** Lines appended since the last read, parsed, a chunk at a time (a torn last line waits in `carry`). */
  async function* readNew(): AsyncIterable<LogLine[]> {
    if (!handle) {
      try {
        handle = await open(file, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
    }
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      const chunk = decodeLogLines(carry, buf.toString('utf8', 0, bytesRead));
      carry = chunk.carry;
      const out: LogLine[] = [];
      for (const line of chunk.lines) if (index++ >= fromLine) out.push(line);
      // Handed over chunk by chunk: the consumer (paced by its client) decides when the next one is read.
      yield out;
    }
  }

  try {
    for (;;) {
      if (signal.aborted) return;
      // Decide "finished" before reading, so lines written just before the end are still read below.
      const done = finished || stepFinished(await store.get(runId), step);
      for await (const lines of readNew()) {
        for (const line of lines) {
          yield line;
          if (signal.aborted) return;
        }
      }
      if (done) return;
      // Events make this instant for our own runs; the timer covers everyone else's.
      await waitForChange();
    }
  } finally {
    if (live) {
      runtime.off('log', onLog);
      runtime.off('change', onChange);
    }
    signal.removeEventListener('abort', poke);
    await handle?.close();
  }
}

/**
 * The run's record now, then after each change, until it reaches a terminal state (or `signal` aborts).
 * Woken by the runtime's `change` events for runs of this process, polled otherwise.
 */
export async function* watchRun(store: RunStore, runtime: unknown, runId: string, signal: AbortSignal): AsyncIterable<RunRecord> {
  const live = isLive(runtime);
  const { poke, waitForChange } = changeWaiter(live);
  const onChange = (record: RunRecord) => {
    if (record.id === runId) poke();
  };
  if (live) runtime.on('change', onChange);
  signal.addEventListener('abort', poke);
  let last = '';
  try {
    for (;;) {
      if (signal.aborted) return;
      const record = await store.get(runId);
      if (!record) return;
      const text = JSON.stringify(record);
      if (text !== last) {
        last = text;
        yield record;
      }
      if (isTerminalRun(record.state)) return;
      await waitForChange();
    }
  } finally {
    if (live) runtime.off('change', onChange);
    signal.removeEventListener('abort', poke);
  }
}
