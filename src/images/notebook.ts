/**
 * `buildNotebookImages`: the step images of one compiled notebook, with everything the notebook itself declares
 * — `metadata.cellpipe.files`, a `requirements.txt` next to it, per-step `image:` bases and requirements — and the
 * files its steps read (src/images/files.ts), read the same way for `cellpipe build`, `--in-images`, the Kubeflow
 * runtime and the backend's `POST /api/build`.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CompileResult } from '../core/compile.js';
import { buildStepImages, type BuildOptions, type BuildResult } from './build.js';
import { planNotebookFiles, type FilesPlan } from './files.js';
import { CellpipeError } from '../core/errors.js';

/** Where the images go and how to reach the registry (a profile's `registry`/`insecureRegistry`/`baseImage`, or CLI flags). */
export type NotebookBuildOptions = Omit<BuildOptions, 'programs' | 'notebookDir' | 'files' | 'requirements' | 'stepRequirements' | 'stepBases' | 'base'> & {
  /** Base image; default: the notebook's own base image setting. */
  base?: string;
};

/** A problem in what the notebook declares (not in the registry): the message names the field to fix. */
export class NotebookBuildError extends CellpipeError {
  constructor(message: string) {
    super(message);
    this.name = 'NotebookBuildError';
  }
}

/**
 * The declared files of a compiled notebook (`metadata.cellpipe.files` without its `!path` exclusions); throws when
 * the field is malformed.
 */
export function declaredFileList(result: CompileResult): string[] {
  const meta = (result.notebook?.metadata?.cellpipe ?? {}) as { files?: unknown };
  if (meta.files === undefined) return [];
  if (!(Array.isArray(meta.files) && meta.files.every((f) => typeof f === 'string'))) {
    throw new NotebookBuildError('metadata.cellpipe.files must be a list of paths relative to the notebook');
  }
  return (meta.files as string[]).filter((f) => !f.startsWith('!'));
}

/** The images of a notebook, and which files went into them. */
export type NotebookBuildResult = BuildResult & { files: FilesPlan };

/** Builds and pushes the step images of `result` (a successful compile, graph included) of the notebook in `notebookDir`. */
export async function buildNotebookImages(result: CompileResult, notebookDir: string, o: NotebookBuildOptions): Promise<NotebookBuildResult> {
  const graph = result.graph;
  if (!graph) throw new NotebookBuildError('the notebook did not compile; fix its errors before building images');
  declaredFileList(result);
  const files = await planNotebookFiles(result, notebookDir);
  let requirements: string[] | undefined;
  try {
    requirements = (await readFile(resolve(notebookDir, 'requirements.txt'), 'utf8')).split('\n');
  } catch {
    requirements = undefined;
  }
  const stepBases: Record<string, string> = {};
  const stepRequirements: Record<string, string[]> = {};
  for (const s of graph.steps) {
    if (s.image) stepBases[s.name] = s.image;
    if (s.requirements.length) stepRequirements[s.name] = s.requirements;
  }
  const built = await buildStepImages({
    ...o,
    programs: result.programs,
    notebookDir,
    files: files.paths,
    requirements,
    stepRequirements,
    stepBases,
    base: o.base ?? graph.pipeline.baseImage,
  });
  return { ...built, files };
}
