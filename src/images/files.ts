/**
 * `planNotebookFiles`: which files go into the step images — the I/O half of "the files a notebook reads travel with
 * its steps". The core found what each step reads (`Step.files`, src/core/files.ts); here each path is checked
 * against the notebook's folder: does it exist, how big is it, which files does a pattern match. Files that exist
 * are packaged, in notebook order, up to the notebook's size limit (`metadata.cellpipe.files_limit_mb`, default 50);
 * the declared `metadata.cellpipe.files` always are, and do not count against it.
 * What does not travel is a warning on the cell that reads it, with what to do.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { CompileResult } from '../core/compile.js';
import { globRegExp, isExcluded, readFilesSetting } from '../core/files.js';
import type { Diagnostic, StepFile } from '../core/model.js';
import { formatBytes } from '../core/bytes.js';

/** Why a file a step reads is not in the images. */
export type NotTravelling = 'missing' | 'over-limit' | 'excluded' | 'absolute' | 'outside' | 'volume';

/** What happened to one path a step reads (a pattern stands for the files it matched). */
export interface FileOutcome {
  /** As in `StepFile.path`. */
  path: string;
  travels: boolean;
  why?: NotTravelling;
  /** Bytes packaged (or that would have been, for `over-limit`). */
  bytes?: number;
  /** For a pattern or a folder: the files it stands for, relative to the notebook. */
  matches?: string[];
  /** Steps that read it. */
  steps: string[];
  /** True when it travels because `metadata.cellpipe.files` lists it (or its folder). */
  declared?: boolean;
}

export interface FilesPlan {
  /** Paths relative to the notebook to package (files, or folders packaged whole): declared ones, then detected ones. */
  paths: string[];
  /** Per path the steps read, in notebook order. */
  outcomes: FileOutcome[];
  /** Declared entries of `metadata.cellpipe.files` (packaged as they are). */
  declared: string[];
  /** Bytes of the detected files packaged, and the limit. */
  bytes: number;
  limitBytes: number;
  /** Warnings on the cells that read a file that does not travel. */
  diagnostics: Diagnostic[];
}

/** Folders never searched for a pattern's files: cellpipe's run store, checkpoints, VCS and caches. */
const SKIP_DIRS = new Set(['.cellpipe', '.ipynb_checkpoints', '.git', '__pycache__', 'node_modules']);

async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) out.push(...(await walkFiles(p)));
    } else if (e.isFile() || e.isSymbolicLink()) out.push(p);
  }
  return out.sort();
}

/** The files (relative, `/`-separated) a path or pattern stands for in the notebook's folder, with their total size. */
async function matchFiles(notebookDir: string, file: StepFile): Promise<{ files: string[]; bytes: number; folder: boolean } | undefined> {
  const toRel = (p: string) => relative(notebookDir, p).split(sep).join('/');
  if (file.pattern) {
    const literal = file.path.slice(0, file.path.indexOf('*'));
    const folder = resolve(notebookDir, literal.slice(0, literal.lastIndexOf('/') + 1));
    const re = globRegExp(file.path);
    const files = (await walkFiles(folder)).map(toRel).filter((p) => re.test(p));
    if (!files.length) return undefined;
    let bytes = 0;
    for (const f of files) bytes += (await stat(resolve(notebookDir, f))).size;
    return { files, bytes, folder: false };
  }
  const abs = resolve(notebookDir, file.path);
  let st;
  try {
    st = await stat(abs);
  } catch {
    return undefined;
  }
  if (!st.isDirectory()) return { files: [file.path], bytes: st.size, folder: false };
  // A folder (a partitioned parquet data set): packaged whole.
  const files = (await walkFiles(abs)).map(toRel);
  let bytes = 0;
  for (const f of files) bytes += (await stat(resolve(notebookDir, f))).size;
  return { files, bytes, folder: true };
}

/**
 * Which files of `notebookDir` go into the images of the compiled notebook `result` (its graph's steps carry
 * `files`). Never throws for what the code reads; a malformed `metadata.cellpipe.files` is the compiler's error.
 */
export async function planNotebookFiles(result: CompileResult, notebookDir: string): Promise<FilesPlan> {
  const { setting } = readFilesSetting(result.notebook?.metadata ?? {});
  const plan: FilesPlan = { paths: [...setting.include], outcomes: [], declared: [...setting.include], bytes: 0, limitBytes: setting.limitBytes, diagnostics: [] };
  const declared = new Set(setting.include.map((p) => relative(notebookDir, resolve(notebookDir, p)).split(sep).join('/')));
  const isDeclared = (p: string) => [...declared].some((d) => p === d || p.startsWith(d + '/'));
  // One outcome per path, in the order the steps (then cells) read them.
  const reads = new Map<string, { file: StepFile; steps: string[] }>();
  for (const step of result.graph?.steps ?? []) {
    for (const f of step.files ?? []) {
      const seen = reads.get(f.path);
      if (seen) seen.steps.push(step.name);
      else reads.set(f.path, { file: f, steps: [step.name] });
    }
  }
  const cells = new Map((result.notebook?.cells ?? []).map((c) => [c.index, c]));
  const warn = (file: StepFile, code: string, message: string, hint: string) => {
    const cell = cells.get(file.cell);
    plan.diagnostics.push({ severity: 'warning', code, cell: file.cell, ...(cell?.id ? { cellId: cell.id } : {}), line: file.line, message, hint });
  };
  const packaged = new Set<string>();
  for (const { file, steps } of [...reads.values()].sort((a, b) => a.file.cell - b.file.cell || a.file.line - b.file.line)) {
    const outcome: FileOutcome = { path: file.path, travels: false, steps };
    plan.outcomes.push(outcome);
    if (file.status !== 'travels') {
      outcome.why = file.status;
      continue;
    }
    if (!file.pattern && isDeclared(file.path)) {
      Object.assign(outcome, { travels: true, declared: true }); // packaged with the declared entries
      continue;
    }
    const found = await matchFiles(notebookDir, file);
    if (!found) {
      outcome.why = 'missing';
      warn(file, 'file-missing',
        `'${file.path}' ${file.pattern ? 'matches no file' : 'does not exist'} in the notebook's folder, so it does not travel into the step images`,
        'if an earlier step writes it, steps in images do not share a folder: pass the data between steps as a variable, or use a volume; otherwise fix the path');
      continue;
    }
    const fresh = found.files.filter((f) => !packaged.has(f) && !isDeclared(f) && !isExcluded(f, setting.exclude));
    let bytes = 0;
    for (const f of fresh) bytes += (await stat(resolve(notebookDir, f))).size;
    outcome.bytes = found.bytes;
    if (found.folder || file.pattern) outcome.matches = found.files;
    if (plan.bytes + bytes > plan.limitBytes) {
      outcome.why = 'over-limit';
      warn(file, 'file-over-limit',
        `'${file.path}' (${formatBytes(found.bytes)}) does not travel into the step images: the notebook's files would pass the ${formatBytes(plan.limitBytes)} limit`,
        'mount it with a volume (Kale\'s volumes setting, metadata.kubeflow_notebook.volumes) or read it from object storage; or raise metadata.cellpipe.files_limit_mb, or list it in metadata.cellpipe.files to package it anyway');
      continue;
    }
    plan.bytes += bytes;
    outcome.travels = true;
    for (const f of fresh) {
      packaged.add(f);
      plan.paths.push(f);
    }
  }
  return plan;
}
