import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeData, layoutGraph, stepRanks, LABEL_H, MIN_SCALE, NODE_H, type Layout } from './layout.js';
import type { StepGraph } from '../../core/model.js';

type Graph = Pick<StepGraph, 'steps' | 'edges'>;
type Seg = { x1: number; y1: number; x2: number; y2: number };

/** A graph from edges; each step reads one value (named after the step that makes it) from each step before it. */
function graphOf(names: string[], edges: [string, string][]): Graph {
  const steps = names.map((name) => ({
    name,
    inputSources: Object.fromEntries(edges.filter(([, b]) => b === name).map(([a]) => [`${a}_out`, a])),
    inputs: [], outputs: [],
  }));
  return { steps, edges } as never as Graph;
}

/** features → n parallel steps → evaluate, after load. */
function fanOut(names: string[]): Graph {
  return graphOf(['load', 'features', ...names, 'evaluate'], [['load', 'features'], ...names.map((n) => ['features', n] as [string, string]), ...names.map((n) => [n, 'evaluate'] as [string, string])]);
}

/** A 12-step notebook: cleaning in two branches, three models trained in parallel, evaluation and reports. */
function twelveSteps(): Graph {
  const e: [string, string][] = [
    ['load', 'clean'], ['load', 'weather'], ['clean', 'features'], ['weather', 'features'], ['features', 'split'],
    ['split', 'train_forest'], ['split', 'train_logreg'], ['split', 'train_svm'],
    ['train_forest', 'evaluate'], ['train_logreg', 'evaluate'], ['train_svm', 'evaluate'], ['split', 'evaluate'],
    ['evaluate', 'plot'], ['evaluate', 'report'],
  ];
  return graphOf(['load', 'clean', 'weather', 'features', 'split', 'train_forest', 'train_logreg', 'train_svm', 'evaluate', 'plot', 'report', 'publish'], [...e, ['plot', 'publish'], ['report', 'publish']]);
}

/** A 12-step pipeline: a chain that fans out into 8 parallel steps and joins again. */
function wide(): Graph {
  const fan = ['train_lr', 'train_rf', 'train_gb', 'train_svm', 'train_knn', 'train_nb', 'train_mlp', 'train_dt'];
  return fanOut(fan);
}

function segments(points: { x: number; y: number }[]): Seg[] {
  return points.slice(1).map((q, i) => ({ x1: points[i].x, y1: points[i].y, x2: q.x, y2: q.y }));
}

/** The length two collinear axis-aligned segments share (0 when they are not on one line). */
function shared(s: Seg, t: Seg): number {
  const vertical = (u: Seg) => Math.abs(u.x1 - u.x2) < 0.01;
  if (vertical(s) && vertical(t) && Math.abs(s.x1 - t.x1) < 1) {
    return Math.min(Math.max(s.y1, s.y2), Math.max(t.y1, t.y2)) - Math.max(Math.min(s.y1, s.y2), Math.min(t.y1, t.y2));
  }
  if (!vertical(s) && !vertical(t) && Math.abs(s.y1 - t.y1) < 1) {
    return Math.min(Math.max(s.x1, s.x2), Math.max(t.x1, t.x2)) - Math.max(Math.min(s.x1, s.x2), Math.min(t.x1, t.x2));
  }
  return 0;
}

/** Whether an axis-aligned segment passes through the inside of a box (touching its border is not entering). */
function enters(s: Seg, box: { x: number; y: number; w: number; h: number }): boolean {
  const [xa, xb] = [Math.min(s.x1, s.x2), Math.max(s.x1, s.x2)];
  const [ya, yb] = [Math.min(s.y1, s.y2), Math.max(s.y1, s.y2)];
  return xb > box.x - box.w / 2 + 0.5 && xa < box.x + box.w / 2 - 0.5 && yb > box.y - box.h / 2 + 0.5 && ya < box.y + box.h / 2 - 0.5;
}

