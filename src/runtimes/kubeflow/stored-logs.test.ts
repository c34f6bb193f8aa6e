/**
 * A Kubeflow run's step logs read back from KFP's object store when the run ends and no pod log was stored, through
 * the runtime's own paths (`refresh`, as `cellpipe status` and the page's refresh do): the swagger-checked fake KFP
 * runs the pipeline, and a small S3 stand-in serves the objects as KFP's launcher lays them out. The reader itself
 * is tested against a real SeaweedFS in kfp/object-store.test.ts; the stand-in checks only that each request is
 * signed with the access key the namespace gives.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { FakeKfpServer } from '../../kfp/testing/fake-server.js';
import { S3StandIn } from '../../kfp/testing/s3-stand-in.js';
import { KfpClient } from '../../kfp/client.js';
import { staticEndpoint } from '../../kfp/endpoint.js';
import { RunStore, isTerminalRun } from '../../runs/store.js';
import { readStepCellOutputs } from '../../runs/outputs.js';
import type { Profile } from '../../kube/profile.js';
import type { RunRecord } from '../../runs/types.js';
import { KubeflowRuntime } from './runtime.js';
import type { ObjectStoreAccess } from './stored-logs.js';

const FAILING = new URL('../../../test/e2e/notebooks/failing.ipynb', import.meta.url).pathname;
/** Step images as built ones are named (nothing here pulls them): the spec stays small, no runtime inlined. */
const IMAGES = { load: `registry.example.com/steps@sha256:${'1'.repeat(64)}`, divide: `registry.example.com/steps@sha256:${'2'.repeat(64)}` };
const ACCESS: ObjectStoreAccess = { credentials: { accessKey: 'team-a-key', secretKey: 'team-a-secret' } };

/** The lines the step runtime writes for a step's cell outputs (`--cell-outputs-log`): zlib + base64 chunks. */
function cellOutputLines(doc: unknown): string[] {
  const chunks = deflateSync(Buffer.from(JSON.stringify(doc))).toString('base64').match(/.{1,40}/g)!;
  return chunks.map((c, i) => `[cellpipe] cell-outputs ${i + 1}/${chunks.length} ${c}`);
}

async function lines(store: RunStore, runId: string, step: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of store.readLogs(runId, step)) out.push(`${l.stream}: ${l.text}`);
  return out;
}

