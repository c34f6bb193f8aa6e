/**
 * What the notebook view shows per cell, computed from tags and compiler output alone (no DOM):
 * which step a cell belongs to, its chip, its colour, its diagnostics, and where a step's logs go.
 */
import { parseCellTags } from '../../core/tags.js';
import { cellLabel } from '../../core/notebook.js';
import type { CellRole, Diagnostic, StepFile, StepGraph } from '../../core/model.js';

/** The minimum the view knows about a cell. */
export interface CellInfo {
  id?: string;
  type: 'code' | 'markdown' | 'raw';
  tags: readonly string[];
}

/** One cell's place in the pipeline. */
export interface CellPlace {
  /** The cell's own role from its tags; undefined for an untagged cell. */
  role?: CellRole;
  /** Step the cell's code runs in (own `step:` tag, or inherited from the step above). */
  step?: string;
  /** True when the step comes from a cell above (the cell is untagged). */
  inherited: boolean;
  /** `prev:` names on this cell. */
  prev: string[];
}

/**
 * Assigns every cell its role and step with Kale's rule: an untagged code cell belongs to the step (or role block)
 * above it; `skip` excludes only its own cell; markdown and raw cells belong to nothing.
 */
export function placeCells(cells: readonly CellInfo[]): CellPlace[] {
  let current: { role: CellRole; step?: string } | undefined;
  return cells.map((cell) => {
    if (cell.type !== 'code') return { inherited: false, prev: [] };
    const { tags } = parseCellTags({ index: 0, type: 'code', source: '', tags: [...cell.tags] });
    if (tags.role === 'skip') return { role: 'skip', inherited: false, prev: tags.prev };
    if (tags.role) {
      current = { role: tags.role, step: tags.step };
      return { role: tags.role, step: tags.step, inherited: false, prev: tags.prev };
    }
    if (current?.role === 'step') return { step: current.step, inherited: true, prev: tags.prev };
    return { inherited: false, prev: tags.prev };
  });
}

/** What the chip on a cell says. `undefined` when the cell has nothing to show (untagged, before any step). */
export function chipLabel(place: CellPlace): string | undefined {
  if (place.role === 'step' && place.step) return place.step;
  if (place.role) return place.role;
  if (place.inherited && place.step) return `↳ ${place.step}`;
  return undefined;
}

/**
 * A stable colour per step name: the same name always gets the same hue, on the chip, the cell's border and the
 * DAG node, in every session. Hash (FNV-1a) → hue; fixed saturation and lightness readable on light and dark themes.
 */
export function stepColor(name: string): string {
  return `hsl(${stepHue(name)}, 65%, 48%)`;
}

/** The hue (0–359) a step name hashes to. */
export function stepHue(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h = (h ^ name.charCodeAt(i)) >>> 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche (murmur3 fmix32) so names differing in one character land far apart on the colour wheel.
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h % 360;
}

/** How far apart two hues must be for steps side by side to be told apart at a glance. */
export const MIN_NEIGHBOUR_HUE_GAP = 60;

function hueGap(a: number, b: number): number {
  const d = Math.abs(a - b) % 360;
  return Math.min(d, 360 - d);
}

/**
 * Colours for the steps of one notebook such that steps next to each other — consecutive in the notebook, or joined
 * in the graph — differ in hue by at least MIN_NEIGHBOUR_HUE_GAP where that is possible. Each step keeps its name's
 * hue (stepColor) unless a neighbour coloured before it is too close; then it takes the nearest hue that is far
 * enough from all its coloured neighbours. Steps are coloured in notebook order, so the result is stable for a
 * notebook.
 */
export function stepPalette(order: readonly string[], edges: readonly (readonly [string, string])[]): Map<string, string> {
  const neighbours = new Map<string, Set<string>>();
  const link = (a: string, b: string) => {
    if (a === b) return;
    if (!neighbours.has(a)) neighbours.set(a, new Set());
    if (!neighbours.has(b)) neighbours.set(b, new Set());
    neighbours.get(a)!.add(b);
    neighbours.get(b)!.add(a);
  };
  order.forEach((s, i) => i > 0 && link(order[i - 1], s));
  for (const [a, b] of edges) link(a, b);
  const hues = new Map<string, number>();
  for (const step of order) {
    if (hues.has(step)) continue;
    const taken = [...(neighbours.get(step) ?? [])].filter((n) => hues.has(n)).map((n) => hues.get(n)!);
    const own = stepHue(step);
    const gap = (h: number) => Math.min(360, ...taken.map((t) => hueGap(h, t)));
    let best = own;
    if (gap(own) < MIN_NEIGHBOUR_HUE_GAP) {
      // Candidates every 5°, nearest to the step's own hue first; the first far enough wins, else the farthest.
      let bestGap = gap(own);
      for (let k = 1; k < 72; k++) {
        const h = (own + (k % 2 ? 1 : -1) * Math.ceil(k / 2) * 5 + 360) % 360;
        const g = gap(h);
        if (g >= MIN_NEIGHBOUR_HUE_GAP) {
          best = h;
          break;
        }
        if (g > bestGap) [best, bestGap] = [h, g];
      }
    }
    hues.set(step, best);
  }
  return new Map([...hues].map(([s, h]) => [s, `hsl(${h}, 65%, 48%)`]));
}

