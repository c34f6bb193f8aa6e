/**
 * The KFP client against KFP 2.17.0's own API server (`kfp-real serve`: KFP's handlers, storage code and marshaler
 * over in-memory stores), started by this test: health, find-or-create experiments, upload / upload_version with
 * reuse of an identical spec, runs with runtime parameters, get / list / terminate, and KFP's own error answers.
 * What only a running cluster gives (task states, progress) stays with the fake (client.test.ts, runtime tests).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileNotebook } from '../core/compile.js';
import { KfpClient } from './client.js';
import { staticEndpoint } from './endpoint.js';
import { KfpError } from './errors.js';
import { startKfpReal, type KfpRealServer } from './testing/kfp-real.js';
import { CANDIES, REPO } from '../runs/testing.js';
import { RunStore } from '../runs/store.js';
import { KubeflowRuntime } from '../runtimes/kubeflow/runtime.js';

const ALL_OPTIONS = join(REPO, 'test/fixtures/notebooks/all_options.ipynb');

function compiled(path: string, text = readFileSync(path, 'utf8')) {
  const r = compileNotebook(text, { path: 'nb.ipynb' });
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  return { yaml: r.yaml!, hash: r.specHash! };
}

async function rejectsKfp(p: Promise<unknown>, kind: string, check: (e: KfpError) => void = () => {}): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KfpError, `expected a KfpError, got ${(err as Error)?.stack}`);
    assert.equal(err.kind, kind, err.describe());
    assert.doesNotMatch(err.message, /github\.com\/|\.go:\d+/, 'no Go stack trace in messages');
    check(err);
    return true;
  });
}

describe('KFP client against KFP\'s own API server (kfp-real serve)', () => {
  let kfp: KfpRealServer;
  let client: KfpClient;
  before(async () => {
    kfp = await startKfpReal();
    client = new KfpClient(staticEndpoint(kfp.url, { profile: 'real' }));
  });
  after(async () => {
    await kfp?.stop();
  });

  test('healthz: single-user KFP', async () => {
    const h = await client.healthz();
    assert.equal(h.multi_user, false);
    assert.equal(h.pipeline_store, 'database');
  });

  test('experiments: found by name or created once, also when two submits race', async () => {
    const [a, b] = await Promise.all([client.ensureExperiment('race'), client.ensureExperiment('race')]);
    assert.equal(a.experiment_id, b.experiment_id, 'the loser of the 409 finds the winner\'s experiment');
    assert.equal((await client.ensureExperiment('race')).experiment_id, a.experiment_id);
    assert.equal(a.last_run_created_at, '1970-01-01T00:00:00Z', 'KFP writes unset timestamps as 1970, not absent');
    assert.notEqual((await client.ensureExperiment('Default')).experiment_id, a.experiment_id, 'KFP\'s own Default experiment is found');
  });

  test('upload: a new pipeline, the same spec reused, a changed spec a new version, the first spec found again', async () => {
    const first = compiled(CANDIES);
    const changedText = readFileSync(CANDIES, 'utf8').replace('CANDIES = 20', 'CANDIES = 21');
    const second = compiled(CANDIES, changedText);
    assert.notEqual(first.hash, second.hash);
    const a = await client.ensurePipelineVersion(first.yaml, first.hash, { name: 'candies-sharing', description: 'kids and candies' });
    assert.equal(a.action, 'pipeline');
    const again = await client.ensurePipelineVersion(first.yaml, first.hash, { name: 'candies-sharing' });
    assert.deepEqual(again, { ...a, action: 'reused' });
    const b = await client.ensurePipelineVersion(second.yaml, second.hash, { name: 'candies-sharing' });
    assert.equal(b.action, 'version');
    assert.equal(b.pipelineId, a.pipelineId);
    assert.notEqual(b.pipelineVersionId, a.pipelineVersionId);
    assert.equal((await client.ensurePipelineVersion(first.yaml, first.hash, { name: 'candies-sharing' })).pipelineVersionId, a.pipelineVersionId);
    const versions = await client.listPipelineVersions(a.pipelineId);
    assert.deepEqual(versions.map((v) => v.pipeline_version_id).sort(), [a.pipelineVersionId, b.pipelineVersionId].sort());
    assert.ok(versions.every((v) => v.pipeline_spec && typeof v.pipeline_spec === 'object'), 'KFP lists versions with their spec');
  });

  test('a spec with a Kubernetes platform document uploads; KFP keeps both documents', async () => {
    const spec = compiled(ALL_OPTIONS);
    const v = await client.ensurePipelineVersion(spec.yaml, spec.hash, { name: 'all-options' });
    const [version] = await client.listPipelineVersions(v.pipelineId);
    assert.deepEqual(Object.keys(version.pipeline_spec!).sort(), ['pipeline_spec', 'platform_spec']);
  });

  test('a second upload of the same pipeline name is a conflict (409) with KFP\'s message and no stack trace', async () => {
    const spec = compiled(CANDIES);
    await client.uploadPipeline(spec.yaml, { name: 'twice', description: 'd' });
    await rejectsKfp(client.uploadPipeline(spec.yaml, { name: 'twice', description: 'd' }), 'conflict', (e) => {
      assert.equal(e.status, 409);
      assert.match(e.message, /Failed to create a pipeline and a pipeline version/);
    });
  });

  test('a spec that is not valid YAML is refused before it is sent (KFP 2.17 itself never answers such an upload)', async () => {
    const broken = 'pipelineInfo: {name: p\nroot: [\n';
    await rejectsKfp(client.uploadPipeline(broken, { name: 'broken', description: 'd' }), 'invalid', (e) => {
      assert.match(e.message, /not valid YAML.*it was not sent/);
      assert.doesNotMatch(e.message, /kfp-real:/, 'refused by cellpipe, not by the server');
    });
    const spec = compiled(CANDIES);
    const v = await client.ensurePipelineVersion(spec.yaml, spec.hash, { name: 'candies-sharing' });
    await rejectsKfp(client.uploadPipelineVersion(v.pipelineId, broken, { name: 'b', description: 'd' }), 'invalid', (e) => assert.match(e.message, /not valid YAML/));
    assert.equal(await client.findPipeline('broken'), undefined);
  });

  test('runs: created with runtime parameters, read back, listed, terminated; wrong parameters get KFP\'s error', async () => {
    const spec = compiled(CANDIES);
    const exp = await client.ensureExperiment('runs');
    const v = await client.ensurePipelineVersion(spec.yaml, spec.hash, { name: 'candies-sharing' });
    const input = { displayName: 'r1', experimentId: exp.experiment_id, pipelineId: v.pipelineId, pipelineVersionId: v.pipelineVersionId };
    const run = await client.createRun({ ...input, parameters: { CANDIES: 7 } });
    assert.equal(run.state, 'PENDING');
    assert.deepEqual(run.runtime_config?.parameters, { CANDIES: 7 });
    assert.equal(run.finished_at, '1970-01-01T00:00:00Z', 'an unfinished run has a 1970 finished_at');
    const got = await client.getRun(run.run_id);
    assert.equal(got.experiment_id, exp.experiment_id);
    assert.deepEqual(got.pipeline_version_reference, { pipeline_id: v.pipelineId, pipeline_version_id: v.pipelineVersionId });
    const listed = await client.listRuns({ experimentId: exp.experiment_id });
    assert.deepEqual(listed.runs.map((r) => r.run_id), [run.run_id]);
    await client.terminateRun(run.run_id);
    assert.equal((await client.getRun(run.run_id)).state, 'CANCELING', 'KFP marks a terminated run CANCELING (the cluster then ends it)');
    await rejectsKfp(client.terminateRun(run.run_id), 'invalid', (e) => assert.match(e.message, /Failed to terminate/));

    await rejectsKfp(client.createRun({ ...input, parameters: { CANDIES: 'many' } }), 'invalid', (e) =>
      assert.match(e.message, /input parameter CANDIES requires type double or integer/));
    await rejectsKfp(client.createRun({ ...input, parameters: { CANDIES: 1, nope: 1 } }), 'invalid', (e) =>
      assert.match(e.message, /not required by pipeline: nope/));
    await rejectsKfp(client.getRun('00000000-0000-0000-0000-00000000dead'), 'not-found', (e) => assert.match(e.message, /not found/));
  });

  test('the Kubeflow runtime submits a notebook to it (upload, experiment, a run with the notebook\'s parameters) and cancels it, twice', async () => {
    const store = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-real-store-'));
    try {
      const runtime = new KubeflowRuntime({ store: new RunStore(store), profile: { name: 'real', namespace: 'kubeflow', kfp: { host: kfp.url, auth: 'none' } }, kube: null });
      const r = await runtime.submitNotebook({ notebookPath: ALL_OPTIONS, images: 'inline', watch: false, parameterTexts: { epochs: '5', name: 'b' } });
      const run = await client.getRun(r.record.external!.kfpRunId!);
      assert.equal(run.runtime_config!.parameters!.epochs, 5);
      assert.equal(run.runtime_config!.parameters!.name, 'b');
      assert.equal(run.state, 'PENDING');
      const again = await runtime.submitNotebook({ notebookPath: ALL_OPTIONS, images: 'inline', watch: false });
      assert.equal(again.upload.action, 'reused');
      assert.equal(again.upload.pipelineVersionId, r.upload.pipelineVersionId);
      await runtime.cancel(r.runId);
      assert.equal((await client.getRun(r.record.external!.kfpRunId!)).state, 'CANCELING');
      await runtime.cancel(r.runId); // KFP answers 400 to a second terminate; the run is already being cancelled
      await rejectsKfp(client.terminateRun(r.record.external!.kfpRunId!), 'invalid');
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });
});

describe('KFP client against KFP\'s own API server in multi-user mode (kfp-real serve --multi-user)', () => {
  // kfp-real's Kubernetes is fake: any bearer token authenticates and every namespace is allowed, so 403s stay with
  // the fake (client.test.ts); what KFP itself decides — identity required, namespaces required — is tested here.
  let kfp: KfpRealServer;
  before(async () => {
    kfp = await startKfpReal({ multiUser: true });
  });
  after(async () => {
    await kfp?.stop();
  });

  test('no credentials → 401 explained; no namespace → the profile namespace is asked for', async () => {
    const anonymous = new KfpClient(staticEndpoint(kfp.url, { profile: 'mu' }));
    assert.equal((await anonymous.healthz()).multi_user, true);
    await rejectsKfp(anonymous.ensureExperiment('x', 'team-a'), 'unauthorized', (e) => assert.match(e.message, /401 Unauthorized/));
    const noNamespace = new KfpClient(staticEndpoint(kfp.url, { token: 'tok', profile: 'mu' }));
    await rejectsKfp(noNamespace.ensureExperiment('x'), 'namespace', (e) => {
      assert.match(e.message, /empty namespace in multi-user mode/);
      assert.match(e.hint, /set 'namespace' of profile 'mu'/);
    });
  });

  test('namespaced: experiment, upload, version reuse and a run in the profile namespace', async () => {
    const client = new KfpClient(staticEndpoint(kfp.url, { token: 'tok', namespace: 'team-a', profile: 'mu' }));
    const exp = await client.ensureExperiment('mu-exp', 'team-a');
    assert.equal(exp.namespace, 'team-a');
    assert.equal((await client.ensureExperiment('mu-exp', 'team-a')).experiment_id, exp.experiment_id);
    const spec = compiled(CANDIES);
    const v = await client.ensurePipelineVersion(spec.yaml, spec.hash, { name: 'candies-sharing', namespace: 'team-a' });
    assert.equal(v.action, 'pipeline');
    assert.equal((await client.ensurePipelineVersion(spec.yaml, spec.hash, { name: 'candies-sharing', namespace: 'team-a' })).action, 'reused');
    assert.equal((await client.findPipeline('candies-sharing', 'team-b')), undefined, 'pipelines are per namespace');
    const run = await client.createRun({ displayName: 'r', experimentId: exp.experiment_id, pipelineId: v.pipelineId, pipelineVersionId: v.pipelineVersionId, parameters: { CANDIES: 3 } });
    assert.deepEqual((await client.listRuns({ namespace: 'team-a' })).runs.map((r) => r.run_id), [run.run_id]);
  });
});