describe('Kubeflow runs: step logs read back from KFP\'s object store', () => {
  let fake: FakeKfpServer;
  let s3: S3StandIn;
  const cleanups: (() => void)[] = [];
  before(async () => {
    fake = new FakeKfpServer({ validateSpecs: false, failTasks: ['divide'] });
    await fake.start();
    s3 = new S3StandIn(ACCESS.credentials.accessKey);
    await s3.start();
  });
  after(async () => {
    for (const c of cleanups) c();
    await fake.close();
    await s3.close();
  });

  function setup(kfp: Record<string, unknown> = { objectStore: { endpoint: s3.url } }, access: (ns: string) => Promise<ObjectStoreAccess> = async () => ACCESS, kfpServer = fake) {
    const dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-readback-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = new RunStore(dir);
    const profile: Profile = { name: 'test', namespace: 'team-a', kfp: { host: kfpServer.url, ...kfp } };
    const client = new KfpClient(staticEndpoint(kfpServer.url, { namespace: 'team-a', profile: 'test' }), { timeoutMs: 2000 });
    const runtime = new KubeflowRuntime({ store, profile, client, kube: null, objectStoreAccess: access });
    const warnings: string[] = [];
    runtime.on('warning', (_id, m) => warnings.push(m));
    return { store, runtime, warnings };
  }

  /** Submits failing.ipynb without watching it (no pod is followed), then refreshes it until KFP says it ended. */
  async function runUnwatched(runtime: KubeflowRuntime, beforeEnd?: (r: RunRecord) => Promise<void>): Promise<RunRecord> {
    const { runId, record } = await runtime.submitNotebook({ notebookPath: FAILING, images: IMAGES, watch: false });
    await beforeEnd?.(record);
    for (let i = 0; i < 50; i++) {
      const { record: now } = await runtime.refresh(runId);
      if (isTerminalRun(now.state)) return now;
    }
    throw new Error('the fake run did not end');
  }

  /** Puts the two steps' executor logs where KFP's launcher would, under `root` (the pipeline root's prefix). */
  function upload(kfpRunId: string, pipeline: string, root = 'v2/artifacts') {
    const outputs = { format: 'cellpipe.cell-outputs/v1', step: 'load', cells: { '0': { id: 'c0', executionCount: 1, outputs: [{ output_type: 'stream', name: 'stdout', text: 'loaded 10\n' }] } } };
    s3.objects.set(`${root}/${pipeline}/${kfpRunId}/load/2d6f0a8e/executor-logs-0`, ['loaded 10', ...cellOutputLines(outputs), ''].join('\n'));
    s3.objects.set(`${root}/${pipeline}/${kfpRunId}/load/2d6f0a8e/total`, '10');
    s3.objects.set(`${root}/${pipeline}/${kfpRunId}/divide/7c1e55aa/executor-logs-0`, [
      'dividing',
      'Traceback (most recent call last):',
      'ZeroDivisionError: division by zero',
      '[cellpipe] step divide failed in cell 2 ("print(\'dividing\')"), line 2: ZeroDivisionError: division by zero',
      '',
    ].join('\n'));
    return outputs;
  }

  test('a run nobody watched ends: each step that ran gets its log, its cell outputs and why it failed, as from its pod', async () => {
    const { store, runtime, warnings } = setup();
    let outputs: unknown;
    const done = await runUnwatched(runtime, async (r) => void (outputs = upload(r.external!.kfpRunId, r.external!.pipelineName!)));
    assert.equal(done.state, 'failed', 'the run ends as KFP says, with its logs');
    assert.deepEqual(warnings, []);
    const readBack = "system: this log was read back from KFP's object store: the step's pod log was not followed";
    assert.deepEqual(await lines(store, done.id, 'load'), [readBack, 'stdout: loaded 10'], 'the cell outputs are not log lines');
    assert.deepEqual(readStepCellOutputs(store, done, 'load')?.cells, (outputs as { cells: unknown }).cells, 'the outputs are where a local step writes them');
    assert.match((await lines(store, done.id, 'divide')).join('\n'), /stdout: dividing\n.*\nstdout: ZeroDivisionError: division by zero/);
    const divide = done.steps.find((s) => s.name === 'divide')!;
    assert.equal(divide.error?.type, 'ZeroDivisionError', 'the failure line is the step\'s error, as from a pod log');
    assert.equal(divide.error?.cell, 1);
    // Signed with the namespace's access key for KFP's signing region; the steps' folders only.
    const asked = s3.requests.filter((q) => q.prefix?.includes(done.external!.kfpRunId));
    assert.deepEqual(asked.map((q) => q.prefix!.split('/').slice(-2, -1)[0]).sort(), ['divide', 'load']);
    assert.ok(asked.every((q) => /\/minio\/s3\/aws4_request, SignedHeaders=/.test(q.authorization ?? '')), asked[0]?.authorization);
    // The run's end is recorded once: asking again reads nothing again.
    const before = s3.requests.length;
    await runtime.refresh(done.id);
    assert.equal(s3.requests.length, before);
  });

  test('a step whose pod log was stored is not read again; a record from before the pipeline\'s name was kept asks KFP for it', async () => {
    const { store, runtime, warnings } = setup();
    const done = await runUnwatched(runtime, async (r) => {
      upload(r.external!.kfpRunId, r.external!.pipelineName!);
      await store.appendLog(r.id, 'load', { time: new Date().toISOString(), stream: 'stdout', text: 'loaded 10 (from the pod)' });
      const { pipelineName: _dropped, ...older } = r.external!;
      await store.update(r.id, { external: older });
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(await lines(store, done.id, 'load'), ['stdout: loaded 10 (from the pod)']);
    assert.match((await lines(store, done.id, 'divide')).join('\n'), /ZeroDivisionError/);
    assert.ok(!s3.requests.some((q) => q.prefix?.includes(`${done.external!.kfpRunId}/load/`)), 'load\'s folder was not listed');
  });

  test("where the run's artifacts are: the run's own pipeline root first, else the namespace launcher's (multi-user)", async () => {
    const launcher = setup(undefined, async () => ({ ...ACCESS, defaultPipelineRoot: 'minio://mlpipeline/private-artifacts/team-a/v2/artifacts' }));
    const a = await runUnwatched(launcher.runtime, async (r) => void upload(r.external!.kfpRunId, r.external!.pipelineName!, 'private-artifacts/team-a/v2/artifacts'));
    assert.deepEqual(launcher.warnings, []);
    assert.match((await lines(launcher.store, a.id, 'load')).join('\n'), /loaded 10/);

    const own = setup({ objectStore: { endpoint: s3.url }, pipelineRoot: 'minio://mlpipeline/team-runs' }, async () => ({ ...ACCESS, defaultPipelineRoot: 'minio://mlpipeline/elsewhere' }));
    const b = await runUnwatched(own.runtime, async (r) => void upload(r.external!.kfpRunId, r.external!.pipelineName!, 'team-runs'));
    assert.deepEqual(own.warnings, []);
    assert.match((await lines(own.store, b.id, 'load')).join('\n'), /loaded 10/);
  });

  test('a log KFP did not upload is said per step, naming where it was looked for', async () => {
    const { store, runtime, warnings } = setup();
    const done = await runUnwatched(runtime, async (r) => {
      upload(r.external!.kfpRunId, r.external!.pipelineName!);
      s3.objects.delete(`v2/artifacts/${r.external!.pipelineName}/${r.external!.kfpRunId}/divide/7c1e55aa/executor-logs-0`);
    });
    assert.match((await lines(store, done.id, 'load')).join('\n'), /loaded 10/);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], new RegExp(`^no log in the object store ${s3.url} \\(bucket mlpipeline\\) for divide \\(under v2/artifacts/[^ ]+/${done.external!.kfpRunId}/divide/\\)`));
  });

  test('an unreachable store, or no access to it, is a warning on the run: the run ends as KFP says', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const down = setup({ objectStore: { endpoint: `http://127.0.0.1:${port}` } });
    const t0 = Date.now();
    const a = await runUnwatched(down.runtime);
    assert.equal(a.state, 'failed', 'as KFP says (divide failed), not because of the logs');
    assert.ok(Date.now() - t0 < 20_000, `no long wait: ${Date.now() - t0} ms`);
    assert.equal(down.warnings.length, 1, down.warnings.join('\n'));
    assert.match(down.warnings[0], new RegExp(`^the steps' logs could not be read back from KFP's object store: listing v2/artifacts/\\S+ in the object store http://127\\.0\\.0\\.1:${port} \\(bucket mlpipeline\\): ECONNREFUSED — check 'kfp\\.objectStore\\.endpoint'`));

    const noSecret = setup(undefined, async () => {
      throw Object.assign(new Error('Secret team-a/mlpipeline-minio-artifact: not found'), { hint: 'check the name and namespace' });
    });
    const b = await runUnwatched(noSecret.runtime);
    assert.equal(b.state, 'failed');
    assert.deepEqual(noSecret.warnings, ["the steps' logs could not be read back from KFP's object store: Secret team-a/mlpipeline-minio-artifact: not found — check the name and namespace"]);
  });

  test('the run\'s end recorded twice at once (the page refreshing while a slow read-back runs): each line is stored once', async () => {
    const manual = new FakeKfpServer({ validateSpecs: false, progress: 'manual' });
    await manual.start();
    try {
      const { store, runtime, warnings } = setup(undefined, undefined, manual);
      const { runId, record } = await runtime.submitNotebook({ notebookPath: FAILING, images: IMAGES, watch: false });
      const kfpRunId = record.external!.kfpRunId!;
      upload(kfpRunId, record.external!.pipelineName!);
      manual.setRunState(kfpRunId, 'SUCCEEDED', { load: 'SUCCEEDED', divide: 'SUCCEEDED' });
      s3.delayMs = 100;
      const [a, b] = await Promise.all([runtime.refresh(runId), runtime.status(runId)]);
      assert.equal(a.record.state, 'succeeded');
      assert.equal(b.state, 'succeeded');
      assert.deepEqual(warnings, []);
      assert.deepEqual(await lines(store, runId, 'load'), ["system: this log was read back from KFP's object store: the step's pod log was not followed", 'stdout: loaded 10']);
    } finally {
      s3.delayMs = 0;
      await manual.close();
    }
  });

  test('a profile without kfp.objectStore reads nothing back: no request, no access asked', async () => {
    const { store, runtime, warnings } = setup({}, async () => assert.fail('the access must not be asked for'));
    const before = s3.requests.length;
    const done = await runUnwatched(runtime);
    assert.equal(s3.requests.length, before);
    assert.deepEqual(warnings, []);
    assert.deepEqual(await lines(store, done.id, 'load'), []);
  });
});
