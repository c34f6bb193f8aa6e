/**
 * Kubeflow runs on KFP 2.17.0's own stack (scripts/test-kfp.sh: `cluster.sh start --kfp`): cellpipe builds the step
 * images and submits through KFP's real API server; Argo's controller runs the workflow, KFP's driver resolves the
 * inputs through ML Metadata, KFP's launcher runs the step in its image and moves the values between steps through
 * SeaweedFS, and the persistence agent writes the `run_details` cellpipe reads. Nothing here is a stand-in.
 * Skipped unless the stack's environment is set (CELLPIPE_KFP_HOST, CELLPIPE_PROFILES from `cluster.sh env`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KfpClient } from '../../kfp/client.js';
import { manySteps } from '../../kfp/testing/many-steps.js';
import { connect } from '../../kube/connect.js';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { loadProfile, type Profile } from '../../kube/profile.js';
import { RunStore } from '../../runs/store.js';
import type { RunRecord } from '../../runs/types.js';
import { KubeflowRuntime } from './runtime.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
const NOTEBOOKS = join(REPO, 'test/e2e/notebooks');
const stack = process.env.CELLPIPE_KFP_HOST && process.env.CELLPIPE_PROFILES ? undefined : 'needs KFP\'s stack (scripts/test-kfp.sh)';
/** A run on the real stack: driver, launcher and executor pods per step on a shared 2-core machine. */
const RUN_LIMIT_MS = 240_000;

