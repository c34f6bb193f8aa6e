/**
 * Step graph layout, as plain numbers the SVG view draws.
 *
 * Steps of the same rank (longest path from the first steps) sit on one row, so parallel steps read as parallel. When
 * that is wider than the sidebar the view shrinks the picture to fit, down to MIN_SCALE (labels stay readable); only a
 * graph wider than that wraps a rank onto several rows. dagre orders the steps in each row and keeps a free column for
 * every edge that passes through a row; the edges are then routed here as right angles: each leaves its step through
 * its own port, jogs sideways on its own lane in the gap between two rows, and crosses rows only in its free column —
 * so no two edges share a segment and no edge runs through a step it does not join. Data labels get their own rows
 * between the step rows (dagre reserves their width), never between sibling steps.
 *
 * A composed notebook's steps from one referenced notebook (Kale 2.3's `notebook:` cells; Step.unit) sit in a box
 * named after it: dagre lays them out as a cluster (a compound graph), so a box holds its own steps and no other.
 */
import * as dagreModule from '@dagrejs/dagre';
import type { StepGraph } from '../../core/model.js';

// dagre is CommonJS: bundlers and Node expose it either as the namespace or as its default export.
const dagre = ((dagreModule as unknown as { default?: typeof dagreModule }).default ?? dagreModule) as typeof dagreModule;

/** Height of a step node, in px. */
export const NODE_H = 30;
/** Height of a data label's row, in px. */
export const LABEL_H = 14;
/**
 * The smallest scale the view may shrink the graph to before the layout wraps ranks instead: the 12 px step labels
 * then show at 8 px, the smallest text JupyterLab itself uses.
 */
export const MIN_SCALE = 2 / 3;
const NODE_SEP = 12;
const EDGE_SEP = 8;
const RANK_SEP = 30;
/**
 * With boxes dagre adds border ranks (three gaps between two step rows, half a gap of padding inside a box): this
 * keeps the rows as far apart as without boxes (30 px), a box 5 px around its steps.
 */
const RANK_SEP_BOXES = 10;
/** Room above the top row for a box's name, which sits on the box's top border. */
const BOX_LABEL_ROOM = 8;
const MARGIN = 8;
/** Approximate width of one character of the 12 px monospace step labels; of the 10 px data labels. */
const CHAR_W = 7.25;
const LABEL_CHAR_W = 6.1;
/** Distance between a data label and the edge it names. */
const LABEL_GAP = 5;
/** Distance between two ports on one side of a step. */
const PORT_SEP = 8;

export interface LayoutEdge {
  from: string;
  to: string;
  /** A polyline of horizontal and vertical segments, from the bottom of `from` to the top of `to`. */
  points: { x: number; y: number }[];
  /** The data the edge carries: the text starts at (x, y) (its baseline) and runs right (only when labels were asked for). */
  label?: { text: string; x: number; y: number; w: number };
}

