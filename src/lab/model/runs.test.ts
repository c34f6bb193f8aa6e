import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatWhen, isErrorLine, latestRun, partialLabel, stepMarks, isTerminal } from './runs.js';

test('durations read naturally at every scale', () => {
  assert.equal(formatDuration('2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.850Z'), '850 ms');
  assert.equal(formatDuration('2026-01-01T00:00:00Z', '2026-01-01T00:00:12.3Z'), '12.3 s');
  assert.equal(formatDuration('2026-01-01T00:00:00Z', '2026-01-01T00:04:05Z'), '4 min 05 s');
  assert.equal(formatDuration(undefined), '');
  assert.equal(formatDuration('2026-01-01T00:00:00Z', undefined, Date.parse('2026-01-01T00:00:02Z')), '2.0 s');
});

test('the latest run is the newest by creation time', () => {
  const runs = [{ id: 'a', createdAt: '2026-01-01T00:00:00Z' }, { id: 'b', createdAt: '2026-01-02T00:00:00Z' }, { id: 'c', createdAt: '2025-12-31T00:00:00Z' }];
  assert.equal(latestRun(runs as never)!.id, 'b');
  assert.equal(latestRun([]), undefined);
  assert.equal(isTerminal('running'), false);
  assert.equal(isTerminal('cancelled'), true);
});

test('cached and retried steps are marked', () => {
  assert.deepEqual(stepMarks({ state: 'cached', attempts: 1 } as never), ['cached']);
  assert.deepEqual(stepMarks({ state: 'succeeded', attempts: 3 } as never), ['retried ×2']);
  assert.deepEqual(stepMarks({ state: 'cached', attempts: 0, reused: true, cachedFrom: 'r1' } as never), ['reused from r1']);
  assert.deepEqual(stepMarks({ state: 'succeeded', attempts: 1, start: 'warm' } as never), ['warm start']);
  assert.deepEqual(stepMarks({ state: 'succeeded', attempts: 1, start: 'cold' } as never), ['cold start']);
  assert.deepEqual(stepMarks({ state: 'succeeded', attempts: 1, start: 'lukewarm' } as never), []);
});

test('the error line of a failed step is recognised from the structured error or the exception shape', () => {
  const error = { type: 'ZeroDivisionError', message: 'division by zero' };
  assert.equal(isErrorLine('ZeroDivisionError: division by zero', error), true);
  assert.equal(isErrorLine('  File "cell 3", line 2', error), false);
  assert.equal(isErrorLine('KeyError: \'x\''), true);
  assert.equal(isErrorLine('all good'), false);
});

test('a run of today is shown by its time, an older one by its day and time', () => {
  const now = new Date(2026, 5, 15, 18, 0, 0).getTime();
  const today = formatWhen(new Date(2026, 5, 15, 9, 5, 7).toISOString(), now);
  assert.match(today, /05/);
  assert.doesNotMatch(today, /2026|15/);
  const older = formatWhen(new Date(2026, 5, 3, 9, 5, 7).toISOString(), now);
  assert.match(older, /3/);
  assert.equal(formatWhen('not a time', now), '');
});

test('a partial run says what it ran and how many steps it reused; a full run says nothing', () => {
  const graph = { edges: [['load', 'features'], ['features', 'train_forest'], ['features', 'train_logreg'], ['train_forest', 'evaluate'], ['train_logreg', 'evaluate']] as [string, string][] };
  const step = (name: string, state: string, reused = false) => ({ name, state, reused, attempts: 1 }) as never;
  const only = { state: 'succeeded' as const, steps: [step('load', 'cached', true), step('features', 'cached', true), step('train_forest', 'succeeded'), step('train_logreg', 'skipped'), step('evaluate', 'skipped')] };
  assert.equal(partialLabel(only, graph), 'only train_forest · 2 reused');
  const from = { state: 'succeeded' as const, steps: [step('load', 'cached', true), step('features', 'succeeded'), step('train_forest', 'succeeded'), step('train_logreg', 'succeeded'), step('evaluate', 'succeeded')] };
  assert.equal(partialLabel(from, graph), 'from features · 1 reused');
  // Without the graph "from" cannot be told: the steps are listed.
  assert.equal(partialLabel(from), 'only features, train_forest, train_logreg +1 · 1 reused');
  const full = { state: 'succeeded' as const, steps: [step('load', 'cached'), step('features', 'succeeded')] };
  assert.equal(partialLabel(full, graph), undefined, 'a step cached by a full run is not a partial run');
  const failed = { state: 'failed' as const, steps: [step('load', 'failed'), step('features', 'skipped')] };
  assert.equal(partialLabel(failed, graph), undefined, 'steps skipped after a failure do not make a run partial');
});
