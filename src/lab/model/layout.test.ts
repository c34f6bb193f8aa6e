import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutGraph, NODE_H } from './layout.js';

const step = (name: string) => ({ name }) as never;

test('the candies graph is laid out top to bottom: each edge goes downwards, no nodes overlap', () => {
  const graph = { steps: ['sack', 'kid1', 'kid2', 'kid3'].map(step), edges: [['sack', 'kid1'], ['kid1', 'kid2'], ['kid2', 'kid3'], ['kid1', 'kid3']] as [string, string][] };
  const l = layoutGraph(graph);
  const at = new Map(l.nodes.map((n) => [n.name, n]));
  assert.equal(l.nodes.length, 4);
  assert.equal(l.edges.length, 4);
  for (const [a, b] of graph.edges) assert.ok(at.get(a)!.y + NODE_H <= at.get(b)!.y, `${a} above ${b}`);
  for (const e of l.edges) assert.ok(e.points.length >= 2, 'edges have a route');
  assert.ok(l.width > 0 && l.height >= 4 * NODE_H);
});

test('edges naming unknown steps are ignored rather than drawn to nowhere', () => {
  const l = layoutGraph({ steps: [step('a')], edges: [['a', 'ghost']] });
  assert.deepEqual(l.edges, []);
  assert.equal(l.nodes.length, 1);
});
