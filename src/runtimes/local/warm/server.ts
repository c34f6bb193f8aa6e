/**
 * One fork server (`python -m cellpipe_runtime forkserver`, python/cellpipe_runtime/forkserver.py): started with
 * the imports cells of a set of steps, it answers `fork` requests with a child process that runs one step attempt.
 *
 * The server is started detached (its own process group, so a Ctrl-C in the terminal reaches the CLI, which
 * cancels its run, and not the server) and unreferenced (an idle server never keeps Node alive). Its stdin is a
 * pipe from this process: when this process ends, however it ends, the pipe closes and the server exits, so
 * nothing stays behind. It also exits on its own after `idleSeconds` without work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { StepProgram } from '../../../core/model.js';

export interface ForkServerOptions {
  python: string;
  /** Environment of the server, hence of every step forked from it (the step's own variables are set per fork). */
  env: NodeJS.ProcessEnv;
  /** Where the imports run (the notebook's folder, as a step's). */
  workdir: string;
  /** A program holding only the cells to run ahead (all `imports`). */
  imports: StepProgram;
  idleSeconds: number;
}

/** Whether the server ran its imports and waits for steps; if not, why (`stopped`: this process stopped it). */
export type ServerReady = { ok: true; pid: number; importSeconds: number } | { ok: false; reason: string; stopped?: boolean };

/** A file whose change makes a server stale: [path, mtime in ns, size] as the server saw it after its imports. */
type Watched = [string, string, number];

/** What one step attempt asks the server for: `python -m cellpipe_runtime <argv>` in `cwd` with `env`. */
export interface ForkRequest {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** A step's process as the runtime uses it: a ChildProcess it spawned (cold) or a {@link WarmChild}. */
export interface StepProcess {
  readonly pid?: number;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

/**
 * A step process forked by the server, shaped as the runtime uses a ChildProcess: `pid` (= its process group),
 * `stdout`/`stderr`, and `exit` then `close` with (code, signal name) — `close` once its output has ended too.
 */
export class WarmChild extends EventEmitter {
  pid?: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  private exitStatus?: [number | null, NodeJS.Signals | null];
  private openStreams = 2;
  private closed = false;
  private reaped = false;

  constructor(stdout: net.Socket, stderr: net.Socket) {
    super();
    this.stdout = stdout;
    this.stderr = stderr;
    for (const s of [stdout, stderr]) s.once('close', () => this.streamClosed());
  }

  /** @internal the server reaped the child (or the server went away: code and signal null). */
  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.reaped) return;
    this.reaped = true;
    // The status may arrive with the pid, before whoever awaited fork() has listened: tell them a turn later.
    setImmediate(() => {
      this.exitStatus = [code, signal];
      this.emit('exit', code, signal);
      this.maybeClose();
    });
  }

  private streamClosed(): void {
    this.openStreams--;
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.exitStatus && this.openStreams === 0 && !this.closed) {
      this.closed = true;
      this.emit('close', ...this.exitStatus);
    }
  }
}

export class ForkServer {
  readonly ready: Promise<ServerReady>;
  private child?: ChildProcess;
  private readonly dir: string;
  private readonly socketPath: string;
  private gone = false;
  private answered = false;
  /** Why this process stopped the server, once it has: what a step waiting for it is told. */
  private stoppedBecause?: string;
  private stderrTail: string[] = [];
  private watched: Watched[] = [];

  constructor(private readonly options: ForkServerOptions) {
    // Unix socket paths are short (108 bytes): a private folder in the system's temporary directory.
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-warm-'));
    this.socketPath = path.join(this.dir, 's');
    this.ready = this.start();
  }

  /** Whether the server process has ended (idle, killed, or never became ready). */
  get exited(): boolean {
    return this.gone;
  }

  /** Still running the imports cells (steps wait for it): stopping it now would fail them. */
  get starting(): boolean {
    return !this.answered && !this.gone;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Which file the server's imports came from has changed since (a module next to the notebook, an installed
   * package), if one has: a cold step would import the new one, so the server must not be used any more.
   */
  changedFile(): string | undefined {
    for (const [file, mtimeNs, size] of this.watched) {
      const st = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
      if (!st || st.mtimeNs.toString() !== mtimeNs || Number(st.size) !== size) return file;
    }
    return undefined;
  }

