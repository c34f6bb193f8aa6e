import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { podWaiting } from './pod-waiting.js';

/** Pod statuses as kube-scheduler and the kubelet write them (shapes from a real cluster's pods). */
const pending = (status: NonNullable<V1Pod['status']>): V1Pod => ({ spec: { containers: [{ name: 'main', image: 'registry.local/steps/train:1' }] }, status: { phase: 'Pending', ...status } });

test('a pod no node can take says the scheduler\'s reason and which limit to lower', () => {
  const why = podWaiting(pending({
    conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.' }],
  }));
  assert.match(why!, /^waiting for a node: 0\/1 nodes are available: 1 Insufficient nvidia\.com\/gpu\./);
  assert.match(why!, /lower its limit:nvidia\.com\/gpu tag/);
});

test('an image that cannot be pulled names the image, the kubelet\'s reason, and the registry setting', () => {
  const why = podWaiting(pending({
    conditions: [{ type: 'PodScheduled', status: 'True' }],
    containerStatuses: [{ name: 'main', image: 'registry.local/steps/train:1', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.local/steps/train:1"' } } }],
  }));
  assert.match(why!, /^cannot pull the image registry\.local\/steps\/train:1 \(ImagePullBackOff: Back-off pulling image/);
  assert.match(why!, /the profile's registry setting/);
});

test('a container that cannot be created (a missing secret) says so', () => {
  const why = podWaiting(pending({
    containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "db" not found' } } }],
  }));
  assert.match(why!, /cannot start the container \(CreateContainerConfigError: secret "db" not found\)/);
});

test('a pod on its way (scheduled, image being pulled), running or done says nothing', () => {
  assert.equal(podWaiting(pending({ conditions: [{ type: 'PodScheduled', status: 'True' }], containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] })), undefined);
  assert.equal(podWaiting({ status: { phase: 'Running' } }), undefined);
  assert.equal(podWaiting({ status: { phase: 'Succeeded' } }), undefined);
  assert.equal(podWaiting({}), undefined);
});
