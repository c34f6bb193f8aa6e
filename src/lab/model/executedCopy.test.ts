import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executedCopyOf, sourceNotebookPath } from './executedCopy.js';

test("an executed copy's metadata names its run and the notebook beside it", () => {
  const copy = executedCopyOf({ run: '20261207-1', state: 'succeeded', notebook: 'wine.ipynb' });
  assert.deepEqual(copy, { run: '20261207-1', state: 'succeeded', notebook: 'wine.ipynb' });
  assert.equal(sourceNotebookPath('work/wine.20261207-1.ipynb', copy!), 'work/wine.ipynb');
  assert.equal(sourceNotebookPath('wine.20261207-1.ipynb', copy!), 'wine.ipynb');
});

test('a notebook of its own, or metadata that is not a copy, is no executed copy', () => {
  assert.equal(executedCopyOf(undefined), undefined);
  assert.equal(executedCopyOf({ state: 'succeeded' }), undefined);
  assert.equal(executedCopyOf('run'), undefined);
  // An older copy without the notebook's name is still a copy; a path outside the folder is not followed.
  assert.deepEqual(executedCopyOf({ run: 'r' }), { run: 'r' });
  assert.deepEqual(executedCopyOf({ run: 'r', notebook: '../other/x.ipynb' }), { run: 'r' });
});
