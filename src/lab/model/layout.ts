/**
 * Step graph layout with dagre (top to bottom), as plain numbers the SVG view draws.
 */
import * as dagreModule from '@dagrejs/dagre';
import type { StepGraph } from '../../core/model.js';

// dagre is CommonJS: bundlers and Node expose it either as the namespace or as its default export.
const dagre = ((dagreModule as unknown as { default?: typeof dagreModule }).default ?? dagreModule) as typeof dagreModule;

/** Height of a step node, in px. */
export const NODE_H = 30;

export interface Layout {
  width: number;
  height: number;
  nodes: { name: string; x: number; y: number; w: number }[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
}

/** Lays the graph out with dagre; pure given the graph. */
export function layoutGraph(graph: Pick<StepGraph, 'steps' | 'edges'>): Layout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 28, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const s of graph.steps) g.setNode(s.name, { width: Math.max(60, s.name.length * 7.5 + 24), height: NODE_H });
  for (const [a, b] of graph.edges) if (g.hasNode(a) && g.hasNode(b)) g.setEdge(a, b);
  dagre.layout(g);
  const meta = g.graph();
  return {
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    nodes: g.nodes().map((n) => {
      const v = g.node(n);
      return { name: n, x: v.x, y: v.y, w: v.width };
    }),
    edges: g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] })),
  };
}

