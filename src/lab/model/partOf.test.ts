import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partOfLabel, recordedStepName, viewOfComposedRun } from './partOf.js';
import { pendingStep } from '../../runs/store.js';
import type { RunRecord } from '../../runs/types.js';

const run: RunRecord = {
  id: '20261207-120000-abcdef', notebook: 'composing/pipeline.ipynb', notebookHash: '', specHash: '', runtime: 'local', parameters: { WINDOW: 3 },
  state: 'succeeded', createdAt: '2026-12-07T12:00:00Z',
  steps: [
    pendingStep('features-load', { name: 'features', notebook: 'features.ipynb', step: 'load' }),
    pendingStep('features-smooth', { name: 'features', notebook: 'features.ipynb', step: 'smooth' }),
    pendingStep('labels-label', { name: 'labels', notebook: 'labels.ipynb', step: 'label' }),
    pendingStep('train'),
  ],
};

test('a referenced notebook sees a composing notebook\'s run with its own steps only, under their names there', () => {
  const view = viewOfComposedRun(run, ['features']);
  assert.deepEqual(view.steps.map((s) => s.name), ['load', 'smooth']);
  assert.deepEqual([view.id, view.parameters, view.state], [run.id, run.parameters, run.state]);
  assert.deepEqual(run.steps.map((s) => s.name), ['features-load', 'features-smooth', 'labels-label', 'train'], 'the record itself is left as it is');
  // The backend is asked about a step by its name in the record.
  assert.equal(recordedStepName(view.steps[1], true), 'features-smooth');
  assert.equal(recordedStepName(run.steps[3], false), 'train');
  assert.equal(recordedStepName(run.steps[1], false), 'features-smooth');
});

test('the history says which run of which notebook a composed run was', () => {
  assert.equal(partOfLabel(run), 'part of run 20261207-120000-abcdef of pipeline.ipynb');
});
