/**
 * The file reader the compiler is handed for Kale 2.3's `notebook:` cells (src/core/compose.ts): the core does no
 * I/O, so the CLI, the backend and the runtimes read the referenced notebooks from disk with this.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { NotebookReader } from '../core/compose.js';

/** Reads notebooks by path relative to `notebookFile`'s folder: undefined when there is none, the error otherwise. */
export function notebookReader(notebookFile: string): NotebookReader {
  const folder = dirname(resolve(notebookFile));
  return (path) => {
    try {
      return readFileSync(resolve(folder, path), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error((err as NodeJS.ErrnoException).code === 'EISDIR' ? `'${path}' is a folder` : (err as Error).message);
    }
  };
}
