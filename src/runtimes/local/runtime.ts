/**
 * The local runtime: runs a compiled pipeline on this machine. Every step is one process of the step runtime
 * (`python -m cellpipe_runtime run …`) in its own process group, started as soon as the steps it depends on
 * have finished, at most `concurrency` at a time. Everything the run produces goes to the run store: the
 * record, each step's state, every stdout/stderr line as it arrives, outputs under `<store>/runs/<id>/steps/`.
 *
 * `submit` returns once the run is recorded; the run goes on in the background of this Node process
 * (`wait(runId)` to await it). `cancel` works from any process: it records the request in the store, which the
 * runner polls, and stops the step process groups itself if the runner does not answer.
 */
import { execFile, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { JsonValue, Step, StepProgram } from '../../core/model.js';
import type { LogLine, RunRecord, StepError, StepOutput, StepRecord, StepState } from '../../runs/types.js';
import type { LogOptions, RunRequest, Runtime } from '../types.js';
import { isCellOutputsLine } from '../../runs/cell-outputs-log.js';
import { RunStore, isTerminalRun, newRunId, pendingStep } from '../../runs/store.js';
import { removeLeftoversAfterKilled } from '../../runs/leftovers.js';
import { storeWriteError } from '../../runs/store-errors.js';
import { awaitGroupGone, currentRunner, processAlive, processStartTime, runnerGone, signalGroup } from '../../runs/process.js';
import { canonicalHash } from '../../core/hash.js';
import { StepCache, hashArtifact, stepCacheKey, stepFileHashes } from './cache.js';
import { paramText } from './params.js';
import { CELL_OUTPUTS_FILE } from '../../runs/outputs.js';
import { programHash as stepProgramHash } from '../../runs/partial.js';
import { WarmStarts, idleSecondsOf } from './warm/pool.js';
import { localSecrets } from '../secrets.js';
import type { StepProcess } from './warm/server.js';
import { sleep } from '../../runs/sleep.js';
import { ORDERED_LOG_ENV, demuxStdoutLine } from './ordered-log.js';

export interface LocalRuntimeOptions {
  store: RunStore;
  /** Steps running at once; default: the number of CPUs. */
  concurrency?: number;
  /** Python interpreter for steps; default `$CELLPIPE_PYTHON`, else `python3` (the user's own Python). */
  python?: string;
  /** Directory holding the `cellpipe_runtime` package; default `$CELLPIPE_RUNTIME_PATH`, else `<package>/python`. */
  runtimePath?: string;
  /** Time between SIGTERM and SIGKILL when stopping a step (cancel, timeout); default 5000 ms. */
  killGraceMs?: number;
  /** Environment for step processes; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Also save each step's final variables (`--dump-variables`) under `<step dir>/variables` (equivalence tests). */
  dumpVariables?: boolean;
  /** Fork steps from a server that ran their imports cells once (warm/); default unless `CELLPIPE_WARM=0`. */
  warm?: boolean;
  /** The fork servers to use (tests: a pool of their own, with its own limit); default this process's shared ones. */
  warmStarts?: WarmStarts;
}

/** Events: `log` (runId, step, LogLine) for every stored line, `change` (RunRecord) after every state change. */
export interface LocalRuntimeEvents {
  log: [runId: string, step: string, line: LogLine];
  change: [record: RunRecord];
}

/** The `python/` folder of this package: two levels above `lib/runtimes/local/`. */
export function defaultRuntimePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CELLPIPE_RUNTIME_PATH) return path.resolve(env.CELLPIPE_RUNTIME_PATH);
  return fileURLToPath(new URL('../../../python', import.meta.url));
}

const DONE_OK: readonly StepState[] = ['succeeded', 'cached'];
const DONE_BAD: readonly StepState[] = ['failed', 'skipped', 'cancelled'];

/** A step made ready to run (see `LocalRuntime.prepareStep`). */
interface PreparedStep {
  program: StepProgram;
  /** The step's folder in the run. */
  dir: string;
  inputPaths: Record<string, string>;
  paramTexts: Record<string, string>;
  cacheKey: string;
  programHash: string;
}

/** A run this runtime is executing now (exported for runtimes built on this one). */
export interface ActiveRun {
  request: RunRequest;
  aborted: boolean;
  /** Step processes running now, by the step they run. */
  children: Map<StepProcess, string>;
  done: Promise<RunRecord>;
  stop: (reason: string) => void;
  /** Set when the run store could not be written (disk full …): the run stops and fails with this message. */
  failure?: string;
}

/** One attempt of one step, as `launchStep` gets it: host paths of everything the step reads and writes. */
export interface StepLaunch {
  runId: string;
  run: ActiveRun;
  step: Step;
  attempt: number;
  programFile: string;
  /** Parameter name → value as text (KFP's form). */
  parameters: Record<string, string>;
  /** Input name → the producer's artifact directory. */
  inputs: Record<string, string>;
  /** Output name → the (empty) artifact directory to fill. */
  outputs: Record<string, string>;
  /** Where the step's folders are: `<stepDir>/outputs/<name>`, metrics and error record files, scratch. */
  stepDir: string;
  metricsFile: string;
  errorFile: string;
  /** Where the step runtime writes what each cell showed (`--cell-outputs`). */
  cellOutputsFile: string;
  scratch: string;
  workdir: string;
}

export interface StepResult {
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  lastStderr?: string;
}

