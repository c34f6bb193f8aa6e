/**
 * Notebook paths as the JupyterLab page knows them: relative to Jupyter's root directory, `/`-separated.
 * The backend only ever touches files inside that root: `../`, absolute paths and symlinks that lead
 * outside it are refused (403) before anything is read.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from './http.js';

/** A notebook path checked to be inside the root. */
export interface ResolvedNotebook {
  /** Normalised, `/`-separated, relative to the root: what run records and the page use. */
  rel: string;
  /** Absolute path (through the root as configured, symlinks not resolved). */
  abs: string;
  /** Absolute path with every symlink resolved (what is actually read). */
  real: string;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves `given` (from a request) against `root` and `realRoot` (the root with symlinks resolved).
 * Throws 400 for malformed paths, 403 for paths outside the root, 404 when the file does not exist.
 */
export async function resolveNotebook(root: string, realRoot: string, given: string): Promise<ResolvedNotebook> {
  if (given.includes('\0')) throw new HttpError(400, 'notebook path contains a NUL byte');
  const refused = (why: string) =>
    new HttpError(403, `notebook path '${given}' is refused: ${why}`, 'Use a path relative to the Jupyter root directory, as shown in the file browser.');
  if (path.isAbsolute(given) || /^[a-zA-Z]:[\\/]/.test(given)) throw refused('absolute paths are not allowed');
  const abs = path.resolve(root, given);
  if (!isInside(root, abs)) throw refused('it points outside the Jupyter root directory');
  let real: string;
  try {
    real = await realpath(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new HttpError(404, `notebook '${given}' not found`, 'Save the notebook first, then try again.');
    }
    if ((err as NodeJS.ErrnoException).code === 'ENAMETOOLONG') {
      const longest = Math.max(...given.split('/').map((part) => Buffer.byteLength(part)));
      throw new HttpError(400, `notebook path '${given.length > 80 ? `${given.slice(0, 60)}…` : given}' is too long: a name in it has ${longest} bytes, more than a file name can have (255)`, 'Use a shorter notebook or folder name.');
    }
    throw err;
  }
  if (!isInside(realRoot, real)) throw refused('it is a symbolic link to a place outside the Jupyter root directory');
  const info = await stat(real);
  if (!info.isFile()) throw new HttpError(400, `'${given}' is not a file`);
  const rel = path.relative(root, abs).split(path.sep).join('/');
  return { rel, abs, real };
}