/**
 * Groups diagnostics by the cell they concern. A diagnostic's `cellId` wins over its index (ids survive
 * inserts above); an index is used when there is no id or the id is not found. Diagnostics about no cell
 * are returned under `-1` (the sidebar lists them). In each cell the most severe come first.
 */
export function diagnosticsByCell(diagnostics: readonly Diagnostic[], cells: readonly CellInfo[]): Map<number, Diagnostic[]> {
  const byId = new Map<string, number>();
  cells.forEach((c, i) => c.id && byId.set(c.id, i));
  const out = new Map<number, Diagnostic[]>();
  for (const d of diagnostics) {
    let at = -1;
    if (d.cellId !== undefined && byId.has(d.cellId)) at = byId.get(d.cellId)!;
    else if (d.cell !== undefined && d.cell >= 0 && d.cell < cells.length) at = d.cell;
    const list = out.get(at) ?? [];
    list.push(d);
    out.set(at, list);
  }
  // Errors, then warnings, then infos (each in the compiler's order): the chip shows the first, and a warning must
  // never hide behind an info's "(+1)".
  for (const list of out.values()) list.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  return out;
}

const SEVERITY_RANK: Record<Diagnostic['severity'], number> = { error: 0, warning: 1, info: 2 };

/** The worst severity in a list, for the cell's icon. */
export function worstSeverity(diagnostics: readonly Diagnostic[]): Diagnostic['severity'] | undefined {
  if (diagnostics.some((d) => d.severity === 'error')) return 'error';
  if (diagnostics.some((d) => d.severity === 'warning')) return 'warning';
  return diagnostics.length ? 'info' : undefined;
}

/** One line of text for a cell's hover: `error: message (hint)` per diagnostic, with the line when known. */
export function diagnosticTooltip(diagnostics: readonly Diagnostic[]): string {
  return diagnostics
    .map((d) => `${d.severity}${d.line ? ` (line ${d.line})` : ''}: ${d.message}${d.hint ? ` — ${d.hint}` : ''}`)
    .join('\n');
}

/**
 * Where each step's inline log goes: the step's last cell (by graph when the compiler produced one, else by
 * the cells' tags). Returns step name → cell index.
 */
export function logAnchors(cells: readonly CellInfo[], graph?: StepGraph): Map<string, number> {
  const out = new Map<string, number>();
  if (graph) {
    for (const s of graph.steps) if (s.cells.length) out.set(s.name, s.cells[s.cells.length - 1]);
    return out;
  }
  placeCells(cells).forEach((p, i) => {
    if (p.step && p.role !== 'skip') out.set(p.step, i);
  });
  return out;
}

/** The first cell of each step (where "scroll to step" goes). */
export function firstCells(cells: readonly CellInfo[], graph?: StepGraph): Map<string, number> {
  const out = new Map<string, number>();
  if (graph) {
    for (const s of graph.steps) if (s.cells.length) out.set(s.name, s.cells[0]);
    return out;
  }
  placeCells(cells).forEach((p, i) => {
    if (p.step && !out.has(p.step)) out.set(p.step, i);
  });
  return out;
}

/** Step names in notebook order, from tags (for the editor's depends-on choices). */
export function stepNames(cells: readonly CellInfo[]): string[] {
  const out: string[] = [];
  for (const p of placeCells(cells)) if (p.role === 'step' && p.step && !out.includes(p.step)) out.push(p.step);
  return out;
}

const NOT_TRAVELLING: Record<Exclude<StepFile['status'], 'travels'>, string> = {
  excluded: 'stays here: excluded in metadata.cellpipe.files',
  volume: 'on a mounted volume',
  absolute: 'stays here: absolute path (use a volume or object storage)',
  outside: "stays here: outside the notebook's folder (use a volume or object storage)",
};

/** What one file a step reads says: its path, and whether it travels into the step images (and why not). */
export function fileLine(f: StepFile): string {
  const where = `${f.reader}, ${cellLabel(f.cell, f.line)}`;
  const what = f.status === 'travels'
    ? `travels into the step images${f.pattern ? ' (every file that matches)' : ''}`
    : NOT_TRAVELLING[f.status];
  return `${f.path} — ${what} (${where})`;
}

/**
 * The files a step reads, for its first cell's chip row: a short text (`reads data/a.csv, +2`, `▲` when one does not
 * travel) and one line per file for the tooltip. Undefined when the step reads no file. Whether a file exists is
 * checked when the images are built.
 */
export function filesLabel(files: readonly StepFile[] | undefined): { text: string; title: string } | undefined {
  if (!files?.length) return undefined;
  const staying = files.some((f) => f.status !== 'travels' && f.status !== 'volume');
  const text = `${staying ? '▲ ' : ''}reads ${files[0].path}${files.length > 1 ? `, +${files.length - 1}` : ''}`;
  return { text, title: ['Files this step reads (packaged into its image when they exist):', ...files.map(fileLine)].join('\n') };
}
