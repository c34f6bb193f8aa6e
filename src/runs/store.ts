/**
 * The run store: every run's record and every step's log, on disk, shared by the CLI and the backend.
 *
 * Why append-only JSON-lines files (and not SQLite or one JSON document per run):
 * - **Durable under kill -9.** Every state change is one `write()` of one line to the run's `run.jsonl`, opened
 *   with `O_APPEND`; every log line is one `write()` to the step's `<step>.jsonl`. Once the call returned, the
 *   bytes are in the kernel: a crash of the runner process cannot lose them. State changes are also flushed to
 *   the disk (`fdatasync`, off the event loop, one flush covering the changes made while the previous one ran),
 *   so a power cut loses at most the last few milliseconds of state. Nothing is ever rewritten in place, so
 *   there is no half-written document to corrupt; a torn last line (power cut mid-write) is skipped by readers.
 * - **Safe with several processes at once.** The CLI running a pipeline, the JupyterLab backend listing runs
 *   and a `cellpipe cancel` from another terminal all append to the same files. `O_APPEND` makes each line land
 *   whole at the end of the file, so writers need no lock; readers fold the lines they have not seen yet.
 * - **No native module.** SQLite through better-sqlite3 needs a compiled addon matched to the Node version (v13
 *   crashes on Node 20); plain files work wherever Node does, and stay readable with `cat` and `jq`.
 * - **Cheap to follow.** A follower remembers its byte offset and reads only what was appended since.
 *
 * Layout under the store directory (default `<notebook dir>/.cellpipe`):
 * ```
 * runs/<run-id>/run.jsonl          the record: a `create` line, then run-level and step-level patches
 * runs/<run-id>/logs/<step>.jsonl  one LogLine per line, in arrival order
 * runs/<run-id>/steps/<step>/      the step's program, outputs, metrics, error record and scratch dir
 * runs/<run-id>/.reserve           space set aside while the run is going (see below)
 * cache/<key>.json                 step cache entries (local runtime)
 * ```
 *
 * A run is owned by the process that executes it (`record.runner`: pid, host, process start time). When a
 * reader finds a run that is not finished but whose runner process is gone, it marks the run `failed` with
 * reason `interrupted` (its running steps failed, its pending steps skipped), kills step processes that
 * outlived their runner, and keeps every log line already written.
 *
 * **A full disk fails one run, says so, and keeps what was written.** A run that is going holds a small `.reserve`
 * file; when a write finds the disk full, the reserve is given back so that the run's last record lines (failed:
 * "disk full: <store>") and a note at the end of the step's log can still be written. Every write error comes out as
 * a StoreWriteError (./store-errors.ts) naming the store and what to do. Step logs are capped per step (./log-limit.ts).
 *
 * **A damaged record is said, not guessed.** A line that is valid JSON but not a record change (`null`, `{}`, a
 * create line without `notebook`, `steps` that are not a list), a first line cut short, or a `run.jsonl` that is
 * not a file make the run *damaged* (file and line): `scan` lists it apart, `get` throws DamagedRunError, the
 * other runs are not affected.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { LogLine, RunRecord, RunState, StepRecord, StepState } from './types.js';
import { awaitGroupGoneSync, processAlive, runnerGone, signalGroup } from './process.js';
import { removeLeftoversAfterRunnerDied } from './leftovers.js';
import { DamagedRunError, isNoSpace, storeWriteError, type DamagedRun, type RunDamage } from './store-errors.js';
import { logLimitsFromEnv, StepLogCap, type LogLimits } from './log-limit.js';
import { sleep } from './sleep.js';

export { DamagedRunError, StoreWriteError, type DamagedRun } from './store-errors.js';

/**
 * Log lines in a chunk read from a `<step>.jsonl` file: `carry` is the unfinished last line of the previous chunk,
 * and the unfinished end of this one comes back as the new carry. A torn line (power cut mid-write) is skipped.
 */
export function decodeLogLines(carry: string, text: string): { lines: LogLine[]; carry: string } {
  const parts = (carry + text).split('\n');
  const rest = parts.pop() ?? '';
  const lines: LogLine[] = [];
  for (const part of parts) {
    if (!part) continue;
    try {
      lines.push(JSON.parse(part) as LogLine);
    } catch {
      // a torn line after a power cut
    }
  }
  return { lines, carry: rest };
}

