/**
 * Warm starts for local steps: one fork server per (interpreter, working directory, environment, imports cells,
 * step runtime), started when a step first needs it and shared by every step and run with the same key, so a
 * changed imports cell or interpreter gets a server of its own. A step that can't start warm gets the reason, and
 * starts cold as before: opted out (`CELLPIPE_WARM=0`, `cellpipe run --cold`), a `%%` magic or a parameter in the
 * imports cells (eligibility.ts), or what the server found (threads started by the imports, fork-unsafe libraries,
 * an imports cell that raised — the cold step then reports it as it always did).
 */
import type { StepProgram } from '../../../core/model.js';
import { canonicalHash } from '../cache.js';
import { warmPlan } from './eligibility.js';
import { ForkServer, type WarmChild } from './server.js';

/** Variables that differ between the steps of one server (the child sets them): not part of the server's key. */
const PER_STEP_ENV = ['TMPDIR', 'CELLPIPE_RUN_ID', 'CELLPIPE_STEP'];

export interface WarmStartsOptions {
  /** Servers kept at once (each holds its imports in memory); the least recently used one stops first. Default 4. */
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
    const ready = await server.ready;
    if (ready.ok) return { pid: ready.pid };
    this.servers.delete(k.key);
    this.refused.set(k.key, { reason: ready.reason, at: Date.now() });
    return { cold: ready.reason };
  }

  /** Forks the step from its server (started first when needed), or says why it must start cold. */
  async start(req: WarmStepRequest): Promise<WarmStart> {
    const k = this.keyed(req);
    if ('cold' in k) return k;
    const { key, env: serverEnv, cells } = k;
    for (let attempt = 0; attempt < 2; attempt++) {
      const server = this.server(key, req, serverEnv, cells);
      const ready = await server.ready;
      if (!ready.ok) {
        this.servers.delete(key);
        this.refused.set(key, { reason: ready.reason, at: Date.now() });
        return { cold: ready.reason };
      }
      try {
        const child = await server.fork({ argv: req.argv, env: req.env, cwd: req.cwd });
        return { child, serverPid: ready.pid };
      } catch (err) {
        this.servers.delete(key);
        server.stop();
        if (attempt === 0 && server.exited) continue; // it ended meanwhile (idle): start another
        return { cold: (err as Error).message };
      }
    }
    return { cold: 'the fork server could not be reached' };
  }

  private server(key: string, req: Omit<WarmStepRequest, 'argv' | 'cwd'>, env: NodeJS.ProcessEnv, cells: StepProgram['cells']): ForkServer {
    let server = this.servers.get(key);
    if (server && (server.exited || server.changedFile())) {
      // Gone, or what its imports read has changed (a cold step would see the new code): a new server.
      this.servers.delete(key);
      server.stop();
      server = undefined;
    }
    if (server) {
      // Most recently used last (Map order), so the first one is the one to stop when there are too many.
      this.servers.delete(key);
      this.servers.set(key, server);
      return server;
    }
    const imports: StepProgram = { ...req.program, step: `${req.program.step} (imports)`, cells, inputs: [], outputs: [], metrics: [], parameters: [] };
    server = new ForkServer({ python: req.python, env, workdir: req.workdir, imports, idleSeconds: req.idleSeconds });
    this.servers.set(key, server);
    while (this.servers.size > this.maxServers) {
      const [oldKey, old] = this.servers.entries().next().value!;
      this.servers.delete(oldKey);
      old.stop();
    }
    return server;
  }

  /** Pids of the servers running now (tests, and stopping them). */
  pids(): number[] {
    return [...this.servers.values()].filter((s) => !s.exited && s.pid).map((s) => s.pid!);
  }

  /** Stops every server (their steps run on). */
  stopAll(): void {
    for (const s of this.servers.values()) s.stop();
    this.servers.clear();
  }
}
