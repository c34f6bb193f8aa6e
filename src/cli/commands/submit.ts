/**
 * `cellpipe submit NOTEBOOK --profile NAME [--param NAME=VALUE]… [--watch]`: validates the notebook, builds and
 * pushes the step images (unchanged steps are found, not rebuilt), uploads the pipeline (or reuses the version
 * holding the same spec), creates the Kubeflow Pipelines run and records it in the run store.
 * With --watch: live step states and step logs until the run ends; the exit code is the run's result.
 * Exit 0: submitted (or, with --watch, succeeded); 1: failed; 2: usage errors.
 */
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import type { Command } from '../main.js';
import { parseArgs, keyValues, UsageError } from '../args.js';
import { formatDiagnostics } from '../diagnostics.js';
import { loadProfile } from '../../kube/profile.js';
import { KubeError } from '../../kube/errors.js';
import { RunStore, storeDirFor } from '../../runs/store.js';
import { KfpError } from '../../kfp/errors.js';
import { ParameterError } from '../../kfp/parameters.js';
import { KubeflowRuntime, SubmitError, type SubmitProgress } from '../../runtimes/kubeflow/runtime.js';
import type { RunRecord } from '../../runtimes/types.js';

const USAGE = `usage: cellpipe submit NOTEBOOK --profile NAME [options]

  --profile NAME        the cellpipe profile (cluster, namespace, registry, kfp settings) to submit with (required)
  --param NAME=VALUE    set a pipeline parameter for this run (repeatable); VALUE is read by the parameter's type
  --watch               follow the run: step states and logs until it ends; exit code = the run's result
  --no-build            do not build images: run every step on the base image with its program in the spec
  --json                print the run record as JSON (after the run ends, with --watch)

Profiles live in $CELLPIPE_PROFILES or ~/.config/cellpipe/profiles.yaml (see README: "Kubeflow profiles and auth").
A user token for Kubeflow Pipelines can be given in $CELLPIPE_KFP_TOKEN; it is never stored.`;

const STAGE_WORDS: Record<SubmitProgress['stage'], string> = { validate: 'validate', build: 'build images', upload: 'upload', run: 'create run' };

function describeError(err: unknown): string {
  if (err instanceof KfpError || err instanceof KubeError) return err.describe();
  if (err instanceof ParameterError) return `${err.message}\n  fix: ${err.hint}`;
  return (err as Error).message;
}

const submit: Command = async (argv, io) => {
  let args;
  try {
    args = parseArgs(argv, {
      profile: { value: true }, param: { value: true, multiple: true }, watch: {}, 'no-build': {}, json: {}, help: { short: 'h' },
    });
    if (args.flags.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (args.positionals.length !== 1) throw new UsageError('give exactly one notebook');
    if (typeof args.flags.profile !== 'string') throw new UsageError('--profile NAME is required');
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
  const path = resolve(io.cwd, args.positionals[0]);
  const shown = relative(io.cwd, path) || path;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    io.stderr.write(`cellpipe submit: cannot read ${args.positionals[0]}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}\n`);
    return 1;
  }

  let runtime: KubeflowRuntime;
  try {
    const profile = await loadProfile(args.flags.profile as string, io.env);
    const store = new RunStore(io.env.CELLPIPE_STORE ? resolve(io.cwd, io.env.CELLPIPE_STORE) : storeDirFor(path));
    runtime = new KubeflowRuntime({ store, profile, env: io.env });
  } catch (err) {
    io.stderr.write(`cellpipe submit: ${describeError(err)}\n`);
    return 1;
  }

  const tty = Boolean(io.stderr.isTTY);
  const t0 = performance.now();
  const onProgress = (p: SubmitProgress) => {
    if (p.build) {
      if (p.build.kind === 'requirements') io.stderr.write(`  requirements for ${p.build.steps.join(', ')}: ${p.build.state}\n`);
      else if (p.build.kind === 'bytes' && tty) io.stderr.write(`\r\x1b[K  uploading… ${(p.build.uploaded / 1024).toFixed(0)} KB`);
      return;
    }
    if (p.state === 'done') {
      if (tty) io.stderr.write('\r\x1b[K');
      io.stderr.write(`${STAGE_WORDS[p.stage].padEnd(12)} ✓${p.detail ? `  ${p.detail}` : ''}\n`);
    }
  };
  let result;
  try {
    result = await runtime.submitNotebook({
      notebookPath: path, shownPath: shown, text, parameterTexts: texts, images: args.flags['no-build'] ? 'inline' : 'build', watch: false, onProgress,
    });
  } catch (err) {
    if (tty) io.stderr.write('\r\x1b[K');
    if (err instanceof SubmitError && err.compile) {
      const errors = err.compile.diagnostics.filter((d) => d.severity === 'error');
      io.stderr.write((formatDiagnostics(errors, shown, { color: tty }) || err.message) + '\n');
    } else {
      io.stderr.write(`cellpipe submit: ${describeError(err)}\n`);
    }
    return 1;
  }
  const rec = result.record;
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
