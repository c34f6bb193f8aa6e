import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeData, layoutGraph, NODE_H } from './layout.js';
import type { StepGraph } from '../../core/model.js';

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

/** A 12-step pipeline: a chain that fans out into 8 parallel steps and joins again. */
function wide() {
  const fan = ['train_lr', 'train_rf', 'train_gb', 'train_svm', 'train_knn', 'train_nb', 'train_mlp', 'train_dt'];
  const steps = [
    { name: 'load', inputSources: {} },
    { name: 'features', inputSources: { raw: 'load' } },
    ...fan.map((name) => ({ name, inputSources: { X: 'features', y: 'features' } })),
    { name: 'compare', inputSources: Object.fromEntries(fan.map((f) => [`model_${f.slice(6)}`, f])) },
    { name: 'report', inputSources: { best: 'compare' } },
  ] as never as StepGraph['steps'];
  const edges: [string, string][] = [['load', 'features'], ...fan.map((f) => ['features', f] as [string, string]), ...fan.map((f) => [f, 'compare'] as [string, string]), ['compare', 'report']];
  return { steps, edges };
}

test('a graph wider than the sidebar wraps its ranks onto rows that fit, labels at full size, every edge still downwards', () => {
  const graph = wide();
  const free = layoutGraph(graph);
  assert.ok(free.width > 600, `dagre alone lays it out ${free.width}px wide`);
  const l = layoutGraph(graph, { maxWidth: 260 });
  assert.equal(l.wrapped, true);
  assert.equal(l.width, 260);
  assert.equal(l.nodes.length, 12);
  for (const n of l.nodes) assert.ok(n.x - n.w / 2 >= 0 && n.x + n.w / 2 <= l.width, `${n.name} inside the width`);
  // Node sizes are those of the unwrapped layout: nothing is shrunk.
  for (const n of l.nodes) assert.equal(n.w, free.nodes.find((f) => f.name === n.name)!.w);
  for (const a of l.nodes) for (const b of l.nodes) {
    if (a === b) continue;
    const apart = Math.abs(a.x - b.x) >= (a.w + b.w) / 2 || Math.abs(a.y - b.y) >= NODE_H;
    assert.ok(apart, `${a.name} and ${b.name} overlap`);
  }
  const at = new Map(l.nodes.map((n) => [n.name, n]));
  for (const [a, b] of graph.edges) assert.ok(at.get(a)!.y < at.get(b)!.y, `${a} above ${b}`);
  assert.ok(l.height > free.height);
  // No edge is drawn across a step it does not join.
  for (const e of l.edges) {
    for (let i = 1; i < e.points.length; i++) {
      const [p, q] = [e.points[i - 1], e.points[i]];
      for (let t = 0; t <= 1; t += 0.02) {
        const x = p.x + (q.x - p.x) * t;
        const y = p.y + (q.y - p.y) * t;
        for (const n of l.nodes) {
          if (n.name === e.from || n.name === e.to) continue;
          const inside = Math.abs(x - n.x) < n.w / 2 - 0.5 && Math.abs(y - n.y) < NODE_H / 2 - 0.5;
          assert.ok(!inside, `edge ${e.from} → ${e.to} crosses ${n.name}`);
        }
      }
    }
  }
  // A graph that fits is left as dagre made it.
  assert.equal(layoutGraph(graph, { maxWidth: 2000 }).wrapped, false);
});

test('on demand, each edge is labelled with the data it carries', () => {
  const graph = wide();
  assert.deepEqual(edgeData(graph, 'features', 'train_rf'), ['X', 'y']);
  assert.deepEqual(edgeData(graph, 'load', 'report'), []);
  for (const opts of [{ labels: true }, { labels: true, maxWidth: 260 }]) {
    const l = layoutGraph(graph, opts);
    const e = l.edges.find((x) => x.from === 'features' && x.to === 'train_rf')!;
    assert.equal(e.label?.text, 'X, y');
    assert.ok(Number.isFinite(e.label!.x) && Number.isFinite(e.label!.y));
  }
  assert.equal(layoutGraph(graph).edges.every((e) => !e.label), true);
});
