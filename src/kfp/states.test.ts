/**
 * KFP states → cellpipe step states, read from `run_details` as KFP 2.17.0's own persistence agent wrote them on the
 * real stack (recorded with scripts/test-kfp.sh's cluster: `GET /apis/v2beta1/runs/<id>`, kept as they came in
 * src/kfp/testing/real-runs/; kfp-stack.test.ts writes them with CELLPIPE_KFP_RECORD_RUNS=DIR): the values notebook
 * run, the same run re-submitted (all cache hits), the failing notebook, a terminated run, a step waiting for a GPU
 * (while it waits, and terminated) and a step OOM-killed at its memory limit. The documented shape (with `parent_task_id`) is in parameters.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { KfpRun } from './client.js';
import { argoNodeId, argoNodeNames, runState, stepPatches } from './states.js';

const real = (name: string): KfpRun =>
  JSON.parse(readFileSync(new URL(`../../src/kfp/testing/real-runs/${name}.json`, import.meta.url), 'utf8')) as KfpRun;
const VALUES = [{ name: 'measure', task: 'measure' }, { name: 'summarise', task: 'summarise' }];

test('Argo node ids are the workflow name and the FNV-1a hash of the node name (as the executor pods are named)', () => {
  // The pod kubeflow-values-mslxw-system-container-impl-481855824 ran node …measure(0).executor(0).
  assert.equal(argoNodeId('kubeflow-values-mslxw', 'kubeflow-values-mslxw(0).root(0).measure(0).executor(0)'), 'kubeflow-values-mslxw-481855824');
  assert.equal(argoNodeId('kubeflow-values-mslxw', 'kubeflow-values-mslxw'), 'kubeflow-values-mslxw');
});

test('the node tree is rebuilt from the ids KFP lists: every step node and executor gets its Argo name', () => {
  const details = real('values-succeeded').run_details!.task_details!;
  const names = [...argoNodeNames(details).values()];
  for (const n of ['kubeflow-values-mslxw(0).root(0).measure', 'kubeflow-values-mslxw(0).root(0).measure(0).executor(0)',
    'kubeflow-values-mslxw(0).root(0).summarise(0).executor', 'kubeflow-values-mslxw(0).root-driver(0)']) {
    assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  }
  // The real details carry neither a parent id nor their own pod name: why the tree is rebuilt at all.
  assert.ok(details.every((d) => !d.parent_task_id && !d.pod_name));
});

test('a run that executed: each step succeeded in one attempt, with its times', () => {
  const run = real('values-succeeded');
  assert.equal(runState(run.state), 'succeeded');
  const p = stepPatches(run, VALUES);
  for (const s of ['measure', 'summarise']) {
    assert.equal(p[s].state, 'succeeded');
    assert.equal(p[s].attempts, 1);
    assert.ok(p[s].startedAt && p[s].finishedAt && p[s].startedAt <= p[s].finishedAt, JSON.stringify(p[s]));
  }
});

test('a re-submitted run is all cache hits: the step nodes SUCCEEDED, their executors SKIPPED', () => {
  const run = real('values-cached');
  assert.equal(runState(run.state), 'succeeded');
  const p = stepPatches(run, VALUES);
  assert.equal(p.measure.state, 'cached');
  assert.equal(p.summarise.state, 'cached');
  assert.equal(p.measure.attempts, undefined, 'a cache hit ran no pod');
});

test('a failing step fails, the one before it succeeded; KFP gives no error text (the step log says why)', () => {
  const run = real('failing');
  assert.equal(runState(run.state), 'failed');
  const p = stepPatches(run, [{ name: 'load', task: 'load' }, { name: 'divide', task: 'divide' }]);
  assert.equal(p.load.state, 'succeeded');
  assert.equal(p.divide.state, 'failed');
  assert.equal(p.divide.attempts, 1);
  assert.equal(p.divide.error, undefined);
});

test('a step after a failed one never started: KFP lists it with no state but with times; it is skipped, with none', () => {
  const run = real('oom');
  assert.equal(runState(run.state), 'failed');
  const p = stepPatches(run, [{ name: 'hog', task: 'hog' }, { name: 'after', task: 'after' }]);
  assert.equal(p.hog.state, 'failed');
  // An OOM kill at the memory limit: KFP has no word of it anywhere (only the pod says OOMKilled, see pod-outcome.ts).
  assert.equal(p.hog.error, undefined);
  assert.ok(!JSON.stringify(run).includes('OOM'));
  const after = run.run_details!.task_details!.find((d) => d.display_name === 'after')!;
  assert.equal(after.state, undefined);
  assert.ok(after.start_time && after.end_time, 'KFP gives it times');
  assert.deepEqual(p.after, { state: 'skipped' });
});

test('a step whose pod waits for a GPU: KFP may not list the step yet (its driver PENDING), so it is pending', () => {
  const run = real('gpu-pending');
  assert.equal(runState(run.state), 'running');
  assert.ok(!run.run_details!.task_details!.some((d) => d.display_name === 'train'), 'KFP lags the pod');
  assert.deepEqual(stepPatches(run, [{ name: 'train', task: 'train' }]), { train: { state: 'pending' } });
});

test('a terminated run ends FAILED in KFP, and so do its stopped steps (even one whose pod never started): cancelled', () => {
  for (const [name, step] of [['terminated', 'slow'], ['gpu-terminated', 'train']] as const) {
    const run = real(name);
    assert.equal(run.state, 'FAILED', name);
    assert.equal(runState(run.state, true), 'cancelled', name);
    assert.equal(runState(run.state), 'failed', `${name}: not terminated by cellpipe, a failure`);
    // The step's own state: FAILED as KFP has it; the watcher makes it cancelled (runtimes/kubeflow/real-states.test.ts).
    assert.equal(stepPatches(run, [{ name: step, task: step }], true)[step].state, 'failed', name);
  }
  assert.equal(stepPatches(real('terminated'), [{ name: 'slow', task: 'slow' }, { name: 'after', task: 'after' }], true).after.state, 'skipped');
});

test('a run KFP\'s scheduled-workflow controller made: its workflow is named after the schedule, not the pipeline; its steps read as any run\'s', () => {
  const run = real('scheduled');
  assert.ok(run.recurring_run_id, 'the run names its schedule');
  assert.match(run.display_name ?? '', /^kubeflow-values\w+-1-\d+$/, 'the display name is the Workflow\'s');
  assert.equal(runState(run.state), 'succeeded');
  const p = stepPatches(run, VALUES);
  assert.equal(p.measure.state, 'succeeded');
  assert.equal(p.summarise.state, 'succeeded');
  assert.equal(p.measure.attempts, 1);
});
