/**
 * A notebook made ready to run in containers: compiled, its step images built exactly as `cellpipe build` builds
 * them (same layers, same content-addressed tags), and the spec compiled for those images — what the
 * container runtime's `submit` takes (with the parameters and cache flag of the run).
 */
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { compileNotebook, type CompileResult } from '../../core/compile.js';
import { STEPS_DIR, WORK_DIR, type BuildProgress } from '../../images/build.js';
import { buildNotebookImages, type NotebookBuildOptions, type NotebookBuildResult } from '../../images/notebook.js';
import type { ContainerRunRequest } from './runtime.js';
import type { SpecDoc } from '../../kfp/tasks.js';
import { notebookReader } from '../../runs/notebook-reader.js';
import { CellpipeError } from '../../core/errors.js';

export interface PrepareOptions {
  /** Notebook path as shown (messages, the run record). */
  shown: string;
  /** Absolute path of the notebook (its folder holds the declared files). */
  path: string;
  text: string;
  build: NotebookBuildOptions;
  onProgress?: (e: BuildProgress) => void;
}

export interface Prepared {
  compiled: CompileResult;
  /** The images, and which files went into them. */
  built: NotebookBuildResult;
  request: Omit<ContainerRunRequest, 'parameters'>;
}

export class PrepareError extends CellpipeError {
  constructor(message: string, readonly compiled?: CompileResult) {
    super(message);
    this.name = 'PrepareError';
  }
}

export async function prepareContainerRun(o: PrepareOptions): Promise<Prepared> {
  const checked = compileNotebook(o.text, { path: o.shown, graphOnly: true, defaultBaseImage: o.build.base, readNotebook: notebookReader(o.path) });
  if (!checked.ok || !checked.graph) throw new PrepareError(`${o.shown} has errors; fix them and run again`, checked);
  const built = await buildNotebookImages(checked, dirname(o.path), { ...o.build, onProgress: o.onProgress ?? o.build.onProgress });
  const compiled = compileNotebook(o.text, { path: o.shown, images: built.images, programDir: STEPS_DIR, workdir: WORK_DIR, defaultBaseImage: o.build.base, readNotebook: notebookReader(o.path) });
  if (!compiled.ok || !compiled.yaml || !compiled.graph) throw new PrepareError(`${o.shown} does not compile with the built images`, compiled);
  const spec = parseAllDocuments(compiled.yaml)[0].toJS() as SpecDoc;
  return {
    compiled,
    built,
    request: {
      notebookPath: o.shown,
      notebookHash: createHash('sha256').update(o.text).digest('hex'),
      specHash: compiled.specHash ?? '',
      graph: compiled.graph,
      programs: compiled.programs,
      images: built.images,
      spec,
      workdir: dirname(o.path),
    },
  };
}
