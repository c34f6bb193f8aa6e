/**
 * Step graph layout, as plain numbers the SVG view draws. dagre lays the graph out top to bottom; when that is wider
 * than the sidebar, each rank's steps are wrapped onto as many rows as the width needs (in dagre's order), so the
 * graph grows downwards — where the sidebar has room — and its labels keep their size.
 */
import * as dagreModule from '@dagrejs/dagre';
import type { StepGraph } from '../../core/model.js';

// dagre is CommonJS: bundlers and Node expose it either as the namespace or as its default export.
const dagre = ((dagreModule as unknown as { default?: typeof dagreModule }).default ?? dagreModule) as typeof dagreModule;

/** Height of a step node, in px. */
export const NODE_H = 30;
const NODE_SEP = 18;
const RANK_SEP = 28;
const MARGIN = 8;
/** Side margins of a wrapped layout: the channels edges that skip rows run down. */
const SIDE = 16;
/** Approximate width of one character of the 12 px monospace labels; of the 10 px edge labels. */
const CHAR_W = 7.5;
const LABEL_CHAR_W = 6.2;
const LABEL_H = 14;

export interface LayoutEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
  /** The data the edge carries and the baseline of its text (only when labels were asked for). */
  label?: { text: string; x: number; y: number };
}

export interface Layout {
  width: number;
  height: number;
  nodes: { name: string; x: number; y: number; w: number }[];
  edges: LayoutEdge[];
  /** True when ranks were wrapped onto several rows to fit `maxWidth`. */
  wrapped: boolean;
}

export interface LayoutOptions {
  /** The width available, in px: a wider graph wraps its ranks. */
  maxWidth?: number;
  /** Label each edge with the names of the data it carries. */
  labels?: boolean;
}

type Graph = Pick<StepGraph, 'steps' | 'edges'>;

/** The names `to` reads that `from` produces (from the compiler's inputSources); empty for an order-only edge. */
export function edgeData(graph: Graph, from: string, to: string): string[] {
  const target = graph.steps.find((s) => s.name === to);
  return Object.entries(target?.inputSources ?? {}).filter(([, src]) => src === from).map(([name]) => name).sort();
}

function nodeWidth(name: string): number {
  return Math.max(60, name.length * CHAR_W + 24);
}

/** Lays the graph out; pure given the graph and options. */
export function layoutGraph(graph: Graph, options: LayoutOptions = {}): Layout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: NODE_SEP, ranksep: RANK_SEP, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  const label = (a: string, b: string) => (options.labels ? edgeData(graph, a, b).join(', ') : '');
  for (const s of graph.steps) g.setNode(s.name, { width: nodeWidth(s.name), height: NODE_H });
  for (const [a, b] of graph.edges) {
    if (!g.hasNode(a) || !g.hasNode(b)) continue;
    const text = label(a, b);
    g.setEdge(a, b, text ? { width: text.length * LABEL_CHAR_W + 6, height: LABEL_H, labelpos: 'c' } : {});
  }
  dagre.layout(g);
  const meta = g.graph();
  const laid: Layout = {
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    nodes: g.nodes().map((n) => {
      const v = g.node(n);
      return { name: n, x: v.x, y: v.y, w: v.width };
    }),
    edges: g.edges().map((e) => {
      const v = g.edge(e) as { points?: { x: number; y: number }[]; x?: number; y?: number };
      const text = label(e.v, e.w);
      return { from: e.v, to: e.w, points: v.points ?? [], ...(text && v.x !== undefined && v.y !== undefined ? { label: { text, x: v.x, y: v.y + 3 } } : {}) };
    }),
    wrapped: false,
  };
  if (!options.maxWidth || laid.width <= options.maxWidth) return laid;
  return wrapRanks(laid, options.maxWidth, label);
}

/** Rows of at most `maxWidth` (a step wider than that gets a row of its own), rank after rank. */
function wrapRanks(laid: Layout, maxWidth: number, label: (a: string, b: string) => string): Layout {
  const ranks = new Map<number, Layout['nodes']>();
  for (const n of laid.nodes) {
    const key = Math.round(n.y);
    if (!ranks.has(key)) ranks.set(key, []);
    ranks.get(key)!.push(n);
  }
  const rows: Layout['nodes'][] = [];
  for (const key of [...ranks.keys()].sort((a, b) => a - b)) {
    let row: Layout['nodes'] = [];
    let used = 2 * SIDE;
    for (const n of ranks.get(key)!.sort((a, b) => a.x - b.x)) {
      const need = n.w + (row.length ? NODE_SEP : 0);
      if (row.length && used + need > maxWidth) {
        rows.push(row);
        row = [];
        used = 2 * SIDE;
      }
      row.push(n);
      used += n.w + (row.length > 1 ? NODE_SEP : 0);
    }
    if (row.length) rows.push(row);
  }
  const rowWidth = (row: Layout['nodes']) => row.reduce((sum, n) => sum + n.w, 0) + NODE_SEP * (row.length - 1);
  const width = Math.max(maxWidth, ...rows.map((r) => rowWidth(r) + 2 * SIDE));
  const gap = RANK_SEP + (laid.edges.some((e) => e.label) ? LABEL_H : 0);
  const nodes: Layout['nodes'] = [];
  const rowOf = new Map<string, number>();
  rows.forEach((row, i) => {
    let x = (width - rowWidth(row)) / 2;
    const y = MARGIN + NODE_H / 2 + i * (NODE_H + gap);
    for (const n of row) {
      nodes.push({ name: n.name, x: x + n.w / 2, y, w: n.w });
      rowOf.set(n.name, i);
      x += n.w + NODE_SEP;
    }
  });
  const at = new Map(nodes.map((n) => [n.name, n]));
  const degree = (name: string, end: 'from' | 'to') => laid.edges.filter((e) => e[end] === name).length;
  const edges = laid.edges.map((e): LayoutEdge => {
    const a = at.get(e.from)!;
    const b = at.get(e.to)!;
    const start = { x: a.x, y: a.y + NODE_H / 2 };
    const end = { x: b.x, y: b.y - NODE_H / 2 };
    const below = start.y + 8;
    const above = end.y - gap + 8;
    // To the next row: straight across the gap between them. Further down: out to the side, along the margin and
    // back in over the target's row — through free space only, never across the steps of the rows in between.
    const points = rowOf.get(e.to)! === rowOf.get(e.from)! + 1
      ? [start, { x: start.x, y: below }, { x: end.x, y: above }, end]
      : (() => {
          const side = end.x < width / 2 ? SIDE / 2 : width - SIDE / 2;
          return [start, { x: start.x, y: below }, { x: side, y: below }, { x: side, y: above }, { x: end.x, y: above }, end];
        })();
    const text = label(e.from, e.to);
    // The label goes where the edge is alone: over the target unless many edges meet there (a join), else under the source.
    const atTarget = degree(e.to, 'to') <= degree(e.from, 'from');
    const place = atTarget ? { x: end.x, y: end.y - 3 } : { x: start.x, y: start.y + LABEL_H };
    return { from: e.from, to: e.to, points, ...(text ? { label: { text, ...place } } : {}) };
  });
  return { width, height: MARGIN * 2 + rows.length * NODE_H + (rows.length - 1) * gap, nodes, edges, wrapped: true };
}
