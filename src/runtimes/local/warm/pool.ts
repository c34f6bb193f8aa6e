/**
 * Warm starts for local steps: one fork server per (interpreter, working directory, environment, imports cells,
 * step runtime), started when a step first needs it and shared by every step and run with the same key, so a
 * changed imports cell or interpreter gets a server of its own. A step that can't start warm gets the reason, and
 * starts cold as before: opted out (`CELLPIPE_WARM=0`, `cellpipe run --cold`), a `%%` magic or a parameter in the
 * imports cells (eligibility.ts), or what the server found (threads started by the imports, fork-unsafe libraries,
 * an imports cell that raised — the cold step then reports it as it always did).
 */
import type { StepProgram } from '../../../core/model.js';
import { canonicalHash } from '../../../core/hash.js';
import { warmPlan } from './eligibility.js';
import { ForkServer, type WarmChild } from './server.js';

/** Variables that differ between the steps of one server (the child sets them): not part of the server's key. */
const PER_STEP_ENV = ['TMPDIR', 'CELLPIPE_RUN_ID', 'CELLPIPE_STEP'];

export interface WarmStartsOptions {
  /** Servers kept at once (each holds its imports in memory); the least recently used idle one stops first. A
   *  server still running its imports, or one a step is being forked from, is never stopped to make room: the
   *  pool holds more for a while instead, and is brought back to the limit as they finish. Default 4. */
  maxServers?: number;
}

/** Seconds an idle server waits for work before it exits: `CELLPIPE_WARM_IDLE` of `env`, else 600. */
export function idleSecondsOf(env: NodeJS.ProcessEnv): number {
  const idle = Number(env.CELLPIPE_WARM_IDLE);
  return Number.isFinite(idle) && idle > 0 ? idle : 600;
}

export interface WarmStepRequest {
  python: string;
  program: StepProgram;
  /** The step's full environment, as a cold start would get it. */
  env: NodeJS.ProcessEnv;
  /** The notebook's folder: where the imports run. */
  workdir: string;
  /** The step process's own working directory (its scratch folder). */
  cwd: string;
  /** `cellpipe_runtime` arguments: `run --program …`. */
  argv: string[];
  /** Mixed into the key: the step runtime's version. */
  runtimeVersion: string;
  /** How long a server this step starts waits for work once idle. */
  idleSeconds: number;
}

export type WarmStart = { child: WarmChild; serverPid: number } | { cold: string };

export class WarmStarts {
  private readonly servers = new Map<string, ForkServer>();
  /** Steps (or prewarms) waiting on each server right now. */
  private readonly users = new Map<ForkServer, number>();
  /** Keys whose server was not usable, with why and when: their steps start cold at once, for an idle period (a
   *  long-lived backend tries again later: the package that failed to import may be installed by then). */
  private readonly refused = new Map<string, { reason: string; at: number }>();
  private readonly maxServers: number;
  private static process?: WarmStarts;

  /**
   * The servers of this process: every local runtime in it (the backend has one per run store) shares them, so
   * the limit on servers holds for the process, and notebooks in one folder share their servers.
   */
  static shared(): WarmStarts {
    WarmStarts.process ??= new WarmStarts();
    return WarmStarts.process;
  }

  constructor(options: WarmStartsOptions = {}) {
    this.maxServers = Math.max(1, options.maxServers ?? 4);
  }

  /** The server a step would fork from: its key, environment and imports cells, or why it starts cold. */
  private keyed(req: Omit<WarmStepRequest, 'argv' | 'cwd'>): { key: string; env: NodeJS.ProcessEnv; cells: StepProgram['cells'] } | { cold: string } {
    const plan = warmPlan(req.program);
    if ('cold' in plan) return plan;
    const env: NodeJS.ProcessEnv = { ...req.env };
    for (const k of PER_STEP_ENV) delete env[k];
    const key = canonicalHash({ python: req.python, workdir: req.workdir, env, cells: plan.cells, runtime: req.runtimeVersion });
    const known = this.refused.get(key);
    if (known && Date.now() - known.at < req.idleSeconds * 1000) return { cold: known.reason };
    return { key, env, cells: plan.cells };
  }

