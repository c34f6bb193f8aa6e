import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notebookCell, relativeNotebookPath, unitName } from './notebookRef.js';
import { compileNotebook } from '../../core/compile.js';

test('the picked notebook\'s path is written relative to the composing notebook\'s folder', () => {
  assert.equal(relativeNotebookPath('composing/pipeline.ipynb', 'composing/labels.ipynb'), 'labels.ipynb');
  assert.equal(relativeNotebookPath('composing/pipeline.ipynb', 'shared/prep/clean.ipynb'), '../shared/prep/clean.ipynb');
  assert.equal(relativeNotebookPath('pipeline.ipynb', 'sub/a.ipynb'), 'sub/a.ipynb');
  assert.equal(relativeNotebookPath('a/b/pipeline.ipynb', 'a/x.ipynb'), '../x.ipynb');
});

test('the unit is named after the notebook\'s file, as a step name no other step or reference has', () => {
  assert.equal(unitName('composing/labels.ipynb', []), 'labels');
  assert.equal(unitName('composing/labels.ipynb', ['labels', 'labels-2']), 'labels-3');
  assert.equal(unitName('2024 Feature prep.ipynb', []), 'Feature_prep');
  assert.equal(unitName('123.ipynb', []), 'notebook');
});

test('the inserted cell is a notebook: cell Kale 2.3 reads: it composes the picked notebook\'s steps', () => {
  const cell = notebookCell('work/pipeline.ipynb', 'work/labels.ipynb', ['train']);
  assert.deepEqual(cell.metadata, { tags: ['notebook:labels'], notebook_path: 'labels.ipynb' });
  const nb = (cells: object[]) => ({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: cells.map((c, i) => ({ id: `c${i}`, outputs: [], execution_count: null, ...c })) });
  const labels = nb([{ cell_type: 'code', metadata: { tags: ['step:label'] }, source: 'full = [True]' }]);
  const pipeline = nb([cell, { cell_type: 'code', metadata: { tags: ['step:train'] }, source: 'print(full)' }]);
  const r = compileNotebook(pipeline, { path: 'work/pipeline.ipynb', readNotebook: (p) => (p === 'labels.ipynb' ? labels : undefined) });
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  assert.deepEqual(r.graph!.steps.map((s) => s.name), ['labels-label', 'train']);
});