/** A process to run for a step instead of the local Python (what a container runtime starts). */
export interface StepCommand {
  file: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export class LocalRuntime extends EventEmitter<LocalRuntimeEvents> implements Runtime {
  readonly store: RunStore;
  readonly concurrency: number;
  readonly python: string;
  readonly runtimePath: string;
  readonly killGraceMs: number;
  readonly dumpVariables: boolean;
  protected readonly env: NodeJS.ProcessEnv;
  private readonly cache: StepCache;
  private readonly active = new Map<string, ActiveRun>();
  /** What the run records say ran them. */
  protected readonly runtimeKind: RunRecord['runtime'] = 'local';
  private versionMemo?: string;
  /** Fork servers for warm starts, or why every step starts cold. */
  readonly warmStarts?: WarmStarts;
  private readonly coldBecause?: string;

  constructor(options: LocalRuntimeOptions) {
    super();
    const env = options.env ?? process.env;
    this.store = options.store;
    this.concurrency = Math.max(1, options.concurrency ?? os.availableParallelism());
    this.python = options.python ?? env.CELLPIPE_PYTHON ?? 'python3';
    this.runtimePath = options.runtimePath ?? defaultRuntimePath(env);
    this.killGraceMs = options.killGraceMs ?? 5000;
    this.dumpVariables = options.dumpVariables ?? false;
    this.env = env;
    this.cache = new StepCache(path.join(this.store.dir, 'cache'));
    if (options.warm === false) this.coldBecause = 'cold starts were asked for (--cold)';
    else if (env.CELLPIPE_WARM === '0') this.coldBecause = 'CELLPIPE_WARM=0 turns warm starts off';
    else this.warmStarts = options.warmStarts ?? WarmStarts.shared();
  }

  /**
   * Version of the step runtime as far as caching is concerned: a hash of the runtime package's source files
   * and of the interpreter, so a changed runtime never reuses outputs made by the old one.
   */
  runtimeVersion(): string {
    if (this.versionMemo) return this.versionMemo;
    const pkg = path.join(this.runtimePath, 'cellpipe_runtime');
    if (!fs.existsSync(pkg)) {
      throw new Error(
        `the cellpipe step runtime is not at ${pkg}: reinstall cellpipe, or set CELLPIPE_RUNTIME_PATH to the folder that contains cellpipe_runtime`,
      );
    }
    const files: Record<string, string> = {};
    const visit = (dir: string, rel: string): void => {
      for (const name of fs.readdirSync(dir).sort()) {
        const abs = path.join(dir, name);
        const st = fs.statSync(abs);
        if (st.isDirectory() && name !== '__pycache__') visit(abs, `${rel}${name}/`);
        else if (st.isFile() && name.endsWith('.py')) files[rel + name] = canonicalHash(fs.readFileSync(abs, 'utf8'));
      }
    };
    visit(pkg, '');
    this.versionMemo = canonicalHash({ files, python: this.python });
    return this.versionMemo;
  }

  /** The record a submitted run starts with: state `queued`, every step pending, owned by `runner` when given. */
  static queuedRecord(id: string, request: RunRequest, parameters: Record<string, JsonValue>, runner?: RunRecord['runner']): RunRecord {
    return {
      id,
      notebook: request.notebookPath,
      notebookHash: request.notebookHash,
      specHash: request.specHash,
      runtime: 'local',
      parameters,
      parameterTypes: Object.fromEntries(request.graph.parameters.map((p) => [p.name, p.type])),
      state: 'queued',
      createdAt: new Date().toISOString(),
      steps: request.graph.steps.map((s) => pendingStep(s.name, s.unit)),
      ...(runner ? { runner } : {}),
    };
  }

  /** Record the run (state `queued`) and start it in the background; returns its id. */
  async submit(request: RunRequest): Promise<string> {
    const problems: string[] = [];
    for (const s of request.graph.steps) if (!request.programs[s.name]) problems.push(`step '${s.name}' has no program`);
    if (problems.length) throw new Error(`cannot run: ${problems.join('; ')}`);
    this.runtimeVersion(); // fail now, not in the background, when the step runtime is missing

    const parameters: Record<string, JsonValue> = {};
    for (const p of request.graph.parameters) parameters[p.name] = p.default;
    Object.assign(parameters, request.parameters);

    const id = newRunId();
    const record: RunRecord = { ...LocalRuntime.queuedRecord(id, request, parameters, currentRunner()), runtime: this.runtimeKind };
    await this.store.create(record);
    this.emit('change', structuredClone(record));

    let stop: (reason: string) => void = () => {};
    const run: ActiveRun = {
      request: { ...request, parameters },
      aborted: false,
      children: new Map(),
      done: Promise.resolve(record),
      stop: (reason) => stop(reason),
    };
    this.active.set(id, run);
    run.done = new Promise<RunRecord>((resolve) => {
      stop = (reason) => {
        if (run.aborted) return;
        run.aborted = true;
        for (const [child, step] of run.children) {
          this.log(id, step, `${run.failure ? 'stopping' : 'cancelling'} (${reason}): stopping the step`);
          this.stopChild(child);
        }
      };
      // Start on the next tick so that submit() returns first.
      setImmediate(() => {
        this.execute(id, run)
          .catch(async (err) => {
            const failure = storeWriteError(err, this.store.dir, `the record of run ${id}`);
            const reason = failure ? failure.sentence : `runner error: ${err instanceof Error ? err.message : String(err)}`;
            return this.update(id, { state: 'failed', reason, finishedAt: new Date().toISOString() });
          })
          .catch((err): RunRecord => {
            // Not even the end could be recorded (the disk stayed full): said here, and the run ends in this process.
            const reason = storeWriteError(err, this.store.dir, `the record of run ${id}`)?.sentence ?? String((err as Error)?.message ?? err);
            process.stderr.write(`cellpipe: the end of run ${id} could not be recorded: ${reason}\n`);
            return { ...record, state: 'failed', reason, finishedAt: new Date().toISOString() };
          })
          .then((final) => {
            this.active.delete(id);
            resolve(final);
          });
      });
    });
    return id;
  }

  /** Resolves with the final record when a run started by this runtime ends (or at once for a finished run). */
  async wait(runId: string): Promise<RunRecord> {
    const run = this.active.get(runId);
    if (run) return run.done;
    for await (const rec of this.store.watch(runId)) if (isTerminalRun(rec.state)) return rec;
    return this.status(runId);
  }

  async status(runId: string): Promise<RunRecord> {
    const rec = await this.store.get(runId);
    if (!rec) throw new Error(`no run '${runId}' in ${this.store.dir}`);
    return rec;
  }

  logs(runId: string, step: string, options: LogOptions & { signal?: AbortSignal } = {}): AsyncIterable<LogLine> {
    return this.store.readLogs(runId, step, options);
  }

  /** Cancel a run, whichever process runs it; resolves once it has ended. */
  async cancel(runId: string): Promise<void> {
    const run = this.active.get(runId);
    if (run) {
      await this.store.update(runId, { cancelRequestedAt: new Date().toISOString() });
      run.stop('cancel requested');
      await run.done;
      return;
    }
    await cancelRun(this.store, runId, { graceMs: this.killGraceMs });
  }

  // --- execution ------------------------------------------------------------------------------------------

  private async update(runId: string, patch: Partial<RunRecord>): Promise<RunRecord> {
    const rec = await this.store.update(runId, patch);
    this.emit('change', rec);
    return rec;
  }

  private async updateStep(runId: string, step: string, patch: Partial<StepRecord>): Promise<RunRecord> {
    const rec = await this.store.updateStep(runId, step, patch);
    this.emit('change', rec);
    return rec;
  }

  /** Store (and announce) a line of the runner's own about a step. */
  private log(runId: string, step: string, text: string): void {
    this.storeLine(runId, step, { time: new Date().toISOString(), stream: 'system', text });
  }

  /** Store (and announce) a log line; a store that cannot be written stops the run instead of throwing. */
  private storeLine(runId: string, step: string, line: LogLine): void {
    if (this.active.get(runId)?.failure) return;
    try {
      this.store.appendLogSync(runId, step, line);
    } catch (err) {
      this.storeFailed(runId, err, `the log of step '${step}'`);
      return;
    }
    this.emit('log', runId, step, line);
  }

  /**
   * A write to the run store failed (disk full, store folder gone …): the run cannot go on without losing what
   * its steps print, so it stops — this run only, the others and this process go on — and fails with what
   * happened and what to do (the store gave back the run's reserve so that this can be recorded).
   */
  private storeFailed(runId: string, err: unknown, doing: string): void {
    const failure = storeWriteError(err, this.store.dir, doing);
    const message = failure ? failure.sentence : `cannot write the run store ${this.store.dir} (${doing}): ${(err as Error)?.message ?? err}`;
    const run = this.active.get(runId);
    if (!run) {
      process.stderr.write(`cellpipe: run ${runId}: ${message}\n`);
      return;
    }
    if (run.failure) return;
    run.failure = message;
    run.stop(message);
  }

  /**
   * A cached or reused step shows the log of the run whose outputs it takes (copied, so it outlives that run's
   * folder): what a user sees under the cells then matches the values the step hands on.
   */
  private async replayLog(runId: string, step: string, fromRun: string): Promise<void> {
    try {
      for await (const line of this.store.readLogs(fromRun, step)) this.storeLine(runId, step, line);
    } catch (err) {
      this.log(runId, step, `(the log of run ${fromRun} could not be read: ${(err as Error).message})`);
    }
  }

  private async execute(runId: string, run: ActiveRun): Promise<RunRecord> {
    const { graph } = run.request;
    const limit = Math.max(1, run.request.concurrency ?? this.concurrency);
    await this.update(runId, { state: 'running', startedAt: new Date().toISOString() });

    const deps = new Map<string, Set<string>>(graph.steps.map((s) => [s.name, new Set<string>()]));
    for (const [from, to] of graph.edges) deps.get(to)?.add(from);
    for (const s of graph.steps) for (const src of Object.values(s.inputSources)) if (src !== s.name) deps.get(s.name)?.add(src);

    const state = new Map<string, StepState>(graph.steps.map((s) => [s.name, 'pending']));
    const outputs = new Map<string, StepOutput[]>();
    const running = new Map<string, Promise<void>>();

    // Another process may ask to cancel through the store: look for it while the run goes on.
    const poll = setInterval(() => {
      this.store.get(runId).then(
        (rec) => {
          if (rec?.cancelRequestedAt) run.stop('cancel requested');
        },
        () => {},
      );
    }, 250);

    try {
      for (;;) {
        let progressed = false;
        for (const s of graph.steps) {
          if (state.get(s.name) !== 'pending') continue;
          const upstream = [...(deps.get(s.name) ?? [])];
          if (run.aborted) {
            const st = run.failure ? 'skipped' : 'cancelled';
            state.set(s.name, st);
            await this.updateStep(runId, s.name, { state: st, finishedAt: new Date().toISOString() });
            progressed = true;
            continue;
          }
          // Partial run: a step not chosen takes the earlier run's outputs at once (its inputs are not needed).
          const reuse = run.request.reuse;
          if (reuse && (reuse.steps[s.name] || reuse.omitted.includes(s.name))) {
            const st = await this.reuseStep(runId, reuse, s.name);
            state.set(s.name, st);
            if (st === 'cached') outputs.set(s.name, reuse.steps[s.name].outputs);
            progressed = true;
            continue;
          }
          const badDep = upstream.find((d) => DONE_BAD.includes(state.get(d) ?? 'failed'));
          if (badDep) {
            state.set(s.name, 'skipped');
            this.log(runId, s.name, `skipped: upstream step '${badDep}' ${state.get(badDep)}`);
            await this.updateStep(runId, s.name, { state: 'skipped', finishedAt: new Date().toISOString() });
            progressed = true;
            continue;
          }
          if (running.size >= limit) continue;
          if (!upstream.every((d) => DONE_OK.includes(state.get(d) ?? 'pending'))) continue;
          state.set(s.name, 'running');
          progressed = true;
          const p = this.runStep(runId, run, s, outputs)
            .catch(async (err): Promise<StepState> => {
              const failure = storeWriteError(err, this.store.dir, `the files of step '${s.name}'`);
              if (failure) this.storeFailed(runId, failure, '');
              const message = failure ? failure.sentence : err instanceof Error ? err.message : String(err);
              await this.updateStep(runId, s.name, { state: 'failed', error: { message }, finishedAt: new Date().toISOString() }).catch(() => undefined);
              return 'failed';
            })
            .then((final) => {
              state.set(s.name, final);
              running.delete(s.name);
            });
          running.set(s.name, p);
        }
        if (running.size === 0 && ![...state.values()].includes('pending')) break;
        if (!progressed || running.size >= limit) {
          if (running.size === 0) break; // nothing can start (a dependency on an unknown step)
          await Promise.race(running.values());
        }
      }
    } finally {
      clearInterval(poll);
    }

    for (const s of graph.steps) {
      if (state.get(s.name) === 'pending') {
        state.set(s.name, 'skipped');
        await this.updateStep(runId, s.name, { state: 'skipped', finishedAt: new Date().toISOString() });
      }
    }
    // Steps a partial run left out (not chosen, nothing to reuse, nobody needs them) are no failure.
    const omitted = new Set(run.request.reuse?.omitted ?? []);
    const states = [...state.entries()].filter(([n]) => !omitted.has(n)).map(([, st]) => st);
    const final: Partial<RunRecord> = { finishedAt: new Date().toISOString() };
    if (run.failure) Object.assign(final, { state: 'failed', reason: run.failure });
    else if (run.aborted) Object.assign(final, { state: 'cancelled', reason: 'cancelled' });
    else if (states.some((s) => s === 'failed' || s === 'skipped' || s === 'cancelled')) {
      const failed = graph.steps.filter((s) => state.get(s.name) === 'failed').map((s) => s.name);
      Object.assign(final, { state: 'failed', reason: failed.length ? `step ${failed.map((f) => `'${f}'`).join(', ')} failed` : 'steps were skipped' });
    } else Object.assign(final, { state: 'succeeded' });
    return this.update(runId, final);
  }

  /** A step a partial run does not run: `cached` from the reused run (with a warning when its code changed since), or left out. */
  private async reuseStep(runId: string, reuse: NonNullable<RunRequest['reuse']>, step: string): Promise<StepState> {
    const now = new Date().toISOString();
    const from = reuse.steps[step];
    if (!from) {
      this.log(runId, step, `not run: not chosen, and run ${reuse.runId} has no outputs of it to reuse`);
      await this.updateStep(runId, step, { state: 'skipped', startedAt: now, finishedAt: now });
      return 'skipped';
    }
    this.log(runId, step, `reused from run ${reuse.runId} (not chosen to run); its log follows`);
    await this.replayLog(runId, step, reuse.runId);
    if (from.staleness === 'stale') {
      this.log(runId, step, `warning: this step's code changed since run ${reuse.runId}: the outputs reused from it (and the inputs of the steps that read them) are stale; run it too (--from ${step}) to refresh them`);
    } else if (from.staleness === 'unknown') {
      this.log(runId, step, `note: run ${reuse.runId} did not record this step's code, so whether it changed since cannot be told`);
    }
    await this.updateStep(runId, step, {
      state: 'cached', startedAt: now, finishedAt: now, outputs: from.outputs, metrics: from.metrics, cachedFrom: reuse.runId, reused: true, programHash: from.programHash,
      cellOutputs: await this.cellOutputsOf(reuse.runId, step),
    });
    return 'cached';
  }

  /** Run one step to its final state: from the cache, or as a process with retries and a timeout. */
  private async runStep(runId: string, run: ActiveRun, step: Step, produced: Map<string, StepOutput[]>): Promise<StepState> {
    const prepared = this.prepareStep(runId, run, step, produced);
    return (await this.fromCache(runId, run, step, produced, prepared)) ?? this.runAttempts(runId, run, step, produced, prepared);
  }

  /**
   * What every attempt of a step gets and what identifies its execution: its inputs (the producers' artifacts, possibly
   * in an earlier run's folder), its parameters as text, its cache key and program hash; `inputs.json` written.
   */
  private prepareStep(runId: string, run: ActiveRun, step: Step, produced: Map<string, StepOutput[]>): PreparedStep {
    const { request } = run;
    const program: StepProgram = request.programs[step.name];
    const dir = this.store.stepDir(runId, step.name);

    // Inputs: the producer's output artifacts (possibly in an earlier run's folder, when it was cached).
    const inputPaths: Record<string, string> = {};
    const inputHashes: Record<string, string> = {};
    for (const name of program.inputs) {
      const src = step.inputSources[name];
      const out = produced.get(src)?.find((o) => o.name === name);
      if (!out?.path) throw new Error(`input '${name}' of step '${step.name}': step '${src ?? '?'}' did not produce it`);
      inputPaths[name] = out.path;
      inputHashes[name] = out.sha256 ?? '';
    }
    const paramTexts: Record<string, string> = {};
    for (const p of program.parameters) {
      const value = request.parameters[p.name] ?? request.graph.parameters.find((d) => d.name === p.name)?.default ?? null;
      paramTexts[p.name] = paramText(p.type, value);
    }
    const cacheKey = stepCacheKey({
      program, inputs: inputHashes, parameters: paramTexts, runtimeVersion: this.runtimeVersion() + this.cacheSalt(run, step.name),
      // A changed variable may change what the step computes (absent when there are none: older keys stay valid).
      env: Object.keys(step.env ?? {}).length ? step.env : undefined,
      // So may a changed data file the step reads (absent when it reads none).
      files: stepFileHashes(step.files, request.workdir ?? path.dirname(path.resolve(request.notebookPath))),
    });
    // Recorded so a later partial run can tell whether this step's code changed (runs/partial.ts).
    const programHash = stepProgramHash(program, step.env);
    // Where each input came from, for `cellpipe.load(step)` in a kernel (the graph is not in the record).
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'inputs.json'),
      JSON.stringify(Object.fromEntries(program.inputs.map((n) => [n, { step: step.inputSources[n], path: inputPaths[n] }]))),
    );
    return { program, dir, inputPaths, paramTexts, cacheKey, programHash };
  }

  /** The step's outputs from an earlier execution with the same cache key, when caching applies: then `cached`. */
  private async fromCache(runId: string, run: ActiveRun, step: Step, produced: Map<string, StepOutput[]>, prepared: PreparedStep): Promise<StepState | undefined> {
    const { request } = run;
    const { cacheKey, programHash } = prepared;
    // The steps a partial run chose are run because someone asked to see them run: never from the cache.
    if (request.cache !== false && step.cache && !request.reuse) {
      const hit = this.cache.lookup(cacheKey);
      if (hit) {
        produced.set(step.name, hit.outputs);
        const now = new Date().toISOString();
        this.log(runId, step.name, `cached: reusing the outputs of run ${hit.runId}; its log follows`);
        await this.replayLog(runId, step.name, hit.runId);
        await this.updateStep(runId, step.name, {
          state: 'cached',
          startedAt: now,
          finishedAt: now,
          outputs: hit.outputs,
          metrics: hit.metrics,
          cacheKey,
          programHash,
          cachedFrom: hit.runId,
          cellOutputs: await this.cellOutputsOf(hit.runId, step.name),
        });
        return 'cached';
      }
    }
    return undefined;
  }

  /** Runs the step as a process, attempt after attempt (its `retries`), each under its timeout, to its final state. */
  private async runAttempts(runId: string, run: ActiveRun, step: Step, produced: Map<string, StepOutput[]>, prepared: PreparedStep): Promise<StepState> {
    const { request } = run;
    const { program, dir, inputPaths, paramTexts, cacheKey, programHash } = prepared;
    const scratch = path.join(dir, 'scratch');
    const programFile = path.join(dir, 'program.json');
    fs.mkdirSync(scratch, { recursive: true });
    fs.writeFileSync(programFile, JSON.stringify(program, null, 1));
    const outDir = path.join(dir, 'outputs');
    const metricsFile = path.join(dir, 'metrics.json');
    const errorFile = path.join(dir, 'error.json');
    const cellOutputsFile = path.join(dir, CELL_OUTPUTS_FILE);
    const workdir = request.workdir ?? path.dirname(path.resolve(request.notebookPath));
    const maxAttempts = Math.max(0, step.retries) + 1;
    let lastError: StepError | undefined;
    let exitCode: number | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (run.aborted) break;
      fs.rmSync(outDir, { recursive: true, force: true });
      fs.rmSync(errorFile, { force: true });
      fs.rmSync(cellOutputsFile, { force: true });
      fs.rmSync(metricsFile, { force: true });
      fs.rmSync(`${metricsFile}.values.json`, { force: true });
      const outputPaths: Record<string, string> = {};
      for (const name of program.outputs) {
        const p = path.join(outDir, name);
        fs.mkdirSync(p, { recursive: true });
        outputPaths[name] = p;
      }
      if (attempt > 1) this.log(runId, step.name, `attempt ${attempt} of ${maxAttempts}`);
      let result: StepResult;
      try {
        result = await this.launchStep({
          runId, run, step, attempt, programFile, parameters: paramTexts, inputs: inputPaths, outputs: outputPaths,
          stepDir: dir, metricsFile, errorFile, cellOutputsFile, scratch, workdir,
        });
      } catch (err) {
        // The step could not be started at all (e.g. its image could not be unpacked): a failed attempt.
        const message = err instanceof Error ? err.message : String(err);
        this.log(runId, step.name, message);
        result = { exitCode: 127, timedOut: false, lastStderr: message };
      }
      exitCode = result.exitCode;
      // Kept whatever the outcome: a failed step's outputs show where it failed.
      if (fs.existsSync(cellOutputsFile)) await this.updateStep(runId, step.name, { cellOutputs: path.relative(this.store.dir, cellOutputsFile) });
      // Killed by a `cellpipe cancel` from another process before our poll saw the request?
      if (!run.aborted && result.exitCode !== 0 && (await this.store.get(runId))?.cancelRequestedAt) run.stop('cancel requested');
      if (run.failure) {
        await this.updateStep(runId, step.name, { state: 'failed', exitCode, error: { message: run.failure }, finishedAt: new Date().toISOString(), pid: undefined, pidStart: undefined });
        return 'failed';
      }
      if (run.aborted) {
        await this.updateStep(runId, step.name, { state: 'cancelled', exitCode, finishedAt: new Date().toISOString(), pid: undefined, pidStart: undefined });
        return 'cancelled';
      }
      if (result.exitCode === 0 && !result.timedOut) {
        const outs: StepOutput[] = program.outputs.map((name) => {
          const p = path.join(outDir, name);
          const { bytes, sha256 } = hashArtifact(p);
          return { name, bytes, sha256, path: p };
        });
        const metrics = readMetrics(metricsFile);
        produced.set(step.name, outs);
        await this.updateStep(runId, step.name, {
          state: 'succeeded',
          exitCode: 0,
          finishedAt: new Date().toISOString(),
          outputs: outs,
          metrics,
          cacheKey,
          programHash,
          error: undefined,
          pid: undefined,
          pidStart: undefined,
        });
        if (step.cache) {
          this.cache.save({ key: cacheKey, runId, step: step.name, outputs: outs, metrics, createdAt: new Date().toISOString() });
        }
        return 'succeeded';
      }
      lastError = result.timedOut
        ? { message: `step '${step.name}' timed out after ${step.timeout} s (its timeout tag); it was stopped` }
        : readErrorRecord(errorFile) ?? { message: exitMessage(step.name, result) };
      if (attempt < maxAttempts) {
        this.log(runId, step.name, `attempt ${attempt} failed: ${lastError.message}; retrying`);
        await this.updateStep(runId, step.name, { error: lastError, exitCode });
      }
    }
    await this.updateStep(runId, step.name, {
      state: run.aborted ? 'cancelled' : 'failed',
      exitCode,
      error: lastError,
      finishedAt: new Date().toISOString(),
      pid: undefined,
      pidStart: undefined,
    });
    return run.aborted ? 'cancelled' : 'failed';
  }

  /** The cell outputs a step of an earlier run points at (reused and cached steps show them as their own). */
  private async cellOutputsOf(runId: string, step: string): Promise<string | undefined> {
    return (await this.store.get(runId))?.steps.find((s) => s.name === step)?.cellOutputs;
  }

  /** Mixed into a step's cache key: what else than the program, inputs and parameters decides its outputs. */
  protected cacheSalt(_run: ActiveRun, _step: string): string {
    return '';
  }

  /** Runs one attempt of a step: here the step runtime as a local Python process. */
  protected async launchStep(l: StepLaunch): Promise<StepResult> {
    const args = [
      '-m', 'cellpipe_runtime', 'run',
      '--program', l.programFile,
      ...Object.entries(l.parameters).flatMap(([k, v]) => ['--param', `${k}=${v}`]),
      ...Object.entries(l.inputs).flatMap(([k, v]) => ['--input', `${k}=${v}`]),
      ...Object.entries(l.outputs).flatMap(([k, v]) => ['--output', `${k}=${v}`]),
      '--metrics', l.metricsFile,
      '--error-record', l.errorFile,
      '--cell-outputs', l.cellOutputsFile,
      '--workdir', l.workdir,
      ...(this.dumpVariables ? ['--dump-variables', path.join(l.stepDir, 'variables')] : []),
    ];
    return this.spawnStep(l.runId, l.run, l.step, l.attempt, args, l.scratch, l.workdir);
  }

  /** Store (and announce) a line of the runner's own about a step, for runtimes built on this one. */
  protected note(runId: string, step: string, text: string): void {
    this.log(runId, step, text);
  }

  private readonly interpreters = new Map<string, Promise<string>>();

  /**
   * The interpreter's real path, asked once per working directory: a bare name like `python3` may be a
   * version-manager shim (pyenv's is a shell script) that would otherwise cost every step a shell start.
   */
  private resolvePython(workdir: string): Promise<string> {
    if (this.python.includes('/')) return Promise.resolve(this.python);
    let p = this.interpreters.get(workdir);
    if (!p) {
      p = new Promise((resolve) => {
        execFile(this.python, ['-c', 'import sys; print(sys.executable)'], { cwd: workdir, env: this.env, timeout: 30_000 }, (err, stdout) => {
          const exe = stdout?.trim();
          resolve(!err && exe && path.isAbsolute(exe) ? exe : this.python);
        });
      });
      this.interpreters.set(workdir, p);
    }
    return p;
  }

  /**
   * Starts the step's process (the local Python with `args`, or `command`), streams its lines into the store,
   * applies the step's timeout, and resolves when it has exited.
   */
  protected async spawnStep(
    runId: string,
    run: ActiveRun,
    step: Step,
    attempt: number,
    args: string[],
    scratch: string,
    workdir: string,
    command?: StepCommand,
    extra: Partial<StepRecord> = {},
  ): Promise<StepResult> {
    const python = command ? command.file : await this.resolvePython(workdir);
    const env: NodeJS.ProcessEnv = command ? command.env : this.stepEnvironment(runId, step, scratch);
    // Where each secret: variable comes from here (no Kubernetes secret to read), or that it is unset: by name only.
    if (attempt === 1) for (const note of localSecrets(step.secrets ?? [], this.env).notes) this.log(runId, step.name, `secret: ${note}`);
    const warm = command || args[1] !== 'cellpipe_runtime' ? undefined : await this.warmStart(runId, run, step, python, env, args, scratch, workdir);
    if (warm) extra = { ...extra, ...warm.record };
    return new Promise((resolve) => {
      let child: StepProcess;
      try {
        child = warm?.child ?? spawn(python, command ? command.args : args, { cwd: command ? command.cwd : scratch, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        resolve({ exitCode: 127, timedOut: false, lastStderr: (err as Error).message });
        return;
      }
      run.children.set(child, step.name);
      // Cancelled while the step waited for its start (a fork server still running the imports): stop it now.
      if (run.aborted) this.stopChild(child);
      let timedOut = false;
      let lastStderr = '';
      let spawnError: string | undefined;
      const started = new Date().toISOString();
      if (child.pid !== undefined) {
        const pid = child.pid;
        this.updateStep(runId, step.name, {
          state: 'running',
          attempts: attempt,
          ...(attempt === 1 ? { startedAt: started } : {}),
          pid,
          pidStart: processStartTime(pid),
          ...extra,
        }).catch((err) => this.storeFailed(runId, err, `the record of step '${step.name}'`));
      }
      const onLine = (stream: 'stdout' | 'stderr') => (text: string) => {
        // A spec's steps also send their cell outputs through the log (for Kubeflow); here the file has them.
        if (stream === 'stderr' && isCellOutputsLine(text)) return;
        this.storeLine(runId, step.name, { time: new Date().toISOString(), stream, text });
        if (stream === 'stderr' && text.trim()) lastStderr = text.trim();
      };
      // Stdout also carries the runtime's stderr lines, marked, in the order they were written (ordered-log.ts).
      createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (text) => {
        for (const part of demuxStdoutLine(text)) onLine(part.stream)(part.text);
      });
      createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', onLine('stderr'));
      const timer =
        step.timeout > 0
          ? setTimeout(() => {
              timedOut = true;
              this.log(runId, step.name, `timed out after ${step.timeout} s: stopping the step`);
              this.stopChild(child);
            }, step.timeout * 1000)
          : undefined;
      child.on('error', (err) => {
        spawnError =
          (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? command
              ? `${command.file} not found`
              : `Python interpreter '${this.python}' not found: install Python 3 or set CELLPIPE_PYTHON`
            : err.message;
      });
      child.on('exit', () => {
        // Whatever the step left behind in its process group (background `!cmd &`) goes with it.
        if (child.pid) signalGroup(child.pid, 'SIGKILL');
      });
      child.on('close', async (code, signal) => {
        if (timer) clearTimeout(timer);
        // The step is over once nothing of its process group runs any more, not when its first process exits.
        if (child.pid) await awaitGroupGone(child.pid);
        run.children.delete(child);
        if (spawnError) {
          this.log(runId, step.name, spawnError);
          resolve({ exitCode: 127, timedOut: false, lastStderr: spawnError });
          return;
        }
        resolve({ exitCode: code ?? undefined, signal: signal ?? undefined, timedOut, lastStderr });
      });
    });
  }

  /** A local step's environment: this process's, the step's own variables over it, the runtime on the path. */
  private stepEnvironment(runId: string, step: Step, scratch: string): NodeJS.ProcessEnv {
    // The step's own variables (`env:` tags, metadata.cellpipe.env) over this process's, as in its container.
    const stepEnv = { ...this.env, ...(step.env ?? {}), ...localSecrets(step.secrets ?? [], this.env).values };
    return {
      ...stepEnv,
      PYTHONPATH: [this.runtimePath, stepEnv.PYTHONPATH].filter(Boolean).join(path.delimiter),
      PYTHONUNBUFFERED: '1',
      [ORDERED_LOG_ENV]: '1',
      PYTHONDONTWRITEBYTECODE: this.env.PYTHONDONTWRITEBYTECODE ?? '1',
      TMPDIR: scratch,
      CELLPIPE_RUN_ID: runId,
      CELLPIPE_STEP: step.name,
    };
  }

  /**
   * Gets the fork server of the notebook's first step ready before any run (the backend does this when a
   * notebook is opened or saved), so the first Run starts warm. Resolves with the reason when it would start cold.
   */
  async prewarm(request: Pick<RunRequest, 'graph' | 'programs' | 'workdir'>): Promise<{ warm: true; pid: number } | { warm: false; reason: string }> {
    if (!this.warmStarts) return { warm: false, reason: this.coldBecause ?? 'warm starts are off' };
    const step = request.graph.steps[0];
    if (!step) return { warm: false, reason: 'the notebook has no steps' };
    const workdir = request.workdir ?? process.cwd();
    const got = await this.warmStarts.prewarm({
      python: await this.resolvePython(workdir), program: request.programs[step.name], env: this.stepEnvironment('prewarm', step, os.tmpdir()),
      workdir, runtimeVersion: this.runtimeVersion(), idleSeconds: idleSecondsOf(this.env),
    });
    return 'pid' in got ? { warm: true, pid: got.pid } : { warm: false, reason: got.cold };
  }

  /**
   * A local step forked from the fork server of its imports (warm/), or why it starts cold; either way said in
   * its log and recorded (`start`, `coldStartReason`).
   */
  private async warmStart(
    runId: string, run: ActiveRun, step: Step, python: string, env: NodeJS.ProcessEnv, args: string[], scratch: string, workdir: string,
  ): Promise<{ child?: StepProcess; record: Partial<StepRecord> }> {
    let reason = this.coldBecause;
    if (this.warmStarts) {
      // A fork server that is still running the imports cells (the first Run after they changed) can take seconds:
      // unless it answers at once, the step says so — in its record (the sidebar counts the time) and its log.
      const program = run.request.programs[step.name];
      const since = new Date().toISOString();
      const what = importsNote(program);
      const waiting = setTimeout(() => {
        this.log(runId, step.name, `${what} in the fork server…`);
        void this.updateStep(runId, step.name, { preparing: { what, since } });
      }, PREPARING_AFTER_MS);
      let got: Awaited<ReturnType<NonNullable<typeof this.warmStarts>['start']>>;
      try {
        got = await this.warmStarts.start({
          python, program, env, workdir, cwd: scratch, argv: args.slice(2), runtimeVersion: this.runtimeVersion(),
          idleSeconds: idleSecondsOf(this.env),
        });
      } finally {
        clearTimeout(waiting);
      }
      if ('child' in got) {
        this.log(runId, step.name, `warm start: forked from the fork server (pid ${got.serverPid}) that ran the imports cells once`);
        return { child: got.child, record: { start: 'warm', coldStartReason: undefined, preparing: undefined } };
      }
      reason = got.cold;
    }
    this.log(runId, step.name, `cold start: ${reason}`);
    return { record: { start: 'cold', coldStartReason: reason, preparing: undefined } };
  }

  /** SIGTERM to the step's process group, SIGKILL after the grace period if anything is left. */
  protected stopChild(child: StepProcess): void {
    const pid = child.pid;
    if (!pid) return;
    signalGroup(pid, 'SIGTERM');
    const t = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.killGraceMs);
    t.unref();
    child.once('close', () => clearTimeout(t));
  }
}

