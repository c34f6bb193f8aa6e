/**
 * The targets, as the backend and the CLI ask for them: which name is whose, and what each can do — declared, so
 * the page and the routes never find it out from a runtime's class.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TARGET_KINDS, targetKind } from './index.js';

test('"local" and "containers" are this machine; every other name is a Kubeflow profile', () => {
  assert.equal(targetKind('local').kind, 'local');
  assert.equal(targetKind('containers').kind, 'containers');
  for (const profile of ['prod', 'team-a', 'Local']) assert.equal(targetKind(profile).kind, 'kubeflow', profile);
  assert.deepEqual(TARGET_KINDS.map((k) => k.kind), ['local', 'containers', 'kubeflow']);
});

test('what each target can do is declared', () => {
  const can = Object.fromEntries(TARGET_KINDS.map((k) => [k.kind, k.capabilities]));
  // Only local runs have fork servers to pre-warm.
  assert.deepEqual(TARGET_KINDS.filter((k) => k.capabilities.prewarm).map((k) => k.kind), ['local']);
  // Partial runs on this machine take an earlier run's outputs; on Kubeflow, KFP's cache.
  assert.equal(can.local.reuse, true);
  assert.equal(can.containers.reuse, true);
  assert.equal(can.kubeflow.reuse, false);
  // Only Kubeflow runs recurrently, and goes on when the process that started it stops.
  assert.deepEqual(TARGET_KINDS.filter((k) => k.capabilities.schedules).map((k) => k.kind), ['kubeflow']);
  assert.deepEqual(TARGET_KINDS.filter((k) => k.capabilities.detached).map((k) => k.kind), ['kubeflow']);
  assert.ok(TARGET_KINDS.every((k) => k.capabilities.cellOutputs));
});

test('a Kubeflow target refuses "reuse" before anything is recorded: the steps not chosen take KFP\'s cache', async () => {
  const target = await targetKind('prod').open('prod', {
    profile: async (name) => ({ name, namespace: 'team-a' }),
    kubeflowRuntime: () => Promise.reject(new Error('not reached')),
    localRuntime: () => Promise.reject(new Error('not reached')),
  });
  const graph = { steps: [{ name: 'a' }] } as never;
  await assert.rejects(
    target.plan({ selection: { only: ['a'], reuse: 'latest' }, compiled: { graph } } as never),
    (e: Error & { kind?: string; hint?: string }) => e.kind === 'usage' && /'reuse' names an earlier run of this machine/.test(e.message) && /run on Local/.test(e.hint ?? ''),
  );
});
