/**
 * Which step a KFP executor pod runs, from the node name Argo annotates it with. The Argo v4 names are those the
 * real stack gave (KFP 2.17.0 + Argo v4.0.5, scripts/test-kfp.sh); the plain ones are Argo v3's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podTask } from './runtime.js';

const pod = (node?: string) => ({ metadata: { annotations: node ? { 'workflows.argoproj.io/node-name': node } : ({} as Record<string, string>) } });

test('an Argo v4 executor pod names its task through the attempt marks', () => {
  assert.equal(podTask(pod('kubeflow-values-xbc6g(0).root(0).summarise(0).executor(0)')), 'summarise');
  assert.equal(podTask(pod('long-running-pjhsp(0).root(0).after-2(0).executor')), 'after-2');
});

test('an Argo v3 executor pod (no attempt marks, or a retry of the executor) names its task', () => {
  assert.equal(podTask(pod('wf.root.measure.executor')), 'measure');
  assert.equal(podTask(pod('wf.root.measure.executor(1)')), 'measure');
});

test('driver pods and pods without the annotation run no step', () => {
  assert.equal(podTask(pod('kubeflow-values-xbc6g(0).root-driver(0)')), undefined);
  assert.equal(podTask(pod('kubeflow-values-xbc6g(0).root(0).measure-driver(0)')), undefined);
  assert.equal(podTask(pod()), undefined);
});
