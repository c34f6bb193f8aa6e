/**
 * `cellpipe submit NOTEBOOK [--profile NAME] [--param NAME=VALUE]… [--watch]`: validates the notebook, builds and
 * pushes the step images (unchanged steps are found, not rebuilt), uploads the pipeline (or reuses the version
 * holding the same spec), creates the Kubeflow Pipelines run and records it in the run store.
 * With --watch: live step states and step logs until the run ends; the exit code is the run's result.
 * Exit 0: submitted (or, with --watch, succeeded); 1: failed; 2: usage errors.
 */
import { dirname } from 'node:path';
import type { Command } from '../main.js';
import { parseArgs, keyValues, UsageError } from '../args.js';
import { describeError, kubeflowRuntimeFor, pickProfile, readNotebookArg, reportSubmitFailure, stageProgress, type NotebookArg } from '../kubeflow-notebook.js';
import { compileNotebook } from '../../core/compile.js';
import { notebookReader } from '../../runs/notebook-reader.js';
import { compileFailure, type KubeflowRuntime, type SubmitProgress } from '../../runtimes/kubeflow/runtime.js';
import type { RunRecord } from '../../runs/types.js';
import { KUBEFLOW, type RunInput, type TargetHost } from '../../runtimes/targets/index.js';

const USAGE = `usage: cellpipe submit NOTEBOOK [--profile NAME] [options]

  --profile NAME        the cellpipe profile (cluster, namespace, registry, kfp settings) to submit with; may be
                        left out when there is only one (in a Kubeflow notebook pod without a profiles file: the
                        profile 'kubeflow', this notebook's namespace, found from the pod)
  --param NAME=VALUE    set a pipeline parameter for this run (repeatable); VALUE is read by the parameter's type
  --watch               follow the run: step states and logs until it ends; exit code = the run's result
  --no-build            do not build images: run every step on the base image with its program in the spec
  --only STEP           the step must execute (repeat, or a,b); the others take KFP's cached outputs where their
                        inputs are unchanged (KFP's cache, not an earlier run of yours: see README, Debugging a step)
  --from STEP           this step and every step after it must execute
  --no-cache            every step executes (KFP's cache off for this run)
  --json                print the run record as JSON (after the run ends, with --watch)

Profiles live in $CELLPIPE_PROFILES or ~/.config/cellpipe/profiles.yaml (see README: "Kubeflow profiles and auth").
A user token for Kubeflow Pipelines can be given in $CELLPIPE_KFP_TOKEN; it is never stored.`;

const STAGE_WORDS: Record<SubmitProgress['stage'], string> = { validate: 'validate', build: 'build images', upload: 'upload', run: 'create run' };

/** The run to submit: the notebook compiled as the profile compiles it, the steps chosen (`--only`/`--from`), the cache. */
async function submitInput(notebook: NotebookArg, runtime: KubeflowRuntime, flags: Record<string, unknown>): Promise<RunInput> {
  const { path, shown, text } = notebook;
  const compiled = compileNotebook(text, { path: shown, graphOnly: true, defaultBaseImage: await runtime.baseImage(undefined), readNotebook: notebookReader(path) });
  if (!compiled.ok || !compiled.graph) throw compileFailure(shown, compiled);
  const only = flags.only !== undefined ? (flags.only as string[]).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean) : undefined;
  const from = typeof flags.from === 'string' ? flags.from : undefined;
  return {
    path, shown, bytes: Buffer.from(text), compiled: { ...compiled, graph: compiled.graph }, parameters: {}, store: runtime.store, workdir: dirname(path),
    cache: !flags['no-cache'],
    ...(only || from !== undefined ? { selection: { ...(only ? { only } : {}), ...(from !== undefined ? { from } : {}) } } : {}),
  };
}

