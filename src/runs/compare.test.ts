import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRuns, sameValue, showValue, summarizeRun } from './compare.js';
import type { RunRecord, StepRecord } from './types.js';

const step = (name: string, state: StepRecord['state'], secs = 1, metrics: Record<string, number> = {}): StepRecord => ({
  name, state, attempts: 1, outputs: [], metrics,
  startedAt: '2026-01-01T00:00:00.000Z', finishedAt: new Date(Date.parse('2026-01-01T00:00:00.000Z') + secs * 1000).toISOString(),
});
const run = (id: string, parameters: RunRecord['parameters'], steps: StepRecord[], extra: Partial<RunRecord> = {}): RunRecord => ({
  id, notebook: 'nb.ipynb', notebookHash: '', specHash: '', runtime: 'local', parameters, state: 'succeeded',
  createdAt: '2026-01-01T00:00:00Z', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:05Z', steps, ...extra,
});

test('a history row names only the parameters that differ from the notebook\'s defaults, with metrics, target, duration and cached steps', () => {
  const r = run('a', { RATE: 1.5, N: 4, opts: { b: 1, a: 2 } }, [step('data', 'cached'), step('train', 'succeeded', 2, { acc: 0.9 })], { runtime: 'kubeflow', profile: 'prod' });
  const s = summarizeRun(r, [{ name: 'RATE', default: 0.5 }, { name: 'N', default: 4 }, { name: 'opts', default: { a: 2, b: 1 } }]);
  assert.deepEqual(s.changed, [{ name: 'RATE', value: 1.5, default: 0.5 }]);
  assert.deepEqual(s.metrics, { acc: 0.9 });
  assert.equal(s.target, 'kubeflow:prod');
  assert.equal(s.durationMs, 5000);
  assert.equal(s.cached, 1);
  assert.equal(s.steps, 2);
  // Without the notebook's defaults (it changed, or is not open) every value is shown.
  assert.equal(summarizeRun(r).changed.length, 3);
});

test('comparing runs lines up parameters, metrics and steps, and marks the rows that differ', () => {
  const a = run('a', { RATE: 0.5, N: 4 }, [step('data', 'succeeded', 1), step('train', 'succeeded', 2, { acc: 0.8 })]);
  const b = run('b', { RATE: 1.5, N: 4 }, [step('data', 'cached'), step('train', 'failed', 3)], { state: 'failed' });
  const c = compareRuns([a, b]);
  const row = (section: string, name: string) => c.rows.find((r) => r.section === section && r.name === name)!;
  assert.deepEqual(c.runs.map((r) => r.id), ['a', 'b']);
  assert.deepEqual(row('parameter', 'RATE').values, [0.5, 1.5]);
  assert.equal(row('parameter', 'RATE').differs, true);
  assert.equal(row('parameter', 'N').differs, false);
  assert.deepEqual(row('metric', 'acc').values, [0.8, undefined]);
  assert.equal(row('metric', 'acc').differs, true);
  assert.deepEqual(row('step', 'train').values, ['succeeded', 'failed']);
  assert.deepEqual(row('step', 'train').durations, [2000, 3000]);
  // A cached step took no time of its own; durations alone never mark a row.
  assert.deepEqual(row('step', 'data').durations, [1000, undefined]);
  assert.equal(row('run', 'duration').differs, false);
  // Cached and succeeded are the same outcome: neither the step's row nor the count of cached steps is a difference.
  assert.deepEqual(row('step', 'data').values, ['succeeded', 'cached']);
  assert.equal(row('step', 'data').differs, false);
  assert.equal(row('step', 'train').differs, true);
  assert.equal(row('run', 'cached steps').differs, false);
  assert.equal(row('run', 'state').differs, true);
});

test('values compare as JSON, object keys in any order', () => {
  assert.equal(sameValue({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }), true);
  assert.equal(sameValue(1, '1'), false);
  assert.equal(sameValue(undefined, null), false);
});

test('showValue keeps a float parameter a float (14.0, as the notebook writes it), other values as JSON, strings as they are', () => {
  assert.equal(showValue(14, 'float'), '14.0');
  assert.equal(showValue(1.5, 'float'), '1.5');
  assert.equal(showValue(14, 'int'), '14');
  assert.equal(showValue(14), '14');
  assert.equal(showValue('kg', 'str'), 'kg');
  assert.equal(showValue([1, 2], 'list'), '[1,2]');
  assert.equal(showValue(undefined, 'float'), '—');
});
