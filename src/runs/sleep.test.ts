import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from './sleep.js';

test('sleep waits its time when nothing stops it', async () => {
  const started = performance.now();
  await sleep(50);
  assert.ok(performance.now() - started >= 45, 'resolved early');
});

test('an abort ends the sleep at once, and an aborted signal does not sleep at all', async () => {
  const ac = new AbortController();
  const started = performance.now();
  const slept = sleep(60_000, ac.signal);
  ac.abort();
  await slept;
  const aborted = AbortSignal.abort();
  await sleep(60_000, aborted);
  assert.ok(performance.now() - started < 5_000, 'an abort did not end the sleep');
});