/** Who may have sent a signal that ended a step, for the step's error. */
const SIGNAL_SENDERS: Record<string, string> = {
  SIGKILL:
    'sent from outside the step: most often the memory limit — the kernel\'s OOM killer stops the biggest process when the machine or its container runs out of memory —, else a user\'s `kill -9`, or a cancel the step did not answer in time',
  SIGTERM: 'asked to stop from outside the step: a cancel, Jupyter or the machine shutting down, or a user\'s `kill`',
  SIGINT: 'interrupted: Ctrl-C or a user\'s `kill -INT`',
  SIGSEGV: 'the Python process crashed, most often inside a native library (numpy, torch, …): the last lines of the log may say where',
  SIGBUS: 'the Python process crashed, most often inside a native library or on a file that was truncated while mapped',
  SIGABRT: 'a native library aborted the Python process: the last lines of the log may say why',
  SIGXCPU: 'the step used up its CPU time limit (ulimit -t)',
  SIGXFSZ: 'the step wrote a file larger than its file size limit (ulimit -f)',
  SIGPIPE: 'the step wrote to a pipe nobody reads any more',
};

/**
 * Why a step process ended badly, in words. A signal says who may have sent it (an exit code above 128, as a
 * shell or a container reports a signal, counts as one); the step runtime's own `[cellpipe] …` lines are its
 * bookkeeping, never quoted as the error.
 */
