import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { podOutcome } from './pod-outcome.js';

const pod = (terminated: { exitCode: number; reason?: string } | undefined, o: { memory?: string; podReason?: string; message?: string } = {}): V1Pod => ({
  spec: { containers: [{ name: 'main', resources: o.memory ? { limits: { memory: o.memory } } : undefined }] },
  status: {
    reason: o.podReason,
    message: o.message,
    containerStatuses: terminated ? [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated } }] : [],
  },
});

test('an OOM kill names the memory limit and what to do; a plain failure is only its exit code', () => {
  assert.deepEqual(podOutcome(pod({ exitCode: 137, reason: 'OOMKilled' }, { memory: '64Mi' })), {
    exitCode: 137,
    reason: 'OOMKilled',
    error: { type: 'OOMKilled', message: 'the step was killed for using more memory than its limit (64Mi): raise its limit:memory tag or make it use less' },
  });
  assert.deepEqual(podOutcome(pod({ exitCode: 1, reason: 'Error' })), { exitCode: 1, reason: 'Error' });
  assert.deepEqual(podOutcome(pod({ exitCode: 0, reason: 'Completed' })), { exitCode: 0, reason: 'Completed' });
});

test('an evicted pod says so with the node\'s message; a pod still running has no outcome', () => {
  assert.equal(podOutcome(pod(undefined, { podReason: 'Evicted', message: 'The node was low on resource: memory.' }))?.error?.message,
    "the step's pod was evicted by its node: The node was low on resource: memory.");
  assert.equal(podOutcome(pod(undefined)), undefined);
});