  /**
   * Starts (or keeps) the server this step will fork from and waits until its imports ran, so the first Run after
   * a notebook is opened starts warm too. Resolves with its pid, or why the step will start cold.
   */
  async prewarm(req: Omit<WarmStepRequest, 'argv' | 'cwd'>): Promise<{ pid: number } | { cold: string }> {
    const k = this.keyed(req);
    if ('cold' in k) return k;
    const server = this.server(k.key, req, k.env, k.cells);
    return this.using(server, async () => {
      const ready = await server.ready;
      if (ready.ok) return { pid: ready.pid };
      this.forget(k.key, server, ready);
      return { cold: ready.reason };
    });
  }

  /** Forks the step from its server (started first when needed), or says why it must start cold. */
  async start(req: WarmStepRequest): Promise<WarmStart> {
    const k = this.keyed(req);
    if ('cold' in k) return k;
    const { key, env: serverEnv, cells } = k;
    for (let attempt = 0; attempt < 2; attempt++) {
      const server = this.server(key, req, serverEnv, cells);
      const got = await this.using(server, async (): Promise<WarmStart | 'again'> => {
        const ready = await server.ready;
        if (!ready.ok) {
          this.forget(key, server, ready);
          return { cold: ready.reason };
        }
        try {
          const child = await server.fork({ argv: req.argv, env: req.env, cwd: req.cwd });
          return { child, serverPid: ready.pid };
        } catch (err) {
          if (this.servers.get(key) === server) this.servers.delete(key);
          server.stop('it could not fork a step');
          if (attempt === 0 && server.exited) return 'again'; // it ended meanwhile (idle): start another
          return { cold: (err as Error).message };
        }
      });
      if (got !== 'again') return got;
    }
    return { cold: 'the fork server could not be reached' };
  }

  /** Runs `work` with `server` marked as in use, so it is not stopped to make room meanwhile. */
  private async using<T>(server: ForkServer, work: () => Promise<T>): Promise<T> {
    this.users.set(server, (this.users.get(server) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const n = (this.users.get(server) ?? 1) - 1;
      if (n > 0) this.users.set(server, n);
      else this.users.delete(server);
      this.trim();
    }
  }

  /** A server that never became ready: its key starts cold for a while, unless this process stopped it (then the
   *  failure says nothing about the imports). */
  private forget(key: string, server: ForkServer, ready: { reason: string; stopped?: boolean }): void {
    if (this.servers.get(key) === server) this.servers.delete(key);
    if (!ready.stopped) this.refused.set(key, { reason: ready.reason, at: Date.now() });
  }

  /** Stops least recently used servers while there are more than the limit, skipping any still importing or in use
   *  (and `keep`, about to be used). */
  private trim(keep?: ForkServer): void {
    for (const [key, s] of this.servers) {
      if (this.servers.size <= this.maxServers) return;
      if (s === keep || s.starting || this.users.has(s)) continue;
      this.servers.delete(key);
      s.stop(`at most ${this.maxServers} fork servers are kept and it was the least recently used`);
    }
  }

  private server(key: string, req: Omit<WarmStepRequest, 'argv' | 'cwd'>, env: NodeJS.ProcessEnv, cells: StepProgram['cells']): ForkServer {
    let server = this.servers.get(key);
    const changed = server && !server.exited ? server.changedFile() : undefined;
    if (server && (server.exited || changed)) {
      // Gone, or what its imports read has changed (a cold step would see the new code): a new server.
      this.servers.delete(key);
      server.stop(`${changed} changed since its imports read it`);
      server = undefined;
    }
    if (server) {
      // Most recently used last (Map order), so the first one is the one to stop when there are too many.
      this.servers.delete(key);
      this.servers.set(key, server);
      this.trim(server);
      return server;
    }
    const imports: StepProgram = { ...req.program, step: `${req.program.step} (imports)`, cells, inputs: [], outputs: [], metrics: [], parameters: [] };
    server = new ForkServer({ python: req.python, env, workdir: req.workdir, imports, idleSeconds: req.idleSeconds });
    this.servers.set(key, server);
    this.trim(server);
    return server;
  }

  /** Pids of the servers running now (tests, and stopping them). */
  pids(): number[] {
    return [...this.servers.values()].filter((s) => !s.exited && s.pid).map((s) => s.pid!);
  }

  /** Stops every server (their steps run on). */
  stopAll(): void {
    for (const s of this.servers.values()) s.stop('every fork server was stopped');
    this.servers.clear();
  }
}
