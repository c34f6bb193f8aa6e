/**
 * `cellpipe run NOTEBOOK [--param NAME=VALUE]... [--no-cache] [--concurrency N] [--store DIR]`: compile the
 * notebook and run its pipeline on this machine. Streams every step's lines prefixed by the step name, a live
 * progress line on a terminal, and the run id. Exit 0 only when the run succeeded; 1 when the notebook has
 * errors or the run failed; 2 for usage errors (including bad parameter values); 130 when interrupted.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import type { Command } from '../main.js';
import { compileNotebook } from '../../core/compile.js';
import { cellLabel } from '../../core/notebook.js';
import { parseArgs, UsageError } from '../args.js';
import { formatDiagnostics } from '../diagnostics.js';
import { RunStore, storeDirFor } from '../../runs/store.js';
import { formatDuration, formatProgress, formatStatus } from '../../runs/format.js';
import { LocalRuntime } from '../../runtimes/local/runtime.js';
import { inImages, type InImages } from '../../runtimes/containers/setup.js';
import { filesReport } from '../files-report.js';
import { ParameterError, resolveParameters } from '../../runtimes/local/params.js';
import type { PartialReuse, RunRecord, StepState } from '../../runs/types.js';
import { planPartialRun } from '../../runs/plan.js';
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

const run: Command = async (argv, io) => {
  let args;
  let concurrency: number | undefined;
  try {
    args = parseArgs(argv, {
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
    if (args.flags.reuse !== undefined && args.flags.only === undefined && args.flags.from === undefined) {
      throw new UsageError('--reuse goes with --only or --from');
    }
    if (!args.flags['in-images'] && ['registry', 'base', 'insecure', 'no-network'].some((f) => args!.flags[f] !== undefined)) {
      throw new UsageError('--registry, --base, --insecure and --no-network go with --in-images');
    }
    if (args.flags.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (args.positionals.length !== 1) throw new UsageError('give exactly one notebook');
    if (typeof args.flags.concurrency === 'string') {
      concurrency = Number(args.flags.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency ${args.flags.concurrency}: give a whole number of at least 1`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe run: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }

  const nbPath = resolve(io.cwd, args.positionals[0]);
  let bytes: Buffer;
  try {
    bytes = await readFile(nbPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.stderr.write(`cellpipe run: cannot read ${args.positionals[0]}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}\n`);
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

  let parameters;
  try {
    parameters = resolveParameters(result.graph.parameters, (args.flags.param as string[] | undefined) ?? []);
  } catch (err) {
    if (err instanceof ParameterError) {
      io.stderr.write(`cellpipe run: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const storeDir = typeof args.flags.store === 'string' ? resolve(io.cwd, args.flags.store) : io.env.CELLPIPE_STORE ? resolve(io.cwd, io.env.CELLPIPE_STORE) : storeDirFor(nbPath);
  const store = new RunStore(storeDir);

  let reuse: PartialReuse | undefined;
  if (args.flags.only !== undefined || args.flags.from !== undefined) {
    const only = ((args.flags.only as string[] | undefined) ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
    const planned = await planPartialRun(store, nbPath, result.graph, result.programs, {
      only: args.flags.only !== undefined ? only : undefined,
      from: typeof args.flags.from === 'string' ? args.flags.from : undefined,
      reuse: typeof args.flags.reuse === 'string' ? args.flags.reuse : undefined,
    });
    if ('error' in planned) {
      store.close();
      io.stderr.write(`cellpipe run: ${planned.error}\n`);
      return planned.usage ? 2 : 1;
    }
    reuse = planned.reuse;
    for (const s of planned.stale) {
      io.stderr.write(
        `cellpipe run: warning: step '${s.step}' changed since run ${reuse.runId}, whose outputs of it are reused: ` +
          `the inputs of ${s.readers.map((r) => `'${r}'`).join(', ') || 'the chosen steps'} are stale; run with --from ${s.step} to refresh them\n`,
      );
    }
    const ran = result.graph.steps.filter((s) => !reuse!.steps[s.name] && !reuse!.omitted.includes(s.name)).map((s) => s.name);
    io.stderr.write(`cellpipe: running ${ran.join(', ')}; reusing ${Object.keys(reuse.steps).join(', ') || 'nothing'} from run ${reuse.runId}\n`);
  }

  let runtime: LocalRuntime;
  let inImagesRun: InImages | undefined;
  if (args.flags['in-images']) {
    try {
      inImagesRun = await inImages({
        store, notebookPath: nbPath, shown, text: bytes.toString('utf8'), concurrency, env: io.env,
        registry: typeof args.flags.registry === 'string' ? args.flags.registry : undefined,
        base: typeof args.flags.base === 'string' ? args.flags.base : undefined,
        insecure: Boolean(args.flags.insecure),
        network: !args.flags['no-network'],
        onNote: (t) => io.stderr.write(`cellpipe: ${t}\n`),
        onProgress: (e) => {
          if (e.kind === 'requirements') io.stderr.write(`cellpipe: requirements for ${e.steps.join(', ')}: ${e.state}\n`);
          if (e.kind === 'step') io.stderr.write(`cellpipe: image of ${e.step}${e.unchanged ? ' (unchanged)' : ''}: ${e.reference}\n`);
        },
      });
    } catch (err) {
      store.close();
      io.stderr.write(`cellpipe run: ${(err as Error).message}\n`);
      return 1;
    }
    runtime = inImagesRun.runtime;
    const files = inImagesRun.prepared.built.files;
    io.stderr.write(filesReport(files));
    const warnings = formatDiagnostics(files.diagnostics, shown, { color: Boolean(io.stderr.isTTY) });
    if (warnings) io.stderr.write(warnings + '\n');
  } else {
    runtime = new LocalRuntime({ store, concurrency, env: io.env, ...(args.flags.cold ? { warm: false } : {}) });
  }
  const tty = Boolean(io.stdout.isTTY);
  const quiet = Boolean(args.flags.quiet);
  const width = Math.min(24, Math.max(...result.graph.steps.map((s) => s.name.length)));

  // --- output: step lines with a prefix; on a terminal a progress line kept at the bottom ------------------
  let latest: RunRecord | undefined;
  let progressShown = false;
  const clearProgress = () => {
    if (tty && progressShown) io.stdout.write('\r\x1b[K');
    progressShown = false;
  };
  const drawProgress = () => {
    if (!tty || !latest) return;
    io.stdout.write(`\r\x1b[K\x1b[2m${formatProgress(latest)}\x1b[0m`);
    progressShown = true;
  };
  const say = (text: string) => {
    clearProgress();
    io.stdout.write(text + '\n');
    drawProgress();
  };
  const prefix = (step: string) => (tty ? `\x1b[36m${step.padEnd(width)}\x1b[0m │ ` : `[${step}] `);
  const lastState = new Map<string, StepState>();

  runtime.on('log', (_id, step, line) => {
    if (quiet && line.stream !== 'system') return;
    say(prefix(step) + line.text);
  });
  runtime.on('change', (rec) => {
    latest = rec;
    for (const s of rec.steps) {
      if (lastState.get(s.name) === s.state) continue;
      const before = lastState.get(s.name);
      lastState.set(s.name, s.state);
      if (s.state === 'pending' && before === undefined) continue;
      const took = s.startedAt && s.finishedAt ? ` in ${formatDuration(Date.parse(s.finishedAt) - Date.parse(s.startedAt))}` : '';
      const detail =
        s.state === 'failed' && s.error
          ? `: ${s.error.type && !s.error.message.startsWith(s.error.type) ? `${s.error.type}: ` : ''}${s.error.message}${s.error.cell !== undefined ? ` (${cellLabel(s.error.cell, s.error.line)})` : ''}`
          : '';
      say(`${prefix(s.name)}── ${s.state}${s.state === 'running' ? '' : took}${detail}`);
    }
    drawProgress();
  });

  const id = await runtime.submit({
    ...(inImagesRun?.prepared.request ?? {}),
    notebookPath: shown,
    notebookHash: createHash('sha256').update(bytes).digest('hex'),
    specHash: inImagesRun?.prepared.request.specHash ?? result.specHash ?? '',
    graph: result.graph,
    programs: result.programs,
    parameters,
    cache: !args.flags['no-cache'],
    workdir: resolve(nbPath, '..'),
    ...(reuse ? { reuse } : {}),
  });
  say(`cellpipe: run ${id} of ${shown} (${result.graph.steps.length} steps; store ${relative(io.cwd, storeDir) || '.'})`);

  // Ctrl-C / SIGTERM: cancel the run (steps get SIGTERM, then SIGKILL), then exit.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say('cellpipe: cancelling…');
    void runtime.cancel(id);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ticker = tty ? setInterval(drawProgress, 1000) : undefined;
  let final: RunRecord;
  try {
    final = await runtime.wait(id);
  } finally {
    if (ticker) clearInterval(ticker);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    clearProgress();
    await inImagesRun?.close();
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