/** The promises every layout keeps, whatever its width. */
function assertReadable(l: Layout, graph: Graph) {
  const at = new Map(l.nodes.map((n) => [n.name, n]));
  assert.equal(l.nodes.length, graph.steps.length);
  for (const a of l.nodes) for (const b of l.nodes) {
    if (a !== b) assert.ok(Math.abs(a.x - b.x) >= (a.w + b.w) / 2 || Math.abs(a.y - b.y) >= NODE_H, `${a.name} and ${b.name} overlap`);
  }
  for (const [a, b] of graph.edges) assert.ok(at.get(a)!.y < at.get(b)!.y, `${a} above ${b}`);
  for (const e of l.edges) {
    const segs = segments(e.points);
    assert.ok(segs.length >= 1);
    assert.equal(e.points[0].y, at.get(e.from)!.y + NODE_H / 2, `${e.from} → ${e.to} leaves from the bottom of ${e.from}`);
    assert.equal(e.points.at(-1)!.y, at.get(e.to)!.y - NODE_H / 2, `${e.from} → ${e.to} arrives at the top of ${e.to}`);
    for (const s of segs) assert.ok(Math.abs(s.x1 - s.x2) < 0.01 || Math.abs(s.y1 - s.y2) < 0.01, `${e.from} → ${e.to} runs at right angles`);
    for (const s of segs) {
      for (const n of l.nodes) {
        if (n.name === e.from || n.name === e.to) continue;
        assert.ok(!enters(s, { ...n, h: NODE_H }), `edge ${e.from} → ${e.to} enters ${n.name}`);
      }
    }
  }
  for (const e of l.edges) for (const f of l.edges) {
    if (e === f) continue;
    for (const s of segments(e.points)) for (const t of segments(f.points)) {
      assert.ok(shared(s, t) <= 0.5, `${e.from} → ${e.to} and ${f.from} → ${f.to} share a segment`);
    }
  }
  // A data label sits on its own: over no step, under no edge, over no other label.
  const labels = l.edges.filter((e) => e.label).map((e) => ({ e, box: { x: e.label!.x + e.label!.w / 2, y: e.label!.y - 3.5, w: e.label!.w, h: LABEL_H - 4 } }));
  for (const { e, box } of labels) {
    for (const n of l.nodes) {
      const over = Math.abs(n.x - box.x) < (n.w + box.w) / 2 && Math.abs(n.y - box.y) < (NODE_H + box.h) / 2;
      assert.ok(!over, `label ${e.label!.text} over ${n.name}`);
    }
    for (const f of l.edges) for (const s of segments(f.points)) assert.ok(!enters(s, box), `label ${e.label!.text} under ${f.from} → ${f.to}`);
    for (const o of labels) if (o !== labels.find((x) => x.e === e)) {
      const apart = Math.abs(o.box.x - box.x) >= (o.box.w + box.w) / 2 || Math.abs(o.box.y - box.y) >= box.h;
      assert.ok(apart, `labels ${e.label!.text} and ${o.e.label!.text} overlap`);
    }
  }
}

/** Steps of one rank on one row, and the whole fits the width once shrunk no further than MIN_SCALE. */
function assertOneRowPerRank(l: Layout, graph: Graph, width: number) {
  assert.equal(l.wrapped, false);
  assert.ok(l.width * MIN_SCALE <= width, `${l.width}px shrinks into ${width}px at ${MIN_SCALE} or more`);
  const ranks = stepRanks(graph);
  const y = new Map(l.nodes.map((n) => [n.name, n.y]));
  for (const [a, ra] of ranks) for (const [b, rb] of ranks) {
    if (ra === rb) assert.equal(y.get(a), y.get(b), `${a} and ${b} (rank ${ra}) on one row`);
    if (ra < rb) assert.ok(y.get(a)! < y.get(b)!, `${a} (rank ${ra}) above ${b} (rank ${rb})`);
  }
}

const SIDEBAR = 250;

for (const [title, graph] of [
  ['a two-way fan-out (train_forest, train_logreg)', fanOut(['train_forest', 'train_logreg'])],
  ['a three-way fan-out', fanOut(['train_forest', 'train_logreg', 'train_svm'])],
  ['a five-way fan-out', fanOut(['fold1', 'fold2', 'fold3', 'fold4', 'fold5'])],
  ['a 12-step notebook', twelveSteps()],
] as const) {
  test(`${title} at ${SIDEBAR} px: parallel steps side by side on one row, edges apart, none through a step, with and without data labels`, () => {
    for (const labels of [false, true]) {
      const l = layoutGraph(graph, { maxWidth: SIDEBAR, labels });
      assertReadable(l, graph);
      if (!labels) assertOneRowPerRank(l, graph, SIDEBAR);
    }
  });
}

test('the two-way fan-out is not drawn as a chain: each training step has its own edge from features and its own into evaluate', () => {
  const graph = fanOut(['train_forest', 'train_logreg']);
  const l = layoutGraph(graph, { maxWidth: SIDEBAR });
  const edge = (a: string, b: string) => l.edges.find((e) => e.from === a && e.to === b)!;
  assert.equal(l.edges.some((e) => e.from === 'train_forest' && e.to === 'train_logreg'), false);
  assert.notEqual(edge('features', 'train_forest').points[0].x, edge('features', 'train_logreg').points[0].x, 'separate ports on features');
  assert.notEqual(edge('train_forest', 'evaluate').points.at(-1)!.x, edge('train_logreg', 'evaluate').points.at(-1)!.x, 'separate ports on evaluate');
});

test('the ranks are the longest path from the first steps', () => {
  const ranks = stepRanks(twelveSteps());
  assert.deepEqual([ranks.get('load'), ranks.get('clean'), ranks.get('weather'), ranks.get('features'), ranks.get('train_svm'), ranks.get('evaluate'), ranks.get('report'), ranks.get('publish')], [0, 1, 1, 2, 4, 5, 6, 7]);
});

