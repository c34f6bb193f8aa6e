/**
 * A `notebook:` cell (Kale 2.3's composition) as the tag editor's "Reference a notebook…" inserts it: the picked
 * notebook's path relative to this notebook's folder in the cell's `notebook_path` metadata, and a unit name made
 * from its file name that no step or other reference of this notebook has. Pure: no DOM, no contents API.
 */
import { normalizePath } from '../../core/compose.js';

/** `to` (a server path) relative to the folder of the notebook at server path `from`, `/`-separated. */
export function relativeNotebookPath(from: string, to: string): string {
  const dir = normalizePath(from).split('/').slice(0, -1);
  const target = normalizePath(to).split('/');
  let same = 0;
  while (same < dir.length && same < target.length - 1 && dir[same] === target[same]) same++;
  return [...dir.slice(same).map(() => '..'), ...target.slice(same)].join('/');
}

/**
 * The unit name for a referenced notebook: its file name without `.ipynb`, as a step name (letters, digits, `_`,
 * `-`; a letter or `_` first), with `-2`, `-3` … when this notebook already uses it.
 */
export function unitName(path: string, taken: readonly string[]): string {
  const file = path.split('/').pop()!.replace(/\.ipynb$/i, '');
  let base = file.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[^A-Za-z]+/, '');
  if (!base) base = 'notebook';
  if (!taken.includes(base)) return base;
  for (let n = 2; ; n++) if (!taken.includes(`${base}-${n}`)) return `${base}-${n}`;
}

/** The nbformat cell that references `picked` from the notebook at `from` (server paths). */
export function notebookCell(from: string, picked: string, taken: readonly string[]): { cell_type: 'code'; source: string; metadata: { tags: string[]; notebook_path: string } } {
  const rel = relativeNotebookPath(from, picked);
  const name = unitName(picked, taken);
  return { cell_type: 'code', source: `# the steps of ${rel}`, metadata: { tags: [`notebook:${name}`], notebook_path: rel } };
}