export function exitMessage(step: string, result: Pick<StepResult, 'exitCode' | 'signal' | 'lastStderr'>): string {
  const byNumber = (n: number) => Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0];
  const signal = result.signal ?? (result.exitCode !== undefined && result.exitCode > 128 && result.exitCode <= 128 + 64 ? byNumber(result.exitCode - 128) : undefined);
  if (signal) return `step '${step}' was killed by ${signal} (${SIGNAL_SENDERS[signal] ?? 'a signal sent from outside the step'})`;
  const said = result.lastStderr && !result.lastStderr.startsWith('[cellpipe]') ? `: ${result.lastStderr}` : '';
  return `step '${step}' exited with code ${result.exitCode ?? 'unknown'}${said}`;
}

/** How long a step's start may take before it says what it waits for. */
const PREPARING_AFTER_MS = 300;

/** "running the imports cells: pandas, sklearn, …": the top-level modules the step's imports cells import. */
export function importsNote(program: StepProgram | undefined): string {
  const modules: string[] = [];
  for (const cell of program?.cells ?? []) {
    if (cell.role !== 'imports') continue;
    for (const line of cell.source.split('\n')) {
      const m = /^(?:import\s+([\w.]+(?:\s*,\s*[\w.]+)*)|from\s+([\w.]+)\s+import\b)/.exec(line.trim());
      const names = m ? (m[1] ?? m[2]).split(',').map((x) => x.trim().split('.')[0]) : [];
      for (const n of names) if (n && !modules.includes(n)) modules.push(n);
    }
  }
  const shown = modules.length > 4 ? [...modules.slice(0, 4), '…'] : modules;
  return `running the imports cells${shown.length ? `: ${shown.join(', ')}` : ''}`;
}

