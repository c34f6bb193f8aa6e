/**
 * `cellpipe run NOTEBOOK [--param NAME=VALUE]... [--no-cache] [--concurrency N] [--store DIR]`: compile the
 * notebook and run its pipeline on this machine. Streams every step's lines prefixed by the step name, a live
 * progress line on a terminal, and the run id. Exit 0 only when the run succeeded; 1 when the notebook has
 * errors or the run failed; 2 for usage errors (including bad parameter values); 130 when interrupted.
 */
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import type { Command, CommandIO } from '../main.js';
import { compileNotebook } from '../../core/compile.js';
import { cellLabel } from '../../core/notebook.js';
import { parseArgs, UsageError } from '../args.js';
import { formatDiagnostics } from '../diagnostics.js';
import { RunStore, storeDirFor } from '../../runs/store.js';
import { formatDuration, formatProgress, formatStatus } from '../../runs/format.js';
import type { PartialPlan, PartialSelection } from '../../runs/plan.js';
import { LocalRuntime } from '../../runtimes/local/runtime.js';
import { filesReport } from '../files-report.js';
import { ParameterValueError, resolveParameters } from '../../runtimes/local/params.js';
import type { RunRecord, StepState } from '../../runs/types.js';
import { openTarget, TargetError, type RunInput, type Started, type TargetHost } from '../../runtimes/targets/index.js';
import { notebookReader } from '../../runs/notebook-reader.js';

const USAGE = `usage: cellpipe run NOTEBOOK [--param NAME=VALUE]... [--no-cache] [--cold] [--concurrency N] [--store DIR]
                    [--only STEP... | --from STEP] [--reuse RUN]
                    [--in-images [--registry HOST[:PORT]/REPO] [--base IMAGE] [--insecure] [--no-network]]

  -p, --param NAME=VALUE  override a pipeline parameter (parsed by its declared type; lists/dicts as JSON)
  --no-cache              run every step, even when an unchanged earlier result could be reused
  --cold                  start every step as a fresh Python (no fork server running the imports cells once;
                          CELLPIPE_WARM=0 does the same)
  -j, --concurrency N     steps running at once (default: the number of CPUs)
  --store DIR             where runs are kept (default: .cellpipe next to the notebook, or $CELLPIPE_STORE)
  -q, --quiet             don't print the steps' log lines (state changes and the result only)
  --only STEP             run only this step (repeat, or a,b,c); the others take an earlier run's outputs
  --from STEP             run this step and everything downstream of it; the others take an earlier run's outputs
  --reuse RUN             the run (id, prefix or \`latest\`) --only/--from take the other steps from (default: the
                          newest run of this notebook where the steps needed by the chosen ones succeeded)
  --in-images             run each step in its own image (built as \`cellpipe build\` does) with runc, as root
  --registry HOST/REPO    where the step images go (default: a private registry under the run store)
  --base IMAGE            base image (registry reference, or oci:DIR:TAG); default: the notebook's
  --insecure              plain http to the registry
  --no-network            containers get no network (default: the host's, as a local step has)`;