test('the candies graph is laid out top to bottom: each edge goes downwards, no nodes overlap', () => {
  const graph = graphOf(['sack', 'kid1', 'kid2', 'kid3'], [['sack', 'kid1'], ['kid1', 'kid2'], ['kid2', 'kid3'], ['kid1', 'kid3']]);
  const l = layoutGraph(graph);
  assert.equal(l.edges.length, 4);
  assertReadable(l, graph);
  assert.ok(l.width > 0 && l.height >= 4 * NODE_H);
});

test('edges naming unknown steps are ignored rather than drawn to nowhere', () => {
  const l = layoutGraph({ steps: [{ name: 'a' }] as never, edges: [['a', 'ghost']] });
  assert.deepEqual(l.edges, []);
  assert.equal(l.nodes.length, 1);
});

test('a graph too wide to read even shrunk wraps its ranks onto rows; labels at full size, edges still apart and around the steps', () => {
  const graph = wide();
  const free = layoutGraph(graph);
  assert.ok(free.width * MIN_SCALE > 260, `dagre alone lays it out ${free.width}px wide`);
  for (const labels of [false, true]) {
    const l = layoutGraph(graph, { maxWidth: 260, labels });
    assert.equal(l.wrapped, true);
    assert.ok(l.width * MIN_SCALE <= 260, `${l.width}px shrinks into 260px`);
    // Node sizes are those of the unwrapped layout: nothing is shrunk.
    for (const n of l.nodes) assert.equal(n.w, free.nodes.find((f) => f.name === n.name)!.w);
    assertReadable(l, graph);
    assert.ok(l.height > free.height);
  }
  // A graph that fits is left on one row per rank.
  assert.equal(layoutGraph(graph, { maxWidth: 2000 }).wrapped, false);
});

test('on demand, each edge is labelled with the data it carries', () => {
  const graph = wide();
  assert.deepEqual(edgeData(graph, 'features', 'train_rf'), ['features_out']);
  assert.deepEqual(edgeData(graph, 'load', 'evaluate'), []);
  const l = layoutGraph(graph, { labels: true });
  const e = l.edges.find((x) => x.from === 'features' && x.to === 'train_rf')!;
  assert.equal(e.label?.text, 'features_out');
  assert.ok(Number.isFinite(e.label!.x) && Number.isFinite(e.label!.y));
  assert.equal(layoutGraph(graph).edges.every((x) => !x.label), true);
  // Wrapped rows leave no free place for labels: the view names the data in each edge's tooltip instead.
  assert.equal(layoutGraph(graph, { labels: true, maxWidth: 260 }).edges.every((x) => !x.label), true);
});

/** examples/composing's graph (two referenced notebooks, then two steps of the root), plus a third notebook's step. */
function composed(): Graph {
  const graph = graphOf(['features-load', 'features-smooth', 'labels-label', 'train', 'report', 'extra-more'],
    [['features-load', 'features-smooth'], ['features-smooth', 'train'], ['labels-label', 'train'], ['train', 'report'], ['train', 'extra-more']]);
  const units: Record<string, { name: string; notebook: string }> = { features: { name: 'features', notebook: 'features.ipynb' }, labels: { name: 'labels', notebook: 'sub/labels.ipynb' }, extra: { name: 'extra', notebook: 'extra.ipynb' } };
  for (const s of graph.steps) {
    const unit = units[s.name.split('-')[0]];
    if (unit && s.name.includes('-')) Object.assign(s, { unit: { ...unit, step: s.name.slice(unit.name.length + 1) } });
  }
  return graph;
}

test('a referenced notebook\'s steps sit in a box named after it, which holds its steps and no other, under its name\'s room', () => {
  const graph = composed();
  for (const options of [{}, { labels: true }, { maxWidth: SIDEBAR }]) {
    const l = layoutGraph(graph, options);
    assertReadable(l, graph);
    assert.deepEqual(l.boxes.map((b) => [b.unit, b.notebook]), [['features', 'features.ipynb'], ['labels', 'sub/labels.ipynb'], ['extra', 'extra.ipynb']]);
    for (const box of l.boxes) {
      const inside = l.nodes.filter((n) => n.x - n.w / 2 >= box.x && n.x + n.w / 2 <= box.x + box.w && n.y - NODE_H / 2 >= box.y && n.y + NODE_H / 2 <= box.y + box.h);
      assert.deepEqual(inside.map((n) => n.name).sort(), graph.steps.filter((s) => s.unit?.name === box.unit).map((s) => s.name).sort(), `box ${box.unit}`);
      assert.ok(box.y >= 8, `box ${box.unit}'s name (on its top border) is inside the picture`);
    }
    // The boxes keep the rows as they are without them.
    assertOneRowPerRank(l, graph, SIDEBAR * 2);
  }
  assert.deepEqual(layoutGraph(wide()).boxes, [], 'a notebook that composes nothing has no box');
});