  private start(): Promise<ServerReady> {
    const programFile = path.join(this.dir, 'imports.json');
    fs.writeFileSync(programFile, JSON.stringify(this.options.imports));
    return new Promise<ServerReady>((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(
          this.options.python,
          ['-m', 'cellpipe_runtime', 'forkserver', '--imports', programFile, '--socket', this.socketPath,
            '--workdir', this.options.workdir, '--idle', String(this.options.idleSeconds), '--status-fd', '3'],
          { cwd: this.options.workdir, env: this.options.env, detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] },
        );
      } catch (err) {
        this.gone = true;
        resolve({ ok: false, reason: `the fork server could not be started: ${(err as Error).message}` });
        return;
      }
      this.child = child;
      const answer = (r: ServerReady): void => {
        if (this.answered) return;
        this.answered = true;
        // Stopped by us while importing, the server's own account (an imports cell "exited", or the process
        // ended by a signal) would hide why: say what stopped it.
        if (!r.ok && this.stoppedBecause) r = { ok: false, stopped: true, reason: `its fork server was stopped while it ran the imports cells (${this.stoppedBecause})` };
        resolve(r);
      };
      // What the imports print is each step's to show (the child replays it); here only the tail, for errors.
      child.stdout!.resume();
      createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (l) => {
        this.stderrTail.push(l);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
      });
      const status = child.stdio[3] as Readable;
      createInterface({ input: status, crlfDelay: Infinity }).once('line', (line) => {
        try {
          const s = JSON.parse(line) as { ready: boolean; reason?: string; pid?: number; importSeconds?: number; watch?: Watched[] };
          this.watched = s.watch ?? [];
          answer(s.ready ? { ok: true, pid: s.pid ?? child.pid!, importSeconds: s.importSeconds ?? 0 } : { ok: false, reason: s.reason ?? 'not ready' });
        } catch {
          answer({ ok: false, reason: `the fork server said something unexpected: ${line.slice(0, 200)}` });
        }
      });
      child.on('error', (err) => answer({ ok: false, reason: `the fork server could not be started: ${err.message}` }));
      child.on('exit', (code, signal) => {
        this.gone = true;
        fs.rmSync(this.dir, { recursive: true, force: true });
        const tail = this.stderrTail.filter((l) => l.trim()).slice(-3).join(' | ');
        answer({ ok: false, reason: `the fork server exited (${signal ?? `code ${code}`}) before it was ready${tail ? `: ${tail}` : ''}` });
      });
      // Never keep this process alive for an idle server; its stdin pipe closing is what tells it we are gone.
      child.unref();
      for (const s of [child.stdin, child.stdout, child.stderr, status]) (s as unknown as net.Socket | null)?.unref?.();
    });
  }

  /** Forks one step attempt; resolves once its process group exists. Rejects when the server can't (gone). */
  async fork(request: ForkRequest): Promise<WarmChild> {
    const ready = await this.ready;
    if (!ready.ok) throw new Error(ready.reason);
    if (this.gone) throw new Error('the fork server has exited');
    const id = randomUUID();
    const connect = (first: object): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const sock = net.connect(this.socketPath);
        sock.once('connect', () => {
          sock.write(`${JSON.stringify(first)}\n`);
          sock.off('error', reject);
          // A reset connection (the server or the step killed) ends in 'close', which is what is watched.
          sock.on('error', () => {});
          resolve(sock);
        });
        sock.once('error', reject);
      });
    const opened = await Promise.allSettled([
      connect({ op: 'run', id, argv: request.argv, env: request.env, cwd: request.cwd }),
      connect({ op: 'attach', id, stream: 'stdout' }),
      connect({ op: 'attach', id, stream: 'stderr' }),
    ]);
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      for (const o of opened) if (o.status === 'fulfilled') o.value.destroy();
      throw new Error(`the fork server did not take the step: ${(failed.reason as Error).message}`);
    }
    const [control, stdout, stderr] = opened.map((o) => (o as PromiseFulfilledResult<net.Socket>).value);
    const child = new WarmChild(stdout, stderr);
    return new Promise<WarmChild>((resolve, reject) => {
      let started = false;
      let reaped = false;
      createInterface({ input: control, crlfDelay: Infinity }).on('line', (line) => {
        let m: { pid?: number; exit?: number; signal?: number; error?: string };
        try {
          m = JSON.parse(line);
        } catch {
          return;
        }
        if (m.pid !== undefined && !started) {
          started = true;
          child.pid = m.pid;
          resolve(child);
        } else if (m.exit !== undefined) {
          reaped = true;
          child.exited(m.exit, null);
        } else if (m.signal !== undefined) {
          reaped = true;
          child.exited(null, signalName(m.signal));
        }
        else if (m.error && !started) reject(new Error(`the fork server refused the step: ${m.error}`));
      });
      control.on('error', () => {});
      control.once('close', () => {
        if (!started) {
          stdout.destroy();
          stderr.destroy();
          reject(new Error('the fork server closed the connection before the step started'));
          return;
        }
        if (reaped) return;
        // No exit status: the server died while the step ran. Its process group is stopped by the runtime.
        const tail = this.stderrTail.filter((l) => l.trim()).slice(-3).join(' | ');
        child.emit('error', new Error(`the fork server ended while the step ran, so its exit status is unknown${tail ? ` (it said: ${tail})` : ''}`));
        child.exited(null, null);
      });
    });
  }

  /** Stops the server (steps it forked run on: each is its own process group, stopped as any step is). `why` is
   *  what a step still waiting for its imports is told. */
  stop(why = 'cellpipe stopped it'): void {
    if (this.gone || !this.child?.pid) return;
    this.stoppedBecause ??= why;
    try {
      process.kill(this.child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(os.constants.signals).find(([, v]) => v === n);
  return (entry?.[0] as NodeJS.Signals | undefined) ?? null;
}
