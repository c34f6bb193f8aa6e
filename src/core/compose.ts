/**
 * Kale 2.3's composition of notebooks: a `notebook:<name>` cell (its `notebook_path` cell metadata names another
 * notebook, relative to this one) stands for that notebook's steps. Read as Kale's `NotebookProcessor` reads it:
 *
 * - the cell holds no code (comments are fine); untagged code after it is held for the next `step:` cell, which owns
 *   it (another `notebook:` cell or the end of the notebook first is an error);
 * - the referenced notebook is read by its own rules; a reference inside it (nesting) and a notebook referencing
 *   itself (a cycle) are refused with the chain named;
 * - the root's pipeline parameters are handed down (where both declare a name, the root's value wins); the root's
 *   `steps_defaults` apply to every step, the referenced notebook's own to its steps where the root sets no such key;
 * - units are ordered as Kale links them: each root step runs after every unit above it and before every unit below
 *   it; two references with no step between them are independent; data flows between units by name.
 *
 * cellpipe flattens the composition into one notebook the rest of the compiler reads as usual: each referenced step
 * becomes a step named `<name>-<step>` of this pipeline (one KFP task each), its cells keep their origin (notebook and
 * cell index) for programs, cache keys and messages. Pure: the caller hands in a reader for the referenced notebooks.
 *
 * Flat tasks, not a KFP sub-DAG per referenced notebook: KFP's UI draws a sub-DAG as one collapsed node whose steps'
 * logs and artifacts are a click further down, a sub-DAG's tasks can read another DAG's outputs only through
 * `pipelinechannel--` inputs threaded through the DAG's interface, and a client-side caching override reaches only the
 * root DAG's tasks; cellpipe's own views (step graph, logs, outputs under cells, runs) are per step anyway, and the
 * step graph in JupyterLab draws each notebook's steps in a box of its own (lab/model/layout.ts).
 */
import type { Diagnostic, Notebook, NotebookCell } from './model.js';
import { notebookFromJson, parseNotebook, cellLabel } from './notebook.js';
import { parseCellTags } from './tags.js';
import { buildStepGraph } from './graph.js';
import { readSettings } from './settings.js';

/**
 * Reads a referenced notebook: `path` is relative to the root notebook's folder, `/`-separated and normalised. Returns
 * the notebook's JSON text (or parsed JSON), or undefined when there is no such file; may throw when it can't be read.
 */
export type NotebookReader = (path: string) => string | object | undefined;

export interface Composition {
  /** The flattened notebook: the root's cells keep their indices; referenced cells get new ones and an `origin`. */
  notebook: Notebook;
  diagnostics: Diagnostic[];
  /** The referenced notebooks, by unit name, with their paths (relative to the root notebook's folder). */
  units: { name: string; notebook: string; cell: number }[];
}

/** Whether a notebook has any `notebook:` cell (only then is it composed). */
export function composes(notebook: Notebook): boolean {
  return notebook.cells.some((c) => c.type === 'code' && c.tags.some((t) => t.trim().startsWith('notebook:')));
}

/** Kale's test for code in a `notebook:` cell: any line that is not blank and not a comment. */
function hasCode(source: string): boolean {
  return source.split('\n').some((l) => l.trim() && !l.trim().startsWith('#'));
}

