import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMetric, metricRows } from './metrics.js';
import type { StepRecord } from '../../runs/types.js';

const step = (name: string, state: StepRecord['state'], metrics: Record<string, number | string> = {}): StepRecord => ({ name, state, attempts: 1, outputs: [], metrics });

test("the metrics cell lists its names in order with the value the computing step recorded, and says which are missing", () => {
  const run = { steps: [step('train', 'succeeded', { accuracy: 0.9473684210526315 }), step('evaluate', 'failed'), step('extra', 'succeeded', { rows: 90 })] };
  const writers = new Map([['accuracy', 'train'], ['f1', 'evaluate']]);
  assert.deepEqual(metricRows(run, ['f1', 'accuracy'], writers), [
    { name: 'f1', step: 'evaluate', state: 'failed' },
    { name: 'accuracy', value: 0.9473684210526315, step: 'train', state: 'succeeded' },
    // recorded by a step though the cell (as compiled now) does not name it
    { name: 'rows', value: 90, step: 'extra', state: 'succeeded' },
  ]);
  assert.deepEqual(metricRows({ steps: [] }, [], new Map()), []);
});

test('a metric value shows numbers to 6 significant digits and text as it is', () => {
  assert.equal(formatMetric(0.9473684210526315), '0.947368');
  assert.equal(formatMetric(90), '90');
  assert.equal(formatMetric('good'), 'good');
  assert.equal(formatMetric(Number.NaN), 'NaN');
});
