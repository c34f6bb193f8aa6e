import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileNotebook } from '../../core/compile.js';
import { placeCells, type CellInfo } from './cells.js';
import { newStepDependencies, stepsBefore } from './newStep.js';

const cell = (source: string, tags: string[]) => ({ cell_type: 'code', metadata: { tags }, outputs: [], execution_count: null, source });
// The wine notebook of issue 25: load → features → two trainings; the second training's cell is being made a step.
const WINE = [
  cell('raw = [[1.0, 2.0], [3.0, 4.0]]', ['step:load']),
  cell('X_train_s = [r[0] for r in raw]\ny_train = [r[1] for r in raw]', ['step:features']),
  cell('forest = sum(X_train_s) + sum(y_train)', ['step:train_forest']),
  cell('logreg = max(X_train_s) - min(y_train)', []),
];
const compiled = (cells: unknown[]) => compileNotebook(JSON.stringify({ cells, metadata: {}, nbformat: 4, nbformat_minor: 5 })).graph;
const infos = (cells: { metadata: { tags: string[] } }[]): CellInfo[] => cells.map((c) => ({ type: 'code', tags: c.metadata.tags }));

test('a new step depends on the earlier steps whose data it reads, not on the step above, and says so', () => {
  const tagged = [...WINE.slice(0, 3), cell(WINE[3].source, ['step:train_logreg'])];
  const earlier = stepsBefore(placeCells(infos(WINE)), 3);
  assert.deepEqual(earlier, ['load', 'features', 'train_forest']);
  const deps = newStepDependencies(compiled(tagged), 'train_logreg', earlier, 'train_forest');
  assert.deepEqual(deps.prev, ['features']);
  assert.equal(deps.because, 'after features (it reads X_train_s, y_train)');
});

test('a new step that reads from several earlier steps depends on each', () => {
  const cells = [...WINE.slice(0, 3), cell('print(forest, len(raw))', ['step:report'])];
  const deps = newStepDependencies(compiled(cells), 'report', ['load', 'features', 'train_forest'], 'train_forest');
  assert.deepEqual(deps.prev, ['load', 'train_forest']);
  assert.equal(deps.because, 'after load (it reads raw) and train_forest (it reads forest)');
});

test('a new step that reads nothing earlier steps make follows the step above; the first step follows nothing', () => {
  const cells = [...WINE.slice(0, 2), cell('import os\nos.makedirs("out", exist_ok=True)', ['step:prepare'])];
  assert.deepEqual(newStepDependencies(compiled(cells), 'prepare', ['load', 'features'], 'features'), {
    prev: ['features'], because: 'after features, the step above (it reads nothing earlier steps make)',
  });
  assert.deepEqual(newStepDependencies(compiled([WINE[0]]), 'load', [], undefined).prev, []);
});

test('Depends on offers only the steps that start above the cell', () => {
  const places = placeCells(infos([WINE[0], WINE[1], cell('', []), cell('', ['step:later'])]));
  assert.deepEqual(stepsBefore(places, 2), ['load', 'features']);
  assert.deepEqual(stepsBefore(places, 0), []);
});