function readMetrics(file: string): Record<string, number | string> {
  try {
    const v = JSON.parse(fs.readFileSync(`${file}.values.json`, 'utf8')) as Record<string, unknown>;
    const out: Record<string, number | string> = {};
    for (const [k, x] of Object.entries(v)) out[k] = typeof x === 'number' || typeof x === 'string' ? x : JSON.stringify(x);
    return out;
  } catch {
    return {};
  }
}

function readErrorRecord(file: string): StepError | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as StepError & { step?: string };
    if (!v || typeof v.message !== 'string') return undefined;
    const { step: _step, ...rest } = v;
    for (const k of Object.keys(rest) as (keyof StepError)[]) if (rest[k] === null) delete rest[k];
    return rest;
  } catch {
    return undefined;
  }
}

/**
 * Cancel a run from any process. Records the request in the store (the runner polls for it and stops its
 * steps: SIGTERM, then SIGKILL after the grace period); if the runner is gone or does not finish the run in
 * time, stops the recorded step process groups here and records the run as cancelled.
 * Returns the final record. Throws for an unknown run.
 */
export async function cancelRun(store: RunStore, runId: string, opts: { graceMs?: number } = {}): Promise<RunRecord> {
  const graceMs = opts.graceMs ?? 5000;
  let rec = await store.get(runId);
  if (!rec) throw new Error(`no run '${runId}' in ${store.dir}`);
  if (isTerminalRun(rec.state)) return rec;
  await store.update(runId, { cancelRequestedAt: new Date().toISOString() });
  if (rec.runner && !runnerGone(rec.runner) && rec.runner.pid !== process.pid) {
    const deadline = Date.now() + graceMs + 3000;
    while (Date.now() < deadline) {
      await sleep(100);
      rec = (await store.get(runId))!;
      if (isTerminalRun(rec.state)) return rec;
    }
  }
  // The runner did not answer: stop the step processes ourselves.
  rec = (await store.get(runId))!;
  if (isTerminalRun(rec.state)) return rec;
  const live = rec.steps.filter((s) => s.state === 'running' && s.pid && processAlive(s.pid, s.pidStart));
  for (const s of live) signalGroup(s.pid!, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until && live.some((s) => processAlive(s.pid!, s.pidStart))) await sleep(50);
  for (const s of live) signalGroup(s.pid!, 'SIGKILL');
  // What a runtime leaves besides the killed groups (a step container outlives its killed `runc run`): remove it too.
  for (const s of rec.steps) if (s.state === 'running' || s.state === 'pending') await removeLeftoversAfterKilled(s);
  for (const s of live) await awaitGroupGone(s.pid!);
  const now = new Date().toISOString();
  for (const s of rec.steps) {
    if (s.state === 'running' || s.state === 'pending') await store.updateStep(runId, s.name, { state: 'cancelled', finishedAt: now });
  }
  return store.update(runId, { state: 'cancelled', reason: 'cancelled', finishedAt: now });
}