/** `a/./b/../c.ipynb` → `a/c.ipynb`, without node:path (core runs in the page too). */
export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const part of path.replace(/\\/g, '/').split('/')) {
    if (!part || part === '.') continue;
    if (part === '..' && out.length && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

interface Unit {
  kind: 'steps' | 'reference';
  /** Composed step names in this unit. */
  steps: string[];
  /** Its steps no other step of it depends on / that depend on none of it (for edges to and from the unit). */
  sinks: string[];
  sources: string[];
  /** The composed cell that carries each step's first cell (where prev: tags for edges into the unit go). */
  firstCell: Map<string, NotebookCell>;
}

/** The key a step option sets, so a referenced notebook's default yields to the root's default for the same key. */
function optionKey(tag: string): string {
  const parts = tag.trim().split(':');
  if (['label', 'annotation', 'limit'].includes(parts[0])) return `${parts[0]}:${parts.slice(1, -1).join(':')}`;
  if (parts[0] === 'secret') return `secret:${parts[3] ?? ''}`;
  if (parts[0] === 'env') return `env:${(parts.slice(1).join(':').split('=')[0])}`;
  return parts[0];
}

export function composeNotebook(root: Notebook, rootPath: string | undefined, read: NotebookReader | undefined): Composition {
  const diagnostics: Diagnostic[] = [];
  const rootName = baseName(rootPath ?? 'notebook.ipynb');
  const at = (cell: NotebookCell) => ({ cell: cell.index, ...(cell.id ? { cellId: cell.id } : {}) });
  const error = (cell: NotebookCell, code: string, message: string, hint: string) =>
    diagnostics.push({ severity: 'error', code, ...at(cell), message, hint });
  const rootDefaults = readSettings(root.metadata, rootPath).settings.stepDefaults;
  const rootKeys = new Set(rootDefaults.map(optionKey));

  let nextIndex = root.cells.reduce((m, c) => Math.max(m, c.index), -1) + 1;
  const hoisted: NotebookCell[] = []; // referenced notebooks' parameters cells: first, so the root's values win
  const cells: NotebookCell[] = [];
  const units: Unit[] = [];
  const references: Composition['units'] = [];
  let held: NotebookCell[] = [];
  let heldAfter: NotebookCell | undefined;
  let rootUnit: Unit | undefined; // the root step unit being read (a root step: cell starts one)
  const state: Flattening = { error, rootName, rootKeys, read, references, cells, hoisted, next: () => nextIndex++ };

  for (const cell of root.cells) {
    if (cell.type !== 'code') {
      cells.push(cell);
      continue;
    }
    const tags = parseCellTags(cell).tags;
    if (tags.notebook) {
      rootUnit = undefined;
      const name = tags.notebook;
      if (hasCode(cell.source)) {
        error(cell, 'notebook-cell-code', `'notebook:${name}' cell contains code: a cell that references a notebook holds no code of its own (Kale 2.3)`,
          'move the code to a step: cell of its own (comments may stay)');
      }
      if (held.length) {
        error(held[0], 'held-code', `${cellLabel(held[0].index)} is untagged code after 'notebook:${heldAfter ? parseCellTags(heldAfter).tags.notebook : ''}', and another notebook: cell comes before a step: cell owns it`,
          'tag the cell step:<name> (Kale 2.3 gives untagged code after a notebook: cell to the next step: cell)');
        held = [];
      }
      heldAfter = cell;
      const unit = reference(state, cell, name);
      if (unit) units.push(unit);
      continue;
    }
    if (tags.role === 'step') {
      const name = tags.step!;
      heldAfter = undefined;
      rootUnit = units.find((u) => u.kind === 'steps' && u.steps.includes(name));
      if (!rootUnit) {
        rootUnit = { kind: 'steps', steps: [name], sinks: [name], sources: [name], firstCell: new Map() };
        units.push(rootUnit);
      }
      if (held.length) {
        // The held cells run first in the step, as Kale prepends them: the first carries the step's name.
        cells.push({ ...held[0], tags: [...held[0].tags, `step:${name}`] }, ...held.slice(1));
        rootUnit.firstCell.set(name, cells[cells.length - held.length]);
        held = [];
      } else if (!rootUnit.firstCell.has(name)) rootUnit.firstCell.set(name, cell);
      cells.push(cell);
      continue;
    }
    if (heldAfter && !tags.role && hasCode(cell.source)) {
      held.push(cell);
      continue;
    }
    if (tags.role && tags.role !== 'skip') {
      // Kale: an imports/functions/parameters/metrics cell ends the wait (untagged cells join it); held cells stay held.
      rootUnit = undefined;
      heldAfter = undefined;
    }
    cells.push(cell);
  }
  if (held.length) {
    error(held[0], 'held-code', `${cellLabel(held[0].index)} is untagged code after a notebook: cell, and no step: cell below owns it`,
      'tag the cell step:<name> (Kale 2.3 gives untagged code after a notebook: cell to the next step: cell)');
  }

  // Kale links a composition's units in reading order: every pair, earlier → later, except two references.
  const extraPrev = new Map<NotebookCell, string[]>();
  units.forEach((earlier, i) => {
    for (const later of units.slice(i + 1)) {
      if (earlier.kind === 'reference' && later.kind === 'reference') continue;
      for (const to of later.sources) {
        const cell = later.firstCell.get(to);
        if (!cell) continue;
        const list = extraPrev.get(cell) ?? [];
        for (const from of earlier.sinks) if (!list.includes(from)) list.push(from);
        extraPrev.set(cell, list);
      }
    }
  });
  const composed = [...hoisted, ...cells].map((c) => {
    const prev = extraPrev.get(c);
    return prev ? { ...c, tags: [...c.tags, ...prev.filter((p) => !c.tags.includes(`prev:${p}`)).map((p) => `prev:${p}`)] } : c;
  });
  return { notebook: { ...root, cells: composed }, diagnostics, units: references };

}

/** What flattening the referenced notebooks shares with composeNotebook: where cells go, how errors are said. */
interface Flattening {
  error: (cell: NotebookCell, code: string, message: string, hint: string) => void;
  rootName: string;
  /** The root's step defaults, by option: a referenced notebook's default for the same option gives way. */
  rootKeys: Set<string>;
  read: NotebookReader | undefined;
  references: Composition['units'];
  cells: NotebookCell[];
  hoisted: NotebookCell[];
  /** The next free cell index (past the root's cells). */
  next: () => number;
}

/** Reads, checks and flattens one referenced notebook into `cells` (and `hoisted`); its unit, or undefined. */
function reference(state: Flattening, cell: NotebookCell, name: string): Unit | undefined {
  const { error, rootName, rootKeys, read, references, cells, hoisted, next } = state;
  const rel = cell.notebookPath;
  if (!rel) {
    error(cell, 'missing-notebook-path', `'notebook:${name}' has no 'notebook_path' in its cell metadata`,
      'set the cell\'s metadata "notebook_path" to the referenced notebook, relative to this one (Kale 2.3\'s editor does)');
    return undefined;
  }
  const path = normalizePath(rel);
  if (baseName(path) === rootName && !path.includes('/')) {
    error(cell, 'notebook-cycle', `'notebook:${name}' creates a reference cycle (${rootName} -> ${baseName(path)}): a notebook cannot reference itself`,
      'remove the notebook: cell');
    return undefined;
  }
  let raw: string | object | undefined;
  let why = '';
  if (!read) why = 'this front end does not read referenced notebooks';
  else {
    try {
      raw = read(path);
      if (raw === undefined) why = 'there is no such file';
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
    }
  }
  if (raw === undefined) {
    error(cell, 'notebook-unreadable', `'notebook:${name}' references '${rel}', which cellpipe could not read: ${why}`,
      'fix notebook_path in the cell\'s metadata (relative to this notebook\'s folder)');
    return undefined;
  }
  const parsed = typeof raw === 'string' ? parseNotebook(raw) : notebookFromJson(raw);
  if (!parsed.notebook) {
    const first = parsed.diagnostics[0];
    error(cell, 'notebook-unreadable', `'notebook:${name}' references '${rel}', which is not a notebook: ${first?.message ?? 'unreadable'}`,
      first?.hint ?? 'point notebook_path at an .ipynb file');
    return undefined;
  }
  const child = parsed.notebook;
  const nested = child.cells.find((c) => c.type === 'code' && c.tags.some((t) => t.trim().startsWith('notebook:')));
  if (nested) {
    const inner = parseCellTags(nested).tags.notebook ?? '?';
    const target = nested.notebookPath ? baseName(normalizePath(nested.notebookPath)) : '?';
    error(cell, 'nested-notebook', `'notebook:${name}' (${rel}) itself references another notebook (${rootName} -> ${baseName(path)} -> ${target}, its ${cellLabel(nested.index)} 'notebook:${inner}'): nested references are not supported (Kale 2.3 refuses them too)`,
      'reference every notebook from the root notebook instead');
    return undefined;
  }
  const { graph, placement } = buildStepGraph(child, path);
  const childDefaults = readSettings(child.metadata, path).settings.stepDefaults.filter((t) => !rootKeys.has(optionKey(t)));
  const rename = (step: string) => `${name}-${step}`;
  const unit: Unit = { kind: 'reference', steps: [], sinks: [], sources: [], firstCell: new Map() };
  references.push({ name, notebook: path, cell: cell.index });
  for (const c of child.cells) {
    if (c.type !== 'code') continue;
    const place = placement.get(c.index);
    const origin = { unit: name, notebook: path, index: c.index };
    const copy = (tags: string[]): NotebookCell => ({ index: next(), ...(c.id ? { id: c.id } : {}), type: 'code', source: c.source, tags, origin });
    switch (place?.kind) {
      case 'prelude':
        cells.push(copy([place.role]));
        break;
      case 'parameters':
        hoisted.push(copy(['pipeline-parameters']));
        break;
      case 'step': {
        const step = rename(place.step);
        // The cell's own step options, with prev: renamed; its step: tag made explicit (untagged cells too).
        const options = c.tags.map((t) => t.trim()).filter((t) => !/^(step|block|notebook):/.test(t) && !['imports', 'functions', 'skip', 'pipeline-parameters', 'pipeline-metrics'].includes(t))
          .map((t) => (t.startsWith('prev:') ? `prev:${rename(t.slice(5).trim())}` : t));
        const first = !unit.steps.includes(step);
        const composed = copy([`step:${step}`, ...(first ? childDefaults : []), ...options]);
        if (first) {
          unit.steps.push(step);
          unit.firstCell.set(step, composed);
        }
        cells.push(composed);
        break;
      }
      default: // skipped, unassigned, metrics: a referenced notebook's metrics are its own run's, not this pipeline's
        break;
    }
  }
  const parents = new Set(graph.edges.map(([, to]) => to));
  const children = new Set(graph.edges.map(([from]) => from));
  unit.sources = graph.steps.filter((s) => !parents.has(s.name)).map((s) => rename(s.name));
  unit.sinks = graph.steps.filter((s) => !children.has(s.name)).map((s) => rename(s.name));
  return unit;
}
