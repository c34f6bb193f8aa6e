import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellColumn, comparableCells } from './compareCell.js';

test('the comparable cells are the steps\' cells in notebook order, labelled as JupyterLab numbers them', () => {
  const sources = ['import pandas as pd', 'C = 1.0', '\n# load\ndf = pd.read_csv("wine.csv")', 'df.describe()', 'plt.plot(df.x)'];
  const steps = [{ name: 'plot', cells: [4] }, { name: 'load', cells: [2, 3] }, { name: 'report', cells: [9] }];
  assert.deepEqual(comparableCells(steps, sources), [
    { cell: 2, step: 'load', label: 'cell 3 · load: # load' },
    { cell: 3, step: 'load', label: 'cell 4 · load: df.describe()' },
    { cell: 4, step: 'plot', label: 'cell 5 · plot: plt.plot(df.x)' },
  ]);
});

test('a long first line is shortened', () => {
  const [c] = comparableCells([{ name: 's', cells: [0] }], ['x = ' + 'a'.repeat(100)]);
  assert.equal(c.label.length, 'cell 1 · s: '.length + 48);
  assert.ok(c.label.endsWith('…'));
});

test("a run's column: the cell's outputs, where they came from when reused, or why there are none", () => {
  const out = [{ output_type: 'stream', name: 'stdout', text: 'x is 2.0\n' }];
  assert.deepEqual(cellColumn('r1', { recorded: true, cells: { 2: { outputs: out } } }, 2, 'succeeded'), { outputs: out });
  assert.deepEqual(cellColumn('r2', { recorded: true, fromRun: 'r1', cells: { 2: { outputs: out } } }, 2, 'cached'), { outputs: out, fromRun: 'r1' });
  assert.deepEqual(cellColumn('r1', { recorded: true, cells: { 2: { outputs: [] } } }, 2, 'succeeded'), { none: 'the cell showed nothing' });
  assert.deepEqual(cellColumn('r1', { recorded: true, cells: {} }, 2, 'succeeded'), { none: 'no outputs recorded for this cell' });
  assert.deepEqual(cellColumn('r1', { recorded: false, cells: {} }, 2, 'skipped'), { none: 'the step was left out' });
  assert.deepEqual(cellColumn('r1', undefined, 2, undefined), { none: 'this run has no such step' });
  assert.deepEqual(cellColumn('r1', { recorded: false, cells: {} }, 2, 'failed'), { none: 'no outputs recorded' });
});