interface RunArgs {
  notebook: string;
  params: string[];
  cache: boolean;
  cold: boolean;
  quiet: boolean;
  concurrency?: number;
  store?: string;
  selection?: PartialSelection;
  /** `--in-images` and its options. */
  inImages?: { registry?: string; base?: string; insecure: boolean; network: boolean };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The command line, or 'help'; a UsageError says what is wrong with it. */
function parseRunArgs(argv: string[]): RunArgs | 'help' {
  const { flags, positionals } = parseArgs(argv, {
    param: { short: 'p', value: true, multiple: true },
    'no-cache': {},
    cold: {},
    concurrency: { short: 'j', value: true },
    store: { value: true },
    quiet: { short: 'q' },
    'in-images': {},
    registry: { value: true },
    base: { value: true },
    insecure: {},
    'no-network': {},
    only: { value: true, multiple: true },
    from: { value: true },
    reuse: { value: true },
    help: { short: 'h' },
  });
  if (flags.reuse !== undefined && flags.only === undefined && flags.from === undefined) {
    throw new UsageError('--reuse goes with --only or --from');
  }
  if (!flags['in-images'] && ['registry', 'base', 'insecure', 'no-network'].some((f) => flags[f] !== undefined)) {
    throw new UsageError('--registry, --base, --insecure and --no-network go with --in-images');
  }
  if (flags.help) return 'help';
  if (positionals.length !== 1) throw new UsageError('give exactly one notebook');
  let concurrency: number | undefined;
  if (typeof flags.concurrency === 'string') {
    concurrency = Number(flags.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency ${flags.concurrency}: give a whole number of at least 1`);
  }
  let selection: PartialSelection | undefined;
  if (flags.only !== undefined || flags.from !== undefined) {
    const only = ((flags.only as string[] | undefined) ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
    selection = { only: flags.only !== undefined ? only : undefined, from: str(flags.from), reuse: str(flags.reuse) };
  }
  return {
    notebook: positionals[0],
    params: (flags.param as string[] | undefined) ?? [],
    cache: !flags['no-cache'],
    cold: Boolean(flags.cold),
    quiet: Boolean(flags.quiet),
    concurrency,
    store: str(flags.store),
    selection,
    inImages: flags['in-images']
      ? { registry: str(flags.registry), base: str(flags.base), insecure: Boolean(flags.insecure), network: !flags['no-network'] }
      : undefined,
  };
}

/** Prints what the plan of a partial run says: the stale reused steps, and what runs and what is reused. */
function reportPlan(io: CommandIO, plan: PartialPlan, steps: string[]): void {
  const { reuse } = plan;
  for (const s of plan.stale) {
    io.stderr.write(
      `cellpipe run: warning: step '${s.step}' changed since run ${reuse.runId}, whose outputs of it are reused: ` +
        `the inputs of ${s.readers.map((r) => `'${r}'`).join(', ') || 'the chosen steps'} are stale; run with --from ${s.step} to refresh them\n`,
    );
  }
  const ran = steps.filter((s) => !reuse.steps[s] && !reuse.omitted.includes(s));
  io.stderr.write(`cellpipe: running ${ran.join(', ')}; reusing ${Object.keys(reuse.steps).join(', ') || 'nothing'} from run ${reuse.runId}\n`);
}

/**
 * The run's output: every step's lines with a prefix, each step's state changes, and on a terminal a progress line
 * kept at the bottom.
 */
class RunPrinter {
  private latest: RunRecord | undefined;
  private progressShown = false;
  private readonly tty: boolean;
  private readonly width: number;
  private readonly lastState = new Map<string, StepState>();

  constructor(
    private readonly io: CommandIO,
    steps: string[],
    private readonly quiet: boolean,
  ) {
    this.tty = Boolean(io.stdout.isTTY);
    this.width = Math.min(24, Math.max(...steps.map((s) => s.length)));
  }

  listen(runtime: LocalRuntime): void {
    runtime.on('log', (_id, step, line) => {
      if (this.quiet && line.stream !== 'system') return;
      this.say(this.prefix(step) + line.text);
    });
    runtime.on('change', (rec) => this.changed(rec));
  }

  private prefix(step: string): string {
    return this.tty ? `\x1b[36m${step.padEnd(this.width)}\x1b[0m │ ` : `[${step}] `;
  }

  private changed(rec: RunRecord): void {
    this.latest = rec;
    for (const s of rec.steps) {
      if (this.lastState.get(s.name) === s.state) continue;
      const before = this.lastState.get(s.name);
      this.lastState.set(s.name, s.state);
      if (s.state === 'pending' && before === undefined) continue;
      const took = s.startedAt && s.finishedAt ? ` in ${formatDuration(Date.parse(s.finishedAt) - Date.parse(s.startedAt))}` : '';
      const detail =
        s.state === 'failed' && s.error
          ? `: ${s.error.type && !s.error.message.startsWith(s.error.type) ? `${s.error.type}: ` : ''}${s.error.message}${s.error.cell !== undefined ? ` (${cellLabel(s.error.cell, s.error.line)})` : ''}`
          : '';
      this.say(`${this.prefix(s.name)}── ${s.state}${s.state === 'running' ? '' : took}${detail}`);
    }
    this.draw();
  }

  clear(): void {
    if (this.tty && this.progressShown) this.io.stdout.write('\r\x1b[K');
    this.progressShown = false;
  }

  draw(): void {
    if (!this.tty || !this.latest) return;
    this.io.stdout.write(`\r\x1b[K\x1b[2m${formatProgress(this.latest)}\x1b[0m`);
    this.progressShown = true;
  }

  say(text: string): void {
    this.clear();
    this.io.stdout.write(text + '\n');
    this.draw();
  }

  /** Redraws the progress line every second on a terminal, until the returned function is called. */
  tick(): () => void {
    const ticker = this.tty ? setInterval(() => this.draw(), 1000) : undefined;
    return () => clearInterval(ticker);
  }
}

/** What the local and container targets get from `cellpipe run`: a runtime of its own, listened to, and the output. */
function runHost(io: CommandIO, a: RunArgs, printer: RunPrinter, made: (runtime: LocalRuntime) => void): TargetHost {
  const listen = (runtime: LocalRuntime) => {
    printer.listen(runtime);
    made(runtime);
  };
  return {
    env: io.env,
    localRuntime: (store) => {
      const runtime = new LocalRuntime({ store, concurrency: a.concurrency, env: io.env, ...(a.cold ? { warm: false } : {}) });
      listen(runtime);
      return runtime;
    },
    profile: () => Promise.reject(new Error('cellpipe run runs on this machine; use cellpipe submit for Kubeflow')),
    kubeflowRuntime: () => Promise.reject(new Error('cellpipe run runs on this machine; use cellpipe submit for Kubeflow')),
    containers: a.inImages && {
      ...a.inImages,
      env: io.env,
      onNote: (t) => io.stderr.write(`cellpipe: ${t}\n`),
      onProgress: (e) => {
        if (e.kind === 'requirements') io.stderr.write(`cellpipe: requirements for ${e.steps.join(', ')}: ${e.state}\n`);
        if (e.kind === 'step') io.stderr.write(`cellpipe: image of ${e.step}${e.unchanged ? ' (unchanged)' : ''}: ${e.reference}\n`);
      },
    },
    containersReady: ({ prepared, runtime }) => {
      const files = prepared.built.files;
      io.stderr.write(filesReport(files));
      const warnings = formatDiagnostics(files.diagnostics, prepared.request.notebookPath, { color: Boolean(io.stderr.isTTY) });
      if (warnings) io.stderr.write(warnings + '\n');
      listen(runtime);
    },
  };
}

/** The notebook read and compiled, its diagnostics printed; an exit code when it cannot run. */
async function compileArg(io: CommandIO, given: string): Promise<{ nbPath: string; shown: string; bytes: Buffer; compiled: RunInput['compiled'] } | number> {
  const nbPath = resolve(io.cwd, given);
  let bytes: Buffer;
  try {
    bytes = await readFile(nbPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.stderr.write(`cellpipe run: cannot read ${given}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}\n`);
    return 1;
  }
  const shown = relative(io.cwd, nbPath) || nbPath;
  const result = compileNotebook(bytes.toString('utf8'), { path: shown, readNotebook: notebookReader(nbPath) });
  const report = formatDiagnostics(result.diagnostics, shown, { color: Boolean(io.stderr.isTTY) });
  if (report) io.stderr.write(report + '\n');
  if (!result.ok || !result.graph) {
    io.stderr.write(`cellpipe run: ${shown} has errors; fix them and run again\n`);
    return 1;
  }
  return { nbPath, shown, bytes, compiled: result as RunInput['compiled'] };
}

/** A run the target refused: said, with the exit code `code` gives; anything else is no refusal and goes on up. */
function refuse(io: CommandIO, store: RunStore, err: unknown, code: (e: TargetError) => number): number {
  store.close();
  if (!(err instanceof TargetError)) throw err;
  io.stderr.write(`cellpipe run: ${err.message}\n`);
  return code(err);
}

const run: Command = async (argv, io) => {
  let a: RunArgs | 'help';
  try {
    a = parseRunArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`cellpipe run: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (a === 'help') {
    io.stdout.write(USAGE + '\n');
    return 0;
  }
  const nb = await compileArg(io, a.notebook);
  if (typeof nb === 'number') return nb;
  const { nbPath, shown, compiled } = nb;

  let parameters;
  try {
    parameters = resolveParameters(compiled.graph.parameters, a.params);
  } catch (err) {
    if (!(err instanceof ParameterValueError)) throw err;
    io.stderr.write(`cellpipe run: ${err.message}\n`);
    return 2;
  }

  const storeDir = a.store ? resolve(io.cwd, a.store) : io.env.CELLPIPE_STORE ? resolve(io.cwd, io.env.CELLPIPE_STORE) : storeDirFor(nbPath);
  const store = new RunStore(storeDir);
  const steps = compiled.graph.steps.map((s) => s.name);
  const printer = new RunPrinter(io, steps, a.quiet);
  let runtime: LocalRuntime | undefined;
  const target = await openTarget(a.inImages ? 'containers' : 'local', runHost(io, a, printer, (r) => (runtime = r)));
  const input: RunInput = {
    path: nbPath, shown, bytes: nb.bytes, compiled, parameters, cache: a.cache, store, workdir: resolve(nbPath, '..'),
    ...(a.selection ? { selection: a.selection } : {}),
    ...(a.concurrency !== undefined ? { concurrency: a.concurrency } : {}),
  };
  let plan: PartialPlan | undefined;
  let started: Started;
  try {
    plan = await target.plan(input);
  } catch (err) {
    // A wrong selection is a usage error (2); no earlier run to take the other steps from is a failure (1).
    return refuse(io, store, err, (e) => (e.kind === 'usage' ? 2 : 1));
  }
  if (plan) reportPlan(io, plan, steps);
  try {
    started = await target.start(input, plan);
  } catch (err) {
    return refuse(io, store, err, () => 1);
  }
  const id = started.runId;
  const running = runtime!;
  printer.say(`cellpipe: run ${id} of ${shown} (${steps.length} steps; store ${relative(io.cwd, storeDir) || '.'})`);

  // Ctrl-C / SIGTERM: cancel the run (steps get SIGTERM, then SIGKILL), then exit.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    printer.say('cellpipe: cancelling…');
    void running.cancel(id);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopTicking = printer.tick();
  let final: RunRecord;
  try {
    final = await running.wait(id);
  } finally {
    stopTicking();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    printer.clear();
    await started.released;
    store.close();
  }
  io.stdout.write('\n' + formatStatus(final) + '\n');
  if (final.state === 'succeeded') {
    io.stdout.write(`\ncellpipe: run ${id} succeeded\n`);
    return 0;
  }
  const storeArg = storeDir === resolve(io.cwd, '.cellpipe') ? '' : ` --store ${relative(io.cwd, storeDir) || '.'}`;
  io.stderr.write(`cellpipe: run ${id} ${final.state}${final.reason && final.reason !== final.state ? ` (${final.reason})` : ''} — \`cellpipe logs ${id} --step NAME${storeArg}\` shows a step's log\n`);
  return interrupted ? 130 : 1;
};

export default run;
