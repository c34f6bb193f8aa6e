/**
 * What `cellpipe submit` and `cellpipe schedule` share on their way to Kubeflow: reading the notebook argument,
 * the Kubeflow runtime over the notebook's run store, the stage progress lines, and how a failure is told.
 */
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import type { CommandIO } from './main.js';
import { formatDiagnostics } from './diagnostics.js';
import { hintOf } from '../core/errors.js';
import { loadProfile, profileNames, type Profile } from '../kube/profile.js';
import { UsageError } from './args.js';
import { RunStore, storeDirFor } from '../runs/store.js';
import { KubeflowRuntime, SubmitError, type SubmitProgress } from '../runtimes/kubeflow/runtime.js';

/**
 * The profile to use: the one named, else the only one there is — the only one in the profiles file, or, with no
 * file, the one a Kubeflow notebook pod implies. Throws a UsageError naming the profiles when there are several.
 */
export async function pickProfile(name: unknown, env: NodeJS.ProcessEnv): Promise<Profile> {
  if (typeof name === 'string') return loadProfile(name, env);
  const names = await profileNames(env);
  if (names?.length === 1) return loadProfile(names[0], env);
  throw new UsageError(`--profile NAME is required${names?.length ? ` (profiles: ${names.join(', ')})` : ''}`);
}

/**
 * An error as its message and, on the next line, its fix — for any error that knows one (every CellpipeError may), so
 * a new error class with a hint needs no line here.
 */
export function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const hint = hintOf(err);
  return hint ? `${message}\n  fix: ${hint}` : message;
}

export interface NotebookArg {
  path: string;
  /** The path as the user sees it (relative to the working directory). */
  shown: string;
  text: string;
}

/** The notebook named on the command line, read; or exit code 1 after saying why it could not be. */
export async function readNotebookArg(command: string, arg: string, io: CommandIO): Promise<NotebookArg | number> {
  const path = resolve(io.cwd, arg);
  const shown = relative(io.cwd, path) || path;
  try {
    return { path, shown, text: await readFile(path, 'utf8') };
  } catch (err) {
    io.stderr.write(`cellpipe ${command}: cannot read ${arg}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}\n`);
    return 1;
  }
}

/** The Kubeflow runtime for a profile, recording into the notebook's run store (or $CELLPIPE_STORE). */
export function kubeflowRuntimeFor(profile: Profile, notebookPath: string, io: CommandIO): KubeflowRuntime {
  const store = new RunStore(io.env.CELLPIPE_STORE ? resolve(io.cwd, io.env.CELLPIPE_STORE) : storeDirFor(notebookPath));
  return new KubeflowRuntime({ store, profile, env: io.env });
}

/**
 * A line per finished stage (`build images ✓  3 images`), requirements builds as they go, and — on a terminal
 * (`live`) — the bytes uploaded so far, rewritten in place.
 */
export function stageProgress(io: CommandIO, words: Record<SubmitProgress['stage'], string>, opts: { pad: number; live: boolean }): (p: SubmitProgress) => void {
  return (p) => {
    if (p.build) {
      if (p.build.kind === 'requirements') io.stderr.write(`  requirements for ${p.build.steps.join(', ')}: ${p.build.state}\n`);
      else if (p.build.kind === 'bytes' && opts.live) io.stderr.write(`\r\x1b[K  uploading… ${(p.build.uploaded / 1024).toFixed(0)} KB`);
      return;
    }
    if (p.state === 'done') {
      if (opts.live) io.stderr.write('\r\x1b[K');
      io.stderr.write(`${words[p.stage].padEnd(opts.pad)} ✓${p.detail ? `  ${p.detail}` : ''}\n`);
    }
  };
}

/** A failed submission: the notebook's errors on their cells when it did not compile, else the error and its fix. */
export function reportSubmitFailure(command: string, err: unknown, shown: string, io: CommandIO): void {
  if (err instanceof SubmitError && err.compile) {
    const errors = err.compile.diagnostics.filter((d) => d.severity === 'error');
    io.stderr.write((formatDiagnostics(errors, shown, { color: Boolean(io.stderr.isTTY) }) || err.message) + '\n');
  } else {
    io.stderr.write(`cellpipe ${command}: ${describeError(err)}\n`);
  }
}