/** Where runs of a notebook are stored: `<notebook dir>/.cellpipe`, or `$CELLPIPE_STORE` when set. */
export function storeDirFor(notebookPath: string): string {
  const override = process.env.CELLPIPE_STORE;
  if (override) return path.resolve(override);
  return path.join(path.dirname(path.resolve(notebookPath)), '.cellpipe');
}

export const TERMINAL_RUN_STATES: readonly RunState[] = ['succeeded', 'failed', 'cancelled'];
export const TERMINAL_STEP_STATES: readonly StepState[] = ['succeeded', 'failed', 'cached', 'skipped', 'cancelled'];

export function isTerminalRun(state: RunState): boolean {
  return TERMINAL_RUN_STATES.includes(state);
}
export function isTerminalStep(state: StepState): boolean {
  return TERMINAL_STEP_STATES.includes(state);
}

/** A new run id: sortable by time, unique enough for one workspace (`20261128-040353-3f9a1c`). */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** A fresh step record in state `pending`. */
export function pendingStep(name: string, unit?: StepRecord['unit']): StepRecord {
  return { name, state: 'pending', attempts: 0, outputs: [], metrics: {}, ...(unit ? { unit: { ...unit } } : {}) };
}

type Patch<T> = { set: Partial<T>; unset?: string[] };
type Event =
  | { t: 'create'; record: RunRecord }
  | { t: 'run'; set: Partial<RunRecord>; unset?: string[] }
  | { t: 'step'; step: string; set: Partial<StepRecord>; unset?: string[] };

interface Folded {
  record: RunRecord | undefined;
  /** Bytes of run.jsonl folded so far (always at a line boundary). */
  offset: number;
  /** Number of events folded: changes whenever the record changes. */
  version: number;
  /** Complete lines folded so far (to name the line of a damage). */
  lines: number;
  /** Set when the record cannot be read as a run: nothing more is folded. */
  damage?: RunDamage;
}

/** A step's open log file and how much of it may still be written (log-limit.ts). */
interface LogFile {
  fd: number;
  cap: StepLogCap;
}

/** An open run record file and the state of its background fdatasync. */
interface RunFd {
  fd: number;
  syncing: boolean;
  dirty: boolean;
  close: boolean;
}

/** Run ids are file names: letters, digits, `._-`, at most 128 characters (file names stop at 255 bytes). */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Bytes set aside per going run, given back when the disk is full so its end can still be recorded. */
const RESERVE_BYTES = 64 * 1024;
/** A record file with no complete line for this long was cut short, not being written. */
const TORN_FIRST_LINE_MS = 5000;
const POLL_MS = 100;

/** A file name for a step name (step names are identifiers with `-`, but never trust a name with a path). */
export function stepFileName(step: string): string {
  return encodeURIComponent(step).replace(/^\./, '%2E');
}

function splitPatch<T extends object>(patch: Partial<T>): Patch<T> {
  const set: Partial<T> = {};
  const unset: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) unset.push(k);
    else (set as Record<string, unknown>)[k] = v;
  }
  return unset.length ? { set, unset } : { set };
}

function applyPatch<T extends object>(target: T, set: Partial<T>, unset?: string[]): void {
  Object.assign(target, set);
  for (const k of unset ?? []) delete (target as Record<string, unknown>)[k];
}

/**
 * Writes all of `text` to `fd` (a short write, as on a disk filling up, goes on where it stopped); `progress.done`
 * holds the bytes written so far, so a caller can resume after freeing space, or tell that a line was torn.
 */