async function withLimit<T>(p: Promise<T>, what: string, ms = RUN_LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms / 1000}s`)), ms)));
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function logText(runtime: KubeflowRuntime, runId: string, step: string): Promise<string> {
  const lines: string[] = [];
  for await (const l of runtime.logs(runId, step)) lines.push(l.text);
  return lines.join('\n');
}

function states(r: RunRecord): Record<string, string> {
  return Object.fromEntries(r.steps.map((s) => [s.name, s.state]));
}

describe('Kubeflow runs on KFP 2.17\'s own stack', { skip: stack, concurrency: false }, () => {
  let profile: Profile;
  let dir: string;
  let runtime: KubeflowRuntime;
  before(async () => {
    profile = await loadProfile('test');
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-stack-'));
    runtime = new KubeflowRuntime({ store: new RunStore(dir), profile });
    // What the runtime could not do (read pod logs, reach KFP) is printed: a failing assertion alone would hide it.
    runtime.on('warning', (runId, message) => console.log(`warning (run ${runId}): ${message}`));
  });
  after(async () => {
    await runtime?.stopWatching();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a built notebook runs: the value one step computes reaches the next through KFP\'s artifacts; a re-submit is all cache hits', async () => {
    const nb = join(NOTEBOOKS, 'kubeflow_values.ipynb');
    const first = await runtime.submitNotebook({ notebookPath: nb, watch: false });
    const done = await withLimit(runtime.watch(first.runId), 'the first run');
    assert.equal(done.state, 'succeeded', JSON.stringify(done.steps, null, 1));
    assert.deepEqual(states(done), { measure: 'succeeded', summarise: 'succeeded' });
    // 3 × (2, 3, 5, 7, 11) → mean 16.8, computed in `summarise` from what `measure` stored.
    assert.match(await logText(runtime, first.runId, 'summarise'), /mean reading from measure: 16\.8/);
    assert.match(await logText(runtime, first.runId, 'measure'), /measured 5 readings/);
    for (const s of done.steps) assert.ok(s.pod, `step ${s.name} names its pod`);

    const again = await runtime.submitNotebook({ notebookPath: nb, watch: false });
    assert.equal(again.upload.pipelineVersionId, first.upload.pipelineVersionId, 'the same spec, the same version');
    const cached = await withLimit(runtime.watch(again.runId), 'the re-submitted run');
    assert.equal(cached.state, 'succeeded');
    assert.deepEqual(states(cached), { measure: 'cached', summarise: 'cached' });
  });

  test('a failing step fails the run with the cell that raised; the step after it never runs', async () => {
    const r = await runtime.submitNotebook({ notebookPath: join(NOTEBOOKS, 'failing.ipynb'), watch: false });
    const done = await withLimit(runtime.watch(r.runId), 'the failing run');
    assert.equal(done.state, 'failed');
    const divide = done.steps.find((s) => s.name === 'divide')!;
    assert.equal(divide.state, 'failed');
    assert.equal(done.steps.find((s) => s.name === 'load')!.state, 'succeeded');
    assert.match(await logText(runtime, r.runId, 'divide'), /ZeroDivisionError/);
    // KFP's task details carry no error text: the step's log names the cell that raised.
    assert.match(divide.error?.message ?? '', /ZeroDivisionError/, 'the step says why');
    assert.equal(divide.error?.cell, 1, 'the cell that raised (0-based: cell 2 as JupyterLab shows it)');
  });

  test('a plain spec of 20 steps (no images: the step runtime mounted from its ConfigMap) runs to its end within Argo\'s Workflow size limit', async () => {
    const nb = join(dir, 'twenty.ipynb');
    writeFileSync(nb, manySteps(20));
    const r = await runtime.submitNotebook({ notebookPath: nb, images: 'inline', watch: false });
    assert.ok(r.yaml.length < 80_000, `a small spec (${r.yaml.length} bytes)`);
    const done = await withLimit(runtime.watch(r.runId), 'the 20-step run', 600_000);
    assert.equal(done.state, 'succeeded', JSON.stringify(states(done)));
    assert.equal(done.steps.length, 20);
    for (const s of done.steps) assert.equal(s.state, 'succeeded', s.name);
    assert.match(await logText(runtime, r.runId, 's19'), /step 19: 25/);
    // What Argo keeps of the run (its 1 MiB limit applies to this object's JSON, node statuses gzip'd when needed).
    const conn = connect({ ...profile, namespace: done.external?.namespace ?? profile.namespace });
    const list = await conn.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: conn.namespace, plural: 'workflows', labelSelector: `pipeline/runid=${done.external!.kfpRunId}` }) as { items: { status?: { compressedNodes?: string } }[] };
    const wf = list.items[0];
    console.log(`20-step plain spec: spec ${(r.yaml.length / 1024).toFixed(0)} KB, Workflow ${(JSON.stringify(wf).length / 1024).toFixed(0)} KB${wf?.status?.compressedNodes ? ' (node statuses compressed)' : ''}`);
  });

  test("a run nobody watched: once its pods are deleted, its steps' logs are read back from KFP's object store (SeaweedFS)", async () => {
    // The stack's SeaweedFS, and the namespace's mlpipeline-minio-artifact Secret its launcher uploads with.
    const withStore: Profile = { ...profile, kfp: { ...profile.kfp, objectStore: { endpoint: process.env.CELLPIPE_KFP_S3 } } };
    const reader = new KubeflowRuntime({ store: new RunStore(dir), profile: withStore });
    const warnings: string[] = [];
    reader.on('warning', (_id, message) => warnings.push(message));
    // Cache off: a cached step runs no executor, so KFP would have no log of it.
    const r = await reader.submitNotebook({ notebookPath: join(NOTEBOOKS, 'kubeflow_values.ipynb'), watch: false, select: { noCache: true } });
    const kfpRunId = r.record.external!.kfpRunId!;
    const client = new KfpClient((await reader.kfp()).endpoint);
    await withLimit((async () => {
      for (;;) {
        const state = (await client.getRun(kfpRunId)).state;
        if (state && ['SUCCEEDED', 'FAILED', 'CANCELED', 'SKIPPED'].includes(state)) return;
        await new Promise((res) => setTimeout(res, 2000));
      }
    })(), 'the unwatched run');
    const conn = connect({ ...profile, namespace: r.record.external?.namespace ?? profile.namespace });
    await conn.core.deleteCollectionNamespacedPod({ namespace: conn.namespace, labelSelector: `pipeline/runid=${kfpRunId}` });
    const done = (await reader.refresh(r.runId)).record;
    assert.equal(done.state, 'succeeded', JSON.stringify(states(done)));
    assert.deepEqual(warnings, []);
    const measure = await logText(reader, r.runId, 'measure');
    assert.match(measure, /^this log was read back from KFP's object store: the step's pod log was not followed\n/);
    assert.match(measure, /measured 5 readings/);
    assert.match(await logText(reader, r.runId, 'summarise'), /mean reading from measure: 16\.8/);
  });

  test('terminate: a running step is cancelled, the step after it never starts', async () => {
    const r = await runtime.submitNotebook({ notebookPath: join(NOTEBOOKS, 'long_running.ipynb'), watch: false });
    const watching = runtime.watch(r.runId);
    const client = new KfpClient((await runtime.kfp()).endpoint);
    // Cancel once the slow step's pod prints: it really runs.
    await withLimit((async () => {
      for (;;) {
        if (/tick 2/.test(await logText(runtime, r.runId, 'slow'))) return;
        await new Promise((res) => setTimeout(res, 500));
      }
    })(), 'the slow step printing');
    await runtime.cancel(r.runId);
    const done = await withLimit(watching, 'the terminated run');
    assert.equal(done.state, 'cancelled');
    assert.equal(done.steps.find((s) => s.name === 'slow')!.state, 'cancelled');
    assert.notEqual(done.steps.find((s) => s.name === 'after')!.state, 'succeeded');
    const kfpRun = await client.getRun(done.external!.kfpRunId!);
    assert.ok(['CANCELED', 'FAILED', 'CANCELING'].includes(kfpRun.state ?? ''), `KFP says ${kfpRun.state}`);
  });
});