/** A referenced notebook's box: its top-left corner, size, and the notebook (relative to the root's folder). */
export interface LayoutBox {
  unit: string;
  notebook: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Layout {
  width: number;
  height: number;
  nodes: { name: string; x: number; y: number; w: number }[];
  edges: LayoutEdge[];
  /** One per referenced notebook whose steps are in the graph (none for a notebook that composes nothing). */
  boxes: LayoutBox[];
  /** True when ranks were wrapped onto several rows to fit `maxWidth`. */
  wrapped: boolean;
}

export interface LayoutOptions {
  /** The width available, in px: a graph wider than this divided by MIN_SCALE wraps its ranks. */
  maxWidth?: number;
  /** Label each edge with the names of the data it carries. */
  labels?: boolean;
}

type Graph = Pick<StepGraph, 'steps' | 'edges'>;
type Point = { x: number; y: number };

/** The names `to` reads that `from` produces (from the compiler's inputSources); empty for an order-only edge. */
export function edgeData(graph: Graph, from: string, to: string): string[] {
  const target = graph.steps.find((s) => s.name === to);
  return Object.entries(target?.inputSources ?? {}).filter(([, src]) => src === from).map(([name]) => name).sort();
}

/** The edges whose two ends are steps of the graph. */
function knownEdges(graph: Graph): [string, string][] {
  const names = new Set(graph.steps.map((s) => s.name));
  return graph.edges.filter(([a, b]) => names.has(a) && names.has(b) && a !== b);
}

/** The referenced notebooks of the graph's steps, by unit name, in the order their steps come. */
export function graphUnits(graph: Graph): Map<string, { notebook: string; steps: string[] }> {
  const units = new Map<string, { notebook: string; steps: string[] }>();
  for (const s of graph.steps) {
    if (!s.unit) continue;
    const u = units.get(s.unit.name) ?? { notebook: s.unit.notebook, steps: [] };
    u.steps.push(s.name);
    units.set(s.unit.name, u);
  }
  return units;
}

/** Each step's rank: 0 for a step nothing leads to, else one more than the highest rank among the steps before it. */
export function stepRanks(graph: Graph): Map<string, number> {
  const before = new Map<string, string[]>(graph.steps.map((s) => [s.name, []]));
  for (const [a, b] of knownEdges(graph)) before.get(b)!.push(a);
  const rank = new Map<string, number>();
  const visit = (name: string, seen: Set<string>): number => {
    if (rank.has(name)) return rank.get(name)!;
    if (seen.has(name)) return 0; // a cycle (the compiler reports it); lay it out anyway
    seen.add(name);
    const r = Math.max(-1, ...before.get(name)!.map((p) => visit(p, seen))) + 1;
    rank.set(name, r);
    return r;
  };
  for (const s of graph.steps) visit(s.name, new Set());
  return rank;
}

function nodeWidth(name: string): number {
  return Math.max(40, name.length * CHAR_W + 16);
}

/** Lays the graph out; pure given the graph and options. */
export function layoutGraph(graph: Graph, options: LayoutOptions = {}): Layout {
  const ranks = stepRanks(graph);
  const flat = place(graph, options, ranks);
  if (!options.maxWidth || flat.width * MIN_SCALE <= options.maxWidth) return flat;
  // Too wide to read when shrunk: wrap the widest ranks into rows of fewer steps (in the order dagre chose), fewer
  // until it fits or every row holds one step.
  const order = new Map(flat.nodes.map((n) => [n.name, n.x]));
  const widest = Math.max(...[...ranks.values()].map((r) => [...ranks.values()].filter((x) => x === r).length));
  let last = flat;
  for (let perRow = widest - 1; perRow >= 1; perRow--) {
    last = placeWrapped(graph, wrapRows(ranks, order, perRow), order, options.maxWidth);
    if (last.width * MIN_SCALE <= options.maxWidth) break;
  }
  return last;
}

/** The row of each step when every rank holds at most `perRow` steps, left to right by `order`. */
function wrapRows(ranks: Map<string, number>, order: Map<string, number>, perRow: number): Map<string, number> {
  const rows = new Map<string, number>();
  let next = 0;
  for (const r of [...new Set(ranks.values())].sort((a, b) => a - b)) {
    const members = [...ranks].filter(([, x]) => x === r).map(([name]) => name).sort((a, b) => order.get(a)! - order.get(b)!);
    members.forEach((name, i) => rows.set(name, next + Math.floor(i / perRow)));
    next += Math.ceil(members.length / perRow);
  }
  return rows;
}

/** dagre with every step on the given row (through each edge's minimum length), then the edges routed. */
function place(graph: Graph, options: LayoutOptions, rows: Map<string, number>): Layout {
  const units = graphUnits(graph);
  const boxed = units.size > 0;
  const g = new dagre.graphlib.Graph({ compound: boxed });
  g.setGraph({
    rankdir: 'TB', nodesep: NODE_SEP, edgesep: EDGE_SEP, ranksep: boxed ? RANK_SEP_BOXES : RANK_SEP,
    marginx: MARGIN, marginy: MARGIN + (boxed ? BOX_LABEL_ROOM : 0),
  });
  g.setDefaultEdgeLabel(() => ({}));
  const label = (a: string, b: string) => (options.labels ? edgeData(graph, a, b).join(', ') : '');
  for (const s of graph.steps) g.setNode(s.name, { width: nodeWidth(s.name), height: NODE_H });
  // Cluster ids cannot clash with step names: a step name holds no space.
  const cluster = (unit: string) => `box ${unit}`;
  for (const [unit, u] of units) {
    g.setNode(cluster(unit), {});
    for (const step of u.steps) g.setParent(step, cluster(unit));
  }
  for (const [a, b] of knownEdges(graph)) {
    const text = label(a, b);
    const minlen = Math.max(1, rows.get(b)! - rows.get(a)!);
    g.setEdge(a, b, text ? { minlen, width: text.length * LABEL_CHAR_W + LABEL_GAP, height: LABEL_H, labelpos: 'r', labeloffset: LABEL_GAP } : { minlen });
  }
  dagre.layout(g);
  const meta = g.graph();
  const steps = new Set(graph.steps.map((s) => s.name));
  const nodes = g.nodes().filter((n) => steps.has(n)).map((n) => {
    const v = g.node(n);
    return { name: n, x: v.x, y: v.y, w: v.width };
  });
  const boxes = [...units].map(([unit, u]): LayoutBox => {
    const v = g.node(cluster(unit));
    return { unit, notebook: u.notebook, x: v.x - v.width / 2, y: v.y - v.height / 2, w: v.width, h: v.height };
  });
  const raw = g.edges().map((e) => {
    const v = g.edge(e) as { points?: Point[]; y?: number };
    const text = label(e.v, e.w);
    return { from: e.v, to: e.w, points: v.points ?? [], text, labelY: text ? v.y : undefined };
  });
  return { width: meta.width ?? 0, height: meta.height ?? 0, nodes, edges: route(nodes, raw), wrapped: false, boxes };
}

/**
 * Rows of steps centred in the width, for a graph wrapped onto more rows than it has ranks. An edge that skips rows
 * runs down a channel of its own at the side (the one nearer its ends), outside every row; data labels are left to
 * the edges' tooltips, as rows this dense have no free place for them.
 */
function placeWrapped(graph: Graph, rows: Map<string, number>, order: Map<string, number>, maxWidth: number): Layout {
  const rowCount = Math.max(0, ...rows.values()) + 1;
  const members: string[][] = Array.from({ length: rowCount }, () => []);
  for (const s of graph.steps) members[rows.get(s.name)!].push(s.name);
  for (const m of members) m.sort((a, b) => order.get(a)! - order.get(b)!);
  const w = new Map(graph.steps.map((s) => [s.name, nodeWidth(s.name)]));
  const rowWidth = (m: string[]) => m.reduce((sum, n) => sum + w.get(n)!, 0) + NODE_SEP * Math.max(0, m.length - 1);
  // Positions relative to the rows' centre, to pick each long edge's side.
  const rel = new Map<string, number>();
  for (const m of members) {
    let x = -rowWidth(m) / 2;
    for (const n of m) {
      rel.set(n, x + w.get(n)! / 2);
      x += w.get(n)! + NODE_SEP;
    }
  }
  const edges = knownEdges(graph);
  const long = edges.filter(([a, b]) => rows.get(b)! - rows.get(a)! > 1);
  const side = new Map(long.map(([a, b]) => [`${a}\0${b}`, rel.get(a)! + rel.get(b)! < 0 ? 'left' : 'right']));
  const lefts = long.filter(([a, b]) => side.get(`${a}\0${b}`) === 'left');
  const rights = long.filter(([a, b]) => side.get(`${a}\0${b}`) === 'right');
  const leftPad = MARGIN + lefts.length * EDGE_SEP + (lefts.length ? NODE_SEP : 0);
  const rightPad = MARGIN + rights.length * EDGE_SEP + (rights.length ? NODE_SEP : 0);
  const inner = Math.max(...members.map(rowWidth));
  const width = Math.max(maxWidth, leftPad + inner + rightPad);
  const centre = leftPad + (width - leftPad - rightPad) / 2;
  // Each gap is tall enough for a lane per edge that crosses it.
  const ys: number[] = [];
  let y = MARGIN + NODE_H / 2;
  for (let r = 0; r < rowCount; r++) {
    ys.push(y);
    const crossing = edges.filter(([a, b]) => rows.get(a)! <= r && rows.get(b)! > r).length;
    y += NODE_H + Math.max(RANK_SEP, (crossing + 1) * 5);
  }
  const nodes = graph.steps.map((s) => ({ name: s.name, x: centre + rel.get(s.name)!, y: ys[rows.get(s.name)!], w: w.get(s.name)! }));
  const channel = (a: string, b: string) => {
    const k = `${a}\0${b}`;
    return side.get(k) === 'left'
      ? MARGIN + EDGE_SEP / 2 + lefts.findIndex(([x, z]) => `${x}\0${z}` === k) * EDGE_SEP
      : width - MARGIN - EDGE_SEP / 2 - rights.findIndex(([x, z]) => `${x}\0${z}` === k) * EDGE_SEP;
  };
  const raw: RawEdge[] = edges.map(([a, b]) => {
    const through: Point[] = [];
    for (let r = rows.get(a)! + 1; r < rows.get(b)!; r++) through.push({ x: channel(a, b), y: ys[r] });
    return { from: a, to: b, points: [], through, text: '' };
  });
  return { width, height: ys[rowCount - 1] + NODE_H / 2 + MARGIN, nodes, edges: route(nodes, raw), wrapped: true, boxes: boundingBoxes(graph, nodes) };
}

/**
 * Boxes for a wrapped graph (rows placed here, not by dagre): each around its steps. Rows this dense are not kept
 * apart per notebook, so a box may hold a step of another notebook too; its steps' colours and names still tell.
 */
function boundingBoxes(graph: Graph, nodes: Layout['nodes']): LayoutBox[] {
  const pad = 5;
  return [...graphUnits(graph)].map(([unit, u]) => {
    const mine = nodes.filter((n) => u.steps.includes(n.name));
    const x = Math.min(...mine.map((n) => n.x - n.w / 2)) - pad;
    const y = Math.min(...mine.map((n) => n.y - NODE_H / 2)) - pad;
    const right = Math.max(...mine.map((n) => n.x + n.w / 2)) + pad;
    const bottom = Math.max(...mine.map((n) => n.y + NODE_H / 2)) + pad;
    return { unit, notebook: u.notebook, x, y, w: right - x, h: bottom - y };
  });
}

interface RawEdge {
  from: string;
  to: string;
  /** dagre's route, with a point in every rank between the ends; or `through`, a point in every row between them. */
  points: Point[];
  through?: Point[];
  text: string;
  labelY?: number;
}

/**
 * Right-angled routes. The rows are the y levels of steps and of labels; dagre left each edge one point in every row
 * between its ends, in a column free of other things. An edge is a list of columns (its out-port, those points, its
 * in-port), and between two rows it jogs from one column to the next on a lane of its own.
 */
function route(nodes: Layout['nodes'], raw: RawEdge[]): LayoutEdge[] {
  const at = new Map(nodes.map((n) => [n.name, n]));
  // Rows: y → half height.
  const half = new Map<number, number>();
  const key = (y: number) => Math.round(y * 2) / 2;
  for (const n of nodes) half.set(key(n.y), NODE_H / 2);
  for (const e of raw) if (e.labelY !== undefined && !half.has(key(e.labelY))) half.set(key(e.labelY), LABEL_H / 2);
  const rowYs = [...half.keys()].sort((a, b) => a - b);
  const rowOf = (y: number) => rowYs.indexOf(key(y));

  // Each edge's columns through the rows strictly between its ends.
  const through = raw.map((e) => {
    if (e.through) return e.through;
    const a = at.get(e.from)!;
    const b = at.get(e.to)!;
    const inner = e.points.slice(1, -1).filter((p) => half.has(key(p.y)) && key(p.y) > key(a.y) && key(p.y) < key(b.y));
    // dagre gives one point per rank; keep one per row, in order.
    const byRow = new Map<number, Point>();
    for (const p of inner) if (!byRow.has(rowOf(p.y))) byRow.set(rowOf(p.y), p);
    return [...byRow.entries()].sort((x, y) => x[0] - y[0]).map(([, p]) => p);
  });

  // Ports: a step's out-edges leave through separate points on its bottom, ordered by where they head next; its
  // in-edges arrive through separate points on its top, ordered by where they come from.
  const outX = new Map<number, number>();
  const inX = new Map<number, number>();
  const spread = (name: string, list: { i: number; toward: number }[], into: Map<number, number>) => {
    const n = at.get(name)!;
    list.sort((p, q) => p.toward - q.toward);
    const step = list.length > 1 ? Math.min(PORT_SEP * 2, (n.w - 16) / (list.length - 1)) : 0;
    list.forEach((p, j) => into.set(p.i, n.x + (j - (list.length - 1) / 2) * step));
  };
  for (const n of nodes) {
    spread(n.name, raw.map((e, i) => ({ e, i })).filter(({ e }) => e.from === n.name)
      .map(({ e, i }) => ({ i, toward: (through[i][0] ?? at.get(e.to)!).x })), outX);
    spread(n.name, raw.map((e, i) => ({ e, i })).filter(({ e }) => e.to === n.name)
      .map(({ e, i }) => ({ i, toward: (through[i][through[i].length - 1] ?? at.get(e.from)!).x })), inX);
  }

  // Jogs: in each gap (below row r), the edges that move sideways there, each on its own lane.
  const columns = raw.map((e, i) => [outX.get(i)!, ...through[i].map((p) => p.x), inX.get(i)!]);
  const firstRow = raw.map((e) => rowOf(at.get(e.from)!.y));
  const jogs = new Map<number, { i: number; from: number; to: number }[]>();
  columns.forEach((cols, i) => {
    for (let k = 0; k + 1 < cols.length; k++) {
      if (Math.abs(cols[k] - cols[k + 1]) < 0.5) continue;
      const gap = firstRow[i] + k;
      if (!jogs.has(gap)) jogs.set(gap, []);
      jogs.get(gap)!.push({ i, from: cols[k], to: cols[k + 1] });
    }
  });
  const lane = new Map<string, number>();
  for (const [gap, list] of jogs) {
    // Jogs to the left from the leftmost column first, then jogs to the right from the rightmost: nested, not crossed.
    const left = list.filter((j) => j.to < j.from).sort((p, q) => p.from - q.from);
    const right = list.filter((j) => j.to > j.from).sort((p, q) => q.from - p.from);
    const top = rowYs[gap] + half.get(rowYs[gap])!;
    const bottom = rowYs[gap + 1] - half.get(rowYs[gap + 1])!;
    const ordered = [...left, ...right];
    ordered.forEach((j, n) => lane.set(`${j.i}:${gap}`, top + ((n + 1) * (bottom - top)) / (ordered.length + 1)));
  }

  return raw.map((e, i): LayoutEdge => {
    const a = at.get(e.from)!;
    const b = at.get(e.to)!;
    const cols = columns[i];
    const points: Point[] = [{ x: cols[0], y: a.y + NODE_H / 2 }];
    for (let k = 0; k + 1 < cols.length; k++) {
      const y = lane.get(`${i}:${firstRow[i] + k}`);
      if (y === undefined) continue;
      points.push({ x: cols[k], y }, { x: cols[k + 1], y });
    }
    points.push({ x: cols[cols.length - 1], y: b.y - NODE_H / 2 });
    const labelAt = e.labelY === undefined ? undefined : through[i].find((p) => key(p.y) === key(e.labelY!));
    const w = e.text.length * LABEL_CHAR_W;
    return {
      from: e.from, to: e.to, points: simplify(points),
      ...(e.text && labelAt ? { label: { text: e.text, x: labelAt.x + LABEL_GAP, y: labelAt.y + 3.5, w } } : {}),
    };
  });
}

/** Drops points in the middle of a straight run. */
function simplify(points: Point[]): Point[] {
  return points.filter((p, k) => {
    if (k === 0 || k === points.length - 1) return true;
    const [a, b] = [points[k - 1], points[k + 1]];
    return !((Math.abs(a.x - p.x) < 0.01 && Math.abs(b.x - p.x) < 0.01) || (Math.abs(a.y - p.y) < 0.01 && Math.abs(b.y - p.y) < 0.01));
  });
}
