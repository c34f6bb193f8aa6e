/**
 * Reading an .ipynb: JSON text in, a `Notebook` or a diagnostic out. Never throws on bad input.
 */
import type { CellType, Diagnostic, Notebook, NotebookCell } from './model.js';

const fail = (message: string, hint: string): { diagnostics: Diagnostic[] } => ({
  diagnostics: [{ severity: 'error', code: 'malformed-notebook', message, hint }],
});

export function parseNotebook(text: string): { notebook?: Notebook; diagnostics: Diagnostic[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return fail(`the notebook is not valid JSON (${detail})`, 'open it in JupyterLab and save it again, or restore it from version control');
  }
  return notebookFromJson(json);
}

/** Validates an already-parsed notebook object (e.g. the model JupyterLab holds). */
export function notebookFromJson(json: unknown): { notebook?: Notebook; diagnostics: Diagnostic[] } {
  if (!isObject(json)) return fail('the notebook is not a JSON object', 'an .ipynb file is a JSON object with "cells" and "metadata"');
  const nbformat = json.nbformat;
  if (typeof nbformat !== 'number') return fail('the notebook has no "nbformat" version', 'save it with Jupyter (nbformat 4)');
  if (nbformat < 4) {
    return fail(`the notebook uses nbformat ${nbformat}; cellpipe reads nbformat 4`, `convert it: jupyter nbconvert --to notebook --nbformat 4 FILE`);
  }
  if (!Array.isArray(json.cells)) return fail('the notebook has no "cells" list', 'save it with Jupyter (nbformat 4)');
  const diagnostics: Diagnostic[] = [];
  const cells: NotebookCell[] = [];
  json.cells.forEach((raw, index) => {
    if (!isObject(raw)) {
      diagnostics.push({ severity: 'error', code: 'malformed-notebook', cell: index, message: `${cellLabel(index)} is not a JSON object`, hint: 'repair or delete the cell' });
      return;
    }
    const type = raw.cell_type;
    if (type !== 'code' && type !== 'markdown' && type !== 'raw') {
      diagnostics.push({ severity: 'error', code: 'malformed-notebook', cell: index, message: `${cellLabel(index)} has unknown cell_type ${JSON.stringify(type)}`, hint: 'use code, markdown or raw' });
      return;
    }
    const source = joinSource(raw.source);
    if (source === undefined) {
      diagnostics.push({ severity: 'error', code: 'malformed-notebook', cell: index, message: `${cellLabel(index)} has no readable "source"`, hint: 'source must be a string or a list of strings' });
      return;
    }
    const metadata = isObject(raw.metadata) ? raw.metadata : {};
    const rawTags = metadata.tags;
    const tags = Array.isArray(rawTags) ? rawTags.filter((t): t is string => typeof t === 'string') : [];
    const cell: NotebookCell = { index, type: type as CellType, source, tags };
    if (typeof raw.id === 'string') cell.id = raw.id;
    if (typeof metadata.notebook_path === 'string') cell.notebookPath = metadata.notebook_path;
    cells.push(cell);
  });
  const metadata = isObject(json.metadata) ? json.metadata : {};
  return {
    notebook: { nbformat, nbformatMinor: typeof json.nbformat_minor === 'number' ? json.nbformat_minor : 0, cells, metadata },
    diagnostics,
  };
}

function joinSource(source: unknown): string | undefined {
  if (typeof source === 'string') return source;
  if (Array.isArray(source) && source.every((s) => typeof s === 'string')) return source.join('');
  return undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How a message a person reads names a cell: index 6 is "cell 7", as JupyterLab numbers cells (1-based, markdown and
 * raw cells count: its status bar's "Cell 7/12"). Machine-readable fields (`Diagnostic.cell`, `Parameter.cell`, run
 * records, `--json`, the API) keep the 0-based index into the notebook's `cells` array.
 */
export function cellLabel(index: number, line?: number): string {
  return `cell ${index + 1}${line ? `, line ${line}` : ''}`;
}

/** First non-empty line of a cell, shortened: how messages name a cell to a person. */
export function firstLine(source: string, max = 60): string {
  const line = source.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}
