/**
 * What the watcher writes into a run's record from KFP runs as KFP 2.17.0's own stack reported them
 * (src/kfp/testing/real-runs/, recorded by kfp-stack.test.ts): a terminated run's steps end cancelled, whatever the
 * record last said of them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KfpRun } from '../../kfp/client.js';
import { KfpClient } from '../../kfp/client.js';
import { staticEndpoint } from '../../kfp/endpoint.js';
import { RunStore, pendingStep } from '../../runs/store.js';
import type { RunRecord, StepState } from '../../runs/types.js';
import { KubeflowRuntime } from './runtime.js';
import { applyKfpRun } from './watch.js';

const real = (name: string): KfpRun =>
  JSON.parse(readFileSync(new URL(`../../../src/kfp/testing/real-runs/${name}.json`, import.meta.url), 'utf8')) as KfpRun;

let dir: string;
let runtime: KubeflowRuntime;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cellpipe-real-states-'));
  // Nothing is asked of KFP or the cluster: the run is given.
  runtime = new KubeflowRuntime({ store: new RunStore(dir), profile: { name: 'k', namespace: 'kubeflow' }, client: new KfpClient(staticEndpoint('http://127.0.0.1:9')), kube: null });
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function recorded(id: string, steps: Record<string, StepState>, run: KfpRun): Promise<RunRecord> {
  const record: RunRecord = {
    id, notebook: 'gpu.ipynb', notebookHash: '', specHash: '', runtime: 'kubeflow', profile: 'k', parameters: {}, state: 'running',
    createdAt: '2026-12-07T23:28:45Z', startedAt: '2026-12-07T23:28:46Z', cancelRequestedAt: '2026-12-07T23:29:10Z',
    steps: Object.entries(steps).map(([name, state]) => ({ ...pendingStep(name), state })),
    external: { kfpRunId: run.run_id, namespace: 'kubeflow', pipelineId: '', pipelineVersionId: '' },
  };
  await runtime.store.create(record);
  return record;
}

test('cancelled while its pod waited for a GPU: KFP ends the step FAILED; the record says cancelled, whether it last said running or pending', async () => {
  const run = real('gpu-terminated');
  for (const before of ['running', 'pending'] as const) {
    const { record } = await applyKfpRun(runtime, await recorded(`gpu-${before}`, { train: before }, run), run);
    assert.equal(record.state, 'cancelled', before);
    assert.equal(record.reason, 'terminated');
    assert.equal(record.steps[0].state, 'cancelled', `a step the record had ${before}`);
  }
});

test('a step that had failed before the cancel stays failed', async () => {
  const run = real('gpu-terminated');
  const { record } = await applyKfpRun(runtime, await recorded('gpu-failed', { train: 'failed' }, run), run);
  assert.equal(record.steps[0].state, 'failed');
});