function writeAll(fd: number, text: string, progress: { done: number } = { done: 0 }): void {
  const buf = Buffer.from(text);
  while (progress.done < buf.length) progress.done += fs.writeSync(fd, buf, progress.done, buf.length - progress.done);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What is wrong with one parsed line of run.jsonl, or undefined when it is a record change readers can fold. */
function eventProblem(ev: unknown, haveRecord: boolean): string | undefined {
  if (!isObject(ev)) return `the line is ${JSON.stringify(ev)}, not a record change`;
  const patchProblem = (e: Record<string, unknown>): string | undefined => {
    if (!isObject(e.set)) return "the change has no 'set' object";
    if (e.unset !== undefined && !(Array.isArray(e.unset) && e.unset.every((k) => typeof k === 'string'))) return "'unset' is not a list of field names";
    return undefined;
  };
  if (ev.t === 'create') {
    const r = ev.record;
    if (!isObject(r)) return "the create line has no 'record'";
    for (const k of ['id', 'notebook', 'state', 'createdAt']) if (typeof r[k] !== 'string') return `the create line's record has no '${k}'`;
    if (!Array.isArray(r.steps)) return "the create line's 'steps' is not a list";
    if (!r.steps.every((s) => isObject(s) && typeof s.name === 'string')) return "a step of the create line has no 'name'";
    return undefined;
  }
  if (!haveRecord) return 'the record does not start with a create line';
  if (ev.t === 'run') {
    const p = patchProblem(ev);
    if (p) return p;
    const set = ev.set as Record<string, unknown>;
    if ('steps' in set || 'notebook' in set || 'id' in set) return "a run change may not replace 'steps', 'notebook' or 'id'";
    if ('state' in set && typeof set.state !== 'string') return "'state' is not a text";
    return undefined;
  }
  if (ev.t === 'step') {
    if (typeof ev.step !== 'string' || !ev.step) return 'a step change names no step';
    return patchProblem(ev);
  }
  return `unknown kind of line ${JSON.stringify(ev.t ?? null)}`;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

export class RunStore {
  readonly dir: string;
  private readonly folded = new Map<string, Folded>();
  private readonly runFds = new Map<string, RunFd>();
  private readonly logFds = new Map<string, LogFile>();
  /** fdatasync after each state change (set CELLPIPE_STORE_FSYNC=0 to trade power-cut safety for speed). */
  private readonly sync: boolean;
  /** How much of each step's log is kept (default: CELLPIPE_LOG_LIMIT, CELLPIPE_LOG_LINE_LIMIT). */
  readonly logLimits: LogLimits;

  constructor(dir: string, options: { logLimits?: LogLimits } = {}) {
    this.dir = path.resolve(dir);
    this.sync = process.env.CELLPIPE_STORE_FSYNC !== '0';
    this.logLimits = options.logLimits ?? logLimitsFromEnv();
  }

  /** The run's folder: its record, logs and artifacts live under it. */
  runDir(runId: string): string {
    if (!RUN_ID.test(runId)) throw new Error(`invalid run id '${runId}'`);
    return path.join(this.dir, 'runs', runId);
  }

  /** The step's folder inside the run's folder (program, outputs, metrics, error record, scratch). */
  stepDir(runId: string, step: string): string {
    return path.join(this.runDir(runId), 'steps', stepFileName(step));
  }

  logFile(runId: string, step: string): string {
    return path.join(this.runDir(runId), 'logs', `${stepFileName(step)}.jsonl`);
  }

  private recordFile(runId: string): string {
    return path.join(this.runDir(runId), 'run.jsonl');
  }

  /**
   * Record a new run. Fails when a run with this id exists, and with a StoreWriteError (nothing left behind) when
   * the store cannot be written or its disk has no room for the run's reserve.
   */
  async create(record: RunRecord): Promise<void> {
    const dir = this.runDir(record.id);
    const file = this.recordFile(record.id);
    let made = false;
    try {
      fs.mkdirSync(path.join(this.dir, 'runs'), { recursive: true });
      // Exclusive, so two processes can never both create the same run.
      fs.mkdirSync(dir);
      made = true;
      fs.mkdirSync(path.join(dir, 'logs'));
      fs.writeFileSync(this.reserveFile(record.id), Buffer.alloc(RESERVE_BYTES));
      // 'wx': exclusive create of the record too.
      const fd = fs.openSync(file, 'wx');
      try {
        writeAll(fd, JSON.stringify({ t: 'create', record } satisfies Event) + '\n');
        if (this.sync) fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if (made) fs.rmSync(dir, { recursive: true, force: true });
      throw storeWriteError(err, this.dir, `the record of a new run ${record.id}`) ?? err;
    }
    if (this.sync) this.syncDir(dir);
    this.refresh(record.id);
  }

  /** Apply run-level fields (a field set to `undefined` is removed) and return the new record. */
  async update(runId: string, patch: Partial<RunRecord>): Promise<RunRecord> {
    // A run's steps change one by one (updateStep), and its id and notebook never: a reader refuses a run line
    // that sets them, so a whole record handed in as the patch (the Kubeflow runtime does) must not write them.
    const { steps: _steps, id: _id, notebook: _notebook, ...rest } = patch;
    return this.append(runId, { t: 'run', ...splitPatch(rest) });
  }

  /** Apply fields to one step (created `pending` first if the record has no such step) and return the record. */
  async updateStep(runId: string, step: string, patch: Partial<StepRecord>): Promise<RunRecord> {
    const { name: _ignored, ...rest } = patch;
    const record = this.append(runId, { t: 'step', step, ...splitPatch(rest) });
    if (patch.state && isTerminalStep(patch.state)) this.closeLog(runId, step);
    return record;
  }

  /** The run's current record, or undefined when there is no such run. Marks a run whose runner died `interrupted`. */
  async get(runId: string): Promise<RunRecord | undefined> {
    if (!RUN_ID.test(runId)) return undefined;
    const f = this.refresh(runId);
    if (f.damage) throw new DamagedRunError({ id: runId, ...f.damage, ...(f.record?.notebook ? { notebook: f.record.notebook } : {}) });
    if (!f.record) return undefined;
    return clone(this.recover(f).record!);
  }

  /** All readable runs (optionally of one notebook, path as recorded), newest first; damaged ones are left out. */
  async list(filter: { notebook?: string } = {}): Promise<RunRecord[]> {
    return (await this.scan(filter)).runs;
  }

  /**
   * All runs, newest first, and the runs whose record is damaged (file, line, what is wrong), so one bad record
   * never hides the others. A damaged run whose notebook is unknown passes any notebook filter.
   */
  async scan(filter: { notebook?: string | ((notebook: string) => boolean) } = {}): Promise<{ runs: RunRecord[]; damaged: DamagedRun[] }> {
    let names: string[];
    try {
      names = await fsp.readdir(path.join(this.dir, 'runs'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return { runs: [], damaged: [] };
      throw err;
    }
    const wanted = (nb: string): boolean =>
      filter.notebook === undefined || (typeof filter.notebook === 'function' ? filter.notebook(nb) : nb === filter.notebook);
    const runs: RunRecord[] = [];
    const damaged: DamagedRun[] = [];
    for (const id of names) {
      if (!RUN_ID.test(id)) continue;
      const f = this.refresh(id);
      const notebook = typeof f.record?.notebook === 'string' ? f.record.notebook : undefined;
      if (f.damage) {
        if (notebook === undefined || wanted(notebook)) damaged.push({ id, ...f.damage, ...(notebook ? { notebook } : {}) });
        continue;
      }
      if (!f.record || !wanted(f.record.notebook)) continue;
      runs.push(clone(this.recover(f).record!));
    }
    runs.sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
    damaged.sort((a, b) => (a.id < b.id ? 1 : -1));
    return { runs, damaged };
  }

  /**
   * Store one log line of a step. The line is in the kernel when this returns (one `write()` on an `O_APPEND`
   * descriptor kept open until the step ends), so the runner dying right after cannot lose it.
   */
  async appendLog(runId: string, step: string, line: LogLine): Promise<void> {
    this.appendLogSync(runId, step, line);
  }

  /**
   * Synchronous form of appendLog, for stream handlers that must keep line order without awaiting. Past the step's
   * log limit lines are held back (only the last ones are written, when the step ends); returns whether this line
   * was written now. Throws a StoreWriteError when the log cannot be written: on a full disk the log is closed with
   * a note saying so first (with the run's reserve), so what was written before stays readable.
   */
  appendLogSync(runId: string, step: string, line: LogLine): boolean {
    const file = this.logFile(runId, step);
    const doing = `the log of step '${step}' of run ${runId}`;
    let log = this.logFds.get(file);
    if (log === undefined) {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const fd = fs.openSync(file, 'a');
        log = { fd, cap: new StepLogCap(this.logLimits, fs.fstatSync(fd).size) };
      } catch (err) {
        throw storeWriteError(err, this.dir, doing) ?? err;
      }
      this.logFds.set(file, log);
    }
    const encoded = JSON.stringify(log.cap.fitLine(line)) + '\n';
    const now = log.cap.admit(encoded);
    this.writeLog(runId, file, log, now, doing);
    return now.at(-1) === encoded;
  }

  /**
   * A step's log is complete: write the tail it held back (with the note of what was cut), close the file. A step's
   * end does this; a log stored after its step ended (read back from where KFP keeps it) is closed with this.
   */
  closeLog(runId: string, step: string): void {
    const file = this.logFile(runId, step);
    const log = this.logFds.get(file);
    if (log !== undefined) this.finishLog(file, log, runId, step);
  }

  /** Append `texts` to a step's log; on a full disk end the log with a note (using the run's reserve) and throw. */
  private writeLog(runId: string, file: string, log: LogFile, texts: string[], doing: string): void {
    let progress = { done: 0 };
    try {
      for (const text of texts) writeAll(log.fd, text, (progress = { done: 0 }));
    } catch (err) {
      const failure = storeWriteError(err, this.dir, doing) ?? err;
      if (isNoSpace(err) && this.releaseReserve(runId)) {
        // What was written stays readable: a torn line is ended (readers skip it) and the log says why it stops.
        const note: LogLine = { time: new Date().toISOString(), stream: 'system', text: `${(failure as Error).message}: the log stops here` };
        try {
          writeAll(log.fd, `${progress.done ? '\n' : ''}${JSON.stringify(note)}\n`);
        } catch {
          // Nothing more can be written; the record still gets the reason (the reserve was given back for it).
        }
      }
      this.logFds.delete(file);
      fs.closeSync(log.fd);
      throw failure;
    }
  }

  /**
   * A step's log lines from `fromLine` (0-based). With `follow`, keeps waiting for new lines until the step (or
   * the run) has ended and everything written is delivered, or until `signal` aborts.
   */
  async *readLogs(
    runId: string,
    step: string,
    opts: { fromLine?: number; follow?: boolean; signal?: AbortSignal } = {},
  ): AsyncIterable<LogLine> {
    const file = this.logFile(runId, step);
    const skip = opts.fromLine ?? 0;
    let lineNo = 0;
    let offset = 0;
    let carry = '';
    let handle: fsp.FileHandle | undefined;
    const buf = Buffer.alloc(64 * 1024);
    try {
      for (;;) {
        if (opts.signal?.aborted) return;
        if (!handle) {
          try {
            handle = await fsp.open(file, 'r');
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
        let readAny = false;
        if (handle) {
          for (;;) {
            const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
            if (bytesRead === 0) break;
            readAny = true;
            offset += bytesRead;
            const chunk = decodeLogLines(carry, buf.toString('utf8', 0, bytesRead));
            carry = chunk.carry;
            for (const line of chunk.lines) {
              if (lineNo++ >= skip) yield line;
              if (opts.signal?.aborted) return;
            }
          }
        }
        if (!opts.follow) return;
        if (readAny) continue;
        // At the end of what is written: stop once the step (or the whole run) can write no more.
        const rec = await this.get(runId);
        if (!rec) return;
        const st = rec.steps.find((s) => s.name === step);
        const done = isTerminalRun(rec.state) || (st !== undefined && isTerminalStep(st.state));
        if (done) {
          // One last read: lines written between our read and the state change.
          if (handle) {
            const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
            if (bytesRead > 0) continue;
          } else if (fs.existsSync(file)) continue;
          return;
        }
        await sleep(POLL_MS, opts.signal);
      }
    } finally {
      await handle?.close();
    }
  }

  /** The record now, then after each change, until the run reaches a terminal state (or `signal` aborts). */
  async *watch(runId: string, signal?: AbortSignal): AsyncIterable<RunRecord> {
    let seen = -1;
    let lastRecoverCheck = 0;
    for (;;) {
      if (signal?.aborted) return;
      let f = this.refresh(runId);
      if (!f.record) throw new Error(`no run '${runId}' in ${this.dir}`);
      const now = Date.now();
      if (now - lastRecoverCheck > 1000 || seen === -1) {
        lastRecoverCheck = now;
        f = this.recover(f);
      }
      if (f.version !== seen) {
        seen = f.version;
        yield clone(f.record!);
      }
      if (isTerminalRun(f.record!.state)) return;
      await sleep(POLL_MS, signal);
    }
  }

  /** Close descriptors this store holds open (log files of running steps, run records). */
  close(): void {
    for (const [file, log] of [...this.logFds]) {
      try {
        this.finishLog(file, log);
      } catch {
        // closing anyway
      }
    }
    this.logFds.clear();
    for (const h of this.runFds.values()) {
      if (h.syncing) h.close = true;
      else fs.closeSync(h.fd);
    }
    this.runFds.clear();
  }

  // --- internals ------------------------------------------------------------------------------------------

  private finishLog(file: string, log: LogFile, runId?: string, step?: string): void {
    const rest = log.cap.finish();
    if (rest.length && runId) this.writeLog(runId, file, log, rest, `the log of step '${step}' of run ${runId}`);
    else if (rest.length) for (const text of rest) writeAll(log.fd, text);
    if (this.logFds.get(file) === log) {
      this.logFds.delete(file);
      fs.closeSync(log.fd);
    }
  }

  private reserveFile(runId: string): string {
    return path.join(this.runDir(runId), '.reserve');
  }

  /** Give the run's reserved space back to the disk; true when there was some. */
  private releaseReserve(runId: string): boolean {
    try {
      fs.unlinkSync(this.reserveFile(runId));
      return true;
    } catch {
      return false;
    }
  }

  private append(runId: string, event: Event): RunRecord {
    const before = this.refresh(runId);
    if (before.damage) throw new DamagedRunError({ id: runId, ...before.damage });
    if (!before.record) throw new Error(`no run '${runId}' in ${this.dir}`);
    const doing = `the record of run ${runId}`;
    let h = this.runFds.get(runId);
    if (h === undefined) {
      try {
        h = { fd: fs.openSync(this.recordFile(runId), 'a'), syncing: false, dirty: false, close: false };
      } catch (err) {
        throw storeWriteError(err, this.dir, doing) ?? err;
      }
      this.runFds.set(runId, h);
    }
    const text = JSON.stringify(event) + '\n';
    const progress = { done: 0 };
    for (;;) {
      try {
        writeAll(h.fd, text, progress);
        break;
      } catch (err) {
        // A full disk: the run's reserve is given back so its end can be recorded (the rest of the line is written).
        if (isNoSpace(err) && this.releaseReserve(runId)) continue;
        throw storeWriteError(err, this.dir, doing) ?? err;
      }
    }
    const after = this.refresh(runId);
    if (isTerminalRun(after.record!.state)) {
      h.close = true;
      this.runFds.delete(runId);
      this.releaseReserve(runId);
    }
    this.syncSoon(h);
    return clone(after.record!);
  }

  /**
   * fdatasync the record file off the event loop, coalescing the changes made meanwhile into one sync (a burst
   * of step updates costs one disk flush, not one each). The write() already happened, so a crash of this
   * process loses nothing; the sync bounds what a power cut can take to the last few milliseconds. Node
   * waits for the pending sync before it exits.
   */
  private syncSoon(h: RunFd): void {
    if (!this.sync) {
      if (h.close) fs.closeSync(h.fd);
      return;
    }
    h.dirty = true;
    if (h.syncing) return;
    h.syncing = true;
    h.dirty = false;
    fs.fdatasync(h.fd, () => {
      h.syncing = false;
      if (h.dirty) this.syncSoon(h);
      else if (h.close) fs.close(h.fd, () => {});
    });
  }

  /**
   * Fold the lines appended to run.jsonl since the last call (by anyone) into the cached record. A line that is
   * not a record change, or a record file that cannot be read, marks the run damaged and stops the folding.
   */
  private refresh(runId: string): Folded {
    let f = this.folded.get(runId);
    if (!f) {
      f = { record: undefined, offset: 0, version: 0, lines: 0 };
      this.folded.set(runId, f);
    }
    if (f.damage) return f;
    const file = this.recordFile(runId);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return f;
      f.damage = { file, problem: `the record cannot be read (${(err as Error).message})` };
      return f;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) {
        f.damage = { file, problem: 'run.jsonl is a folder (or another kind of file), not the record file' };
        return f;
      }
      const size = st.size;
      if (size <= f.offset) return f;
      const buf = Buffer.alloc(size - f.offset);
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, f.offset + got);
        if (n === 0) break;
        got += n;
      }
      const end = buf.lastIndexOf(0x0a, got - 1);
      if (end < 0) {
        // Only a partial line so far: being written now, or the first line was cut short long ago.
        if (f.offset === 0 && Date.now() - st.mtimeMs > TORN_FIRST_LINE_MS) f.damage = { file, line: 1, problem: 'the first line (the run\'s create line) is cut short' };
        return f;
      }
      const text = buf.toString('utf8', 0, end);
      f.offset += end + 1;
      for (const line of text.split('\n')) {
        f.lines++;
        if (!line) continue;
        let ev: unknown;
        try {
          ev = JSON.parse(line);
        } catch {
          // A torn line (power cut mid-write) is skipped and the rest kept — but without its create line there is no run.
          if (f.record) continue;
          f.damage = { file, line: f.lines, problem: 'the run\'s create line is not valid JSON (cut short?)' };
          return f;
        }
        const problem = eventProblem(ev, f.record !== undefined);
        if (problem) {
          f.damage = { file, line: f.lines, problem };
          return f;
        }
        this.apply(f, ev as Event);
      }
      return f;
    } catch (err) {
      f.damage = { file, problem: `the record cannot be read (${(err as Error).message})` };
      return f;
    } finally {
      fs.closeSync(fd);
    }
  }

  private apply(f: Folded, ev: Event): void {
    f.version++;
    if (ev.t === 'create') {
      if (!f.record) f.record = clone(ev.record);
      return;
    }
    if (!f.record) return;
    if (ev.t === 'run') {
      applyPatch(f.record, ev.set, ev.unset);
      return;
    }
    let step = f.record.steps.find((s) => s.name === ev.step);
    if (!step) {
      step = pendingStep(ev.step);
      f.record.steps.push(step);
    }
    applyPatch(step, ev.set, ev.unset);
  }

  /** If the run is unfinished and its runner process is gone, record that it was interrupted. */
  private recover(f: Folded): Folded {
    const rec = f.record;
    if (!rec || isTerminalRun(rec.state) || !rec.runner || !runnerGone(rec.runner)) return f;
    const now = new Date().toISOString();
    const runnerDesc = `the process running this pipeline (pid ${rec.runner.pid}) is gone`;
    for (const s of rec.steps) {
      if (s.state === 'running') {
        // A step process that outlived its runner would be an orphan: stop it.
        if (s.pid && processAlive(s.pid, s.pidStart)) {
          signalGroup(s.pid, 'SIGKILL');
          awaitGroupGoneSync(s.pid);
        }
        // What a runtime leaves besides the group (a runc container and its overlay root): its registered clean-up.
        removeLeftoversAfterRunnerDied(s, this.stepDir(rec.id, s.name));
        this.append(rec.id, {
          t: 'step',
          step: s.name,
          set: {
            state: 'failed',
            finishedAt: now,
            error: { message: `interrupted: ${runnerDesc}` },
          },
        });
      } else if (s.state === 'pending') {
        this.append(rec.id, { t: 'step', step: s.name, set: { state: 'skipped', finishedAt: now } });
      }
    }
    this.append(rec.id, { t: 'run', set: { state: 'failed', reason: 'interrupted', finishedAt: now } });
    return this.refresh(rec.id);
  }

  private syncDir(dir: string): void {
    try {
      const fd = fs.openSync(dir, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // Some platforms can't fsync a directory; the file's own fdatasync still holds.
    }
  }
}