const submit: Command = async (argv, io) => {
  let args;
  try {
    args = parseArgs(argv, {
      profile: { value: true }, param: { value: true, multiple: true }, watch: {}, 'no-build': {}, json: {}, help: { short: 'h' },
      only: { value: true, multiple: true }, from: { value: true }, 'no-cache': {},
    });
    if ([args.flags.only !== undefined, args.flags.from !== undefined, !!args.flags['no-cache']].filter(Boolean).length > 1) {
      throw new UsageError('give one of --only, --from and --no-cache');
    }
    if (args.flags.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (args.positionals.length !== 1) throw new UsageError('give exactly one notebook');
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe submit: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  let texts: Record<string, string>;
  try {
    texts = Object.fromEntries(keyValues(args.flags.param, 'param'));
  } catch (err) {
    io.stderr.write(`cellpipe submit: ${(err as Error).message}\n`);
    return 2;
  }
  const notebook = await readNotebookArg('submit', args.positionals[0], io);
  if (typeof notebook === 'number') return notebook;
  const { path, shown } = notebook;

  let runtime: KubeflowRuntime;
  try {
    runtime = kubeflowRuntimeFor(await pickProfile(args.flags.profile, io.env), path, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe submit: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    io.stderr.write(`cellpipe submit: ${describeError(err)}\n`);
    return 1;
  }

  const tty = Boolean(io.stderr.isTTY);
  const t0 = performance.now();
  const host: TargetHost = {
    env: io.env,
    profile: async () => runtime.profile,
    kubeflowRuntime: async () => runtime,
    localRuntime: () => Promise.reject(new Error('cellpipe submit runs on Kubeflow; use cellpipe run for this machine')),
    // Without --no-build, the profile's default: images built, or inline on a notebook pod's image with no registry.
    kubeflowNow: { ...(args.flags['no-build'] ? { images: 'inline' as const } : {}), parameterTexts: texts, onProgress: stageProgress(io, STAGE_WORDS, { pad: 12, live: tty }) },
  };
  let rec: RunRecord;
  try {
    // Compiled with the base image the profile gives a notebook that names none; a notebook with errors stops here.
    const input = await submitInput(notebook, runtime, args.flags);
    const target = await KUBEFLOW.open(runtime.profile.name, host);
    const { runId } = await target.start(input, await target.plan(input));
    const stored = await runtime.store.get(runId);
    if (!stored) throw new Error(`run ${runId} was submitted but is not in ${runtime.store.dir}`);
    rec = stored;
  } catch (err) {
    if (tty) io.stderr.write('\r\x1b[K');
    reportSubmitFailure('submit', err, shown, io);
    return 1;
  }
  io.stderr.write(`submitted in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  if (!args.flags.watch) {
    if (args.flags.json) io.stdout.write(JSON.stringify(rec, null, 2) + '\n');
    else io.stdout.write(`${rec.id}  kfp run ${rec.external?.kfpRunId}${rec.url ? `  ${rec.url}` : ''}\n`);
    return 0;
  }

  io.stdout.write(`run ${rec.id} (kfp ${rec.external?.kfpRunId})${rec.url ? `\n  ${rec.url}` : ''}\n`);
  const shownStates = new Map<string, string>();
  let runState = rec.state as string;
  runtime.on('change', (r: RunRecord) => {
    if (r.id !== rec.id) return;
    for (const s of r.steps) {
      if (shownStates.get(s.name) !== s.state) {
        shownStates.set(s.name, s.state);
        if (s.state !== 'pending') io.stdout.write(`[${s.name}] ${s.state}${s.error?.message ? `: ${s.error.message}` : ''}\n`);
      }
    }
    if (r.state !== runState) {
      runState = r.state;
      io.stdout.write(`run ${r.state}${r.reason ? ` (${r.reason})` : ''}\n`);
    }
  });
  runtime.on('log', (id: string, step: string, line) => {
    if (id === rec.id) io.stdout.write(`${step} | ${line.text}\n`);
  });
  runtime.on('warning', (id: string, message: string) => {
    if (id === rec.id) io.stderr.write(`warning: ${message}\n`);
  });
  const abort = new AbortController();
  const onSignal = () => {
    io.stderr.write(`\nstopped watching; the run goes on in Kubeflow (cellpipe status ${rec.id})\n`);
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  let final: RunRecord;
  try {
    final = await runtime.watch(rec.id, abort.signal);
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  if (abort.signal.aborted) return 130;
  if (args.flags.json) io.stdout.write(JSON.stringify(final, null, 2) + '\n');
  return final.state === 'succeeded' ? 0 : 1;
};

export default submit;
