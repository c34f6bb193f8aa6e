/**
 * The Kubeflow runtime end to end against real parts where they exist here — a real OCI registry
 * (docker-registry) for the step images, the real KFP protos for every uploaded spec — and the swagger-checked
 * fake KFP API server (src/kfp/testing/fake-server.ts) for Kubeflow Pipelines itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKfpServer } from '../../kfp/testing/fake-server.js';
import { KfpClient } from '../../kfp/client.js';
import { staticEndpoint } from '../../kfp/endpoint.js';
import { specDocument } from '../../kfp/parameters.js';
import { RunStore } from '../../runs/store.js';
import { RegistryClient } from '../../images/registry.js';
import { pushBaseImage, startRegistry, type TestRegistry } from '../../images/testing.js';
import type { Profile } from '../../kube/profile.js';
import type { RunRecord } from '../../runs/types.js';
import { KubeflowRuntime, SubmitError, type SubmitProgress } from './runtime.js';
import { KfpParameterError } from '../../kfp/parameters.js';

const CORPUS = new URL('../../../../shared/corpus/kale/', import.meta.url).pathname;
const CANDIES = join(CORPUS, 'candies_sharing.ipynb');
const PARAMS = join(CORPUS, 'pipeline_parameters_and_metrics.ipynb');

function setup(fake: FakeKfpServer, profile: Partial<Profile> = {}, token?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-store-'));
  const store = new RunStore(dir);
  const full: Profile = { name: 'test', namespace: 'team-a', ...profile };
  const client = new KfpClient(staticEndpoint(fake.url, { namespace: 'team-a', token, profile: 'test' }), { timeoutMs: 2000 });
  const runtime = new KubeflowRuntime({ store, profile: full, client, kube: null, pollMs: 10, maxPollMs: 40, maxBackoffMs: 80 });
  return { store, runtime, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function specImages(yaml: string): string[] {
  const spec = specDocument(yaml) as { deploymentSpec: { executors: Record<string, { container: { image: string } }> } };
  return Object.values(spec.deploymentSpec.executors).map((e) => e.container.image).sort();
}

describe('Kubeflow runtime: submit with built images', () => {
  let reg: TestRegistry;
  let fake: FakeKfpServer;
  let profile: Partial<Profile>;
  before(async () => {
    reg = await startRegistry('open');
    const client = new RegistryClient(reg.clientOptions());
    await pushBaseImage(client, 'base/python', '3.12', [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }]);
    profile = { registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`, insecureRegistry: true };
    fake = new FakeKfpServer({ multiUser: true });
    await fake.start();
  });
  after(async () => {
    await fake.close();
    await reg.stop();
  });

  test('the Kale corpus notebooks submit: images by digest in the spec, the spec accepted by the KFP protos, every step succeeded', async () => {
    const { runtime, store, cleanup } = setup(fake, profile);
    for (const nb of [CANDIES, PARAMS]) {
      const stages: string[] = [];
      const r = await runtime.submitNotebook({ notebookPath: nb, watch: false, onProgress: (p: SubmitProgress) => p.state === 'done' && !p.build && stages.push(p.stage) });
      assert.deepEqual(stages, ['validate', 'build', 'upload', 'run']);
      for (const image of specImages(r.yaml)) assert.match(image, new RegExp(`^${reg.host}/team/steps@sha256:[0-9a-f]{64}$`));
      assert.equal(r.record.runtime, 'kubeflow');
      assert.equal(r.record.profile, 'test');
      assert.ok(r.record.external?.kfpRunId);
      assert.equal(r.record.url, `${fake.url}/#/runs/details/${r.record.external!.kfpRunId}`);
      const final = await runtime.watch(r.runId);
      assert.equal(final.state, 'succeeded', `${nb}: ${JSON.stringify(final)}`);
      assert.ok(final.steps.every((s) => s.state === 'succeeded' && s.attempts === 1 && s.startedAt && s.finishedAt), JSON.stringify(final.steps));
      assert.deepEqual(await store.get(r.runId), final, 'the stored record is what the watcher returned');
      // The run landed in the user's namespace through an experiment named after the notebook's setting.
      const kfpRun = fake.runs.get(r.record.external!.kfpRunId)!;
      assert.equal(kfpRun.namespace, 'team-a');
    }
    assert.equal(fake.specsValidated, 2);
    assert.deepEqual(fake.violations, []);
    cleanup();
  });

  test('an unchanged notebook reuses the pipeline version (and the images); a one-line change uploads a new version', async () => {
    const { runtime, cleanup } = setup(fake, profile);
    const text = readFileSync(CANDIES, 'utf8');
    const first = await runtime.submitNotebook({ notebookPath: CANDIES, text, watch: false });
    const again = await runtime.submitNotebook({ notebookPath: CANDIES, text, watch: false });
    assert.equal(again.upload.action, 'reused');
    assert.equal(again.upload.pipelineVersionId, first.upload.pipelineVersionId);
    assert.equal(again.record.specHash, first.record.specHash);
    const nb = JSON.parse(text);
    const cell = nb.cells.find((c: { metadata: { tags?: string[] } }) => c.metadata.tags?.includes('step:kid2'));
    cell.source = [...[cell.source].flat(), '\nprint("one more line")\n'];
    const changed = await runtime.submitNotebook({ notebookPath: CANDIES, text: JSON.stringify(nb), watch: false });
    assert.equal(changed.upload.action, 'version');
    assert.equal(changed.upload.pipelineId, first.upload.pipelineId);
    assert.notEqual(changed.upload.pipelineVersionId, first.upload.pipelineVersionId);
    // Only the changed step got a new image.
    const before = specImages(first.yaml);
    const now = specImages(changed.yaml);
    assert.equal(now.filter((i) => !before.includes(i)).length, 1);
    const versions = fake.pipelines.get(first.upload.pipelineId)!.versions;
    assert.ok(versions.at(-1)!.version.name.endsWith(changed.record.specHash.slice(0, 12)));
    assert.deepEqual(fake.violations, []);
    cleanup();
  });
});

describe('Kubeflow runtime: parameters, states, cancel, outages (programs inlined, no registry)', () => {
  let fake: FakeKfpServer;
  before(async () => {
    fake = new FakeKfpServer();
    await fake.start();
  });
  after(() => fake.close());

  test('parameter overrides reach runtime_config typed by the spec; unknown or mistyped ones fail before KFP is called', async () => {
    const { runtime, cleanup } = setup(fake);
    const r = await runtime.submitNotebook({ notebookPath: PARAMS, images: 'inline', watch: false, parameterTexts: { d1: '7', strtest: 'hello' }, parameters: { booltest: false } });
    const sent = fake.runs.get(r.record.external!.kfpRunId)!.run.runtime_config!.parameters!;
    assert.equal(sent.d1, 7);
    assert.equal(sent.strtest, 'hello');
    assert.equal(sent.booltest, false);
    assert.equal(typeof sent.d2, 'number', 'defaults are sent for the others');
    assert.deepEqual(r.record.parameters, sent);
    const runsBefore = fake.runs.size;
    await assert.rejects(runtime.submitNotebook({ notebookPath: PARAMS, images: 'inline', watch: false, parameterTexts: { nope: '1' } }), (e: unknown) =>
      e instanceof KfpParameterError && /no parameter 'nope'/.test(e.message) && /d1/.test(e.hint));
    await assert.rejects(runtime.submitNotebook({ notebookPath: PARAMS, images: 'inline', watch: false, parameterTexts: { d1: 'seven' } }), /d1 is an integer/);
    assert.equal(fake.runs.size, runsBefore);
    assert.deepEqual(fake.violations, []);
    cleanup();
  });

  test('inside a notebook pod the notebook\'s own image is the steps\' base; a user setting or the profile\'s base image wins', async () => {
    const own = `registry.example.com/team/jupyter-scipy@sha256:${'b'.repeat(64)}`;
    const dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-own-'));
    const client = new KfpClient(staticEndpoint(fake.url, { namespace: 'team-a' }));
    const make = (profile: Partial<Profile>) =>
      new KubeflowRuntime({ store: new RunStore(dir), profile: { name: 'test', namespace: 'team-a', ...profile }, client, kube: null, ownImage: async () => own });
    try {
      const inPod = await make({}).submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
      assert.deepEqual([...new Set(specImages(inPod.yaml))], [own]);
      const setting = await make({}).submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false, defaultBaseImage: 'registry.example.com/team/py:3.12' });
      assert.deepEqual([...new Set(specImages(setting.yaml))], ['registry.example.com/team/py:3.12']);
      const profiled = await make({ baseImage: 'registry.example.com/team/base:1' }).submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false, defaultBaseImage: 'registry.example.com/team/py:3.12' });
      assert.deepEqual([...new Set(specImages(profiled.yaml))], ['registry.example.com/team/base:1']);
      // The profile a notebook pod implies, with no registry: no images to build, every step on the notebook's image.
      const implied = await make({ implicit: 'notebook-pod' }).submitNotebook({ notebookPath: CANDIES, watch: false });
      assert.deepEqual([...new Set(specImages(implied.yaml))], [own]);
      assert.equal(implied.record.steps.length, 4);
      await assert.rejects(make({}).submitNotebook({ notebookPath: CANDIES, watch: false }), /has no 'registry'/, 'a written profile without a registry still says to set one');
      const outside = new KubeflowRuntime({ store: new RunStore(dir), profile: { name: 'test', namespace: 'team-a' }, client, kube: null, env: {} });
      assert.deepEqual([...new Set(specImages((await outside.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false })).yaml))], ['python:3.11-slim']);
      assert.deepEqual(fake.violations, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a notebook with errors is refused at validate, naming the cell', async () => {
    const { runtime, cleanup } = setup(fake);
    const nb = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: 'code', source: 'x = 1', metadata: { tags: ['step:a', 'prev:missing'] }, outputs: [], execution_count: null }] };
    await assert.rejects(runtime.submitNotebook({ notebookPath: '/tmp/bad.ipynb', text: JSON.stringify(nb), images: 'inline', watch: false }), (e: unknown) =>
      e instanceof SubmitError && /does not compile: cell 1: /.test(e.message));
    cleanup();
  });

  test('task states map to steps: failed task → failed step, downstream skipped, run failed with KFP\'s reason; cache hits → cached', async () => {
    fake.options.failTasks = ['kid2'];
    fake.options.cachedTasks = ['sack'];
    try {
      const { runtime, cleanup } = setup(fake);
      const changes: RunRecord[] = [];
      runtime.on('change', (r) => changes.push(r));
      const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
      const final = await runtime.watch(r.runId);
      const state = Object.fromEntries(final.steps.map((s) => [s.name, s.state]));
      assert.deepEqual(state, { sack: 'cached', kid1: 'succeeded', kid2: 'failed', kid3: 'skipped' });
      assert.equal(final.state, 'failed');
      assert.equal(final.reason, 'a task failed');
      assert.match(final.steps.find((s) => s.name === 'kid2')!.error!.message, /kid2 failed/);
      assert.ok(changes.some((c) => c.state === 'running' && c.steps.some((s) => s.name === 'kid1' && s.state === 'running')), 'live states were emitted');
      cleanup();
    } finally {
      fake.options.failTasks = [];
      fake.options.cachedTasks = [];
    }
  });

  test('cancel terminates the KFP run; the record ends cancelled, running steps cancelled, pending ones skipped', async () => {
    fake.options.progress = 'manual';
    try {
      const { runtime, cleanup } = setup(fake);
      const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
      const kfpId = r.record.external!.kfpRunId;
      fake.setRunState(kfpId, 'RUNNING', { sack: 'RUNNING' });
      const watching = runtime.watch(r.runId);
      await until(async () => (await runtime.store.get(r.runId))!.steps[0].state === 'running');
      await runtime.cancel(r.runId);
      assert.equal(fake.runs.get(kfpId)!.run.state, 'CANCELING');
      fake.advance(kfpId);
      const final = await watching;
      assert.equal(final.state, 'cancelled');
      assert.equal(final.reason, 'terminated');
      assert.deepEqual(final.steps.map((s) => s.state), ['cancelled', 'skipped', 'skipped', 'skipped']);
      cleanup();
    } finally {
      fake.options.progress = 'auto';
    }
  });

  test('KFP going away mid-watch keeps the record intact; watching resumes when it is back and the run completes', async () => {
    fake.options.progress = 'manual';
    try {
      const { runtime, store, cleanup } = setup(fake);
      const warnings: string[] = [];
      runtime.on('warning', (_id, m) => warnings.push(m));
      const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
      const kfpId = r.record.external!.kfpRunId;
      fake.setRunState(kfpId, 'RUNNING', { sack: 'SUCCEEDED', kid1: 'RUNNING' });
      const watching = runtime.watch(r.runId);
      await until(async () => (await store.get(r.runId))!.steps[1].state === 'running');
      const before = await store.get(r.runId);
      await fake.stop();
      await until(async () => warnings.some((w) => /cannot reach Kubeflow Pipelines/.test(w)));
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(await store.get(r.runId), before, 'nothing changed while KFP was away');
      fake.setRunState(kfpId, 'SUCCEEDED', { kid1: 'SUCCEEDED', kid2: 'SUCCEEDED', kid3: 'SUCCEEDED' });
      await fake.start();
      const final = await watching;
      assert.equal(final.state, 'succeeded');
      assert.ok(final.steps.every((s) => s.state === 'succeeded'));
      assert.ok(warnings.some((w) => /answers again/.test(w)), warnings.join('\n'));
      cleanup();
    } finally {
      fake.options.progress = 'auto';
    }
  });

  test('after a restart, resume() picks up the unfinished Kubeflow runs of the profile from the store', async () => {
    fake.options.progress = 'manual';
    try {
      const { runtime, store, dir, cleanup } = setup(fake);
      const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
      // A new process: a new runtime on the same store.
      const client = new KfpClient(staticEndpoint(fake.url, { namespace: 'team-a' }));
      const again = new KubeflowRuntime({ store: new RunStore(dir), profile: { name: 'test', namespace: 'team-a' }, client, kube: null, pollMs: 10, maxPollMs: 40 });
      const other = new KubeflowRuntime({ store: new RunStore(dir), profile: { name: 'other', namespace: 'team-a' }, client, kube: null });
      assert.deepEqual(await other.resume(), [], 'runs of other profiles are not touched');
      assert.deepEqual(await again.resume(), [r.runId]);
      fake.setRunState(r.record.external!.kfpRunId, 'SUCCEEDED', { sack: 'SUCCEEDED', kid1: 'SUCCEEDED', kid2: 'SUCCEEDED', kid3: 'SUCCEEDED' });
      const final = await again.watch(r.runId);
      assert.equal(final.state, 'succeeded');
      assert.equal((await store.get(r.runId))!.state, 'succeeded');
      assert.ok(existsSync(join(dir, 'runs', r.runId, 'run.jsonl')));
      cleanup();
    } finally {
      fake.options.progress = 'auto';
    }
  });

  test('retry resubmits a failed run in KFP and watches it to the end', async () => {
    fake.options.failTasks = ['kid3'];
    const { runtime, cleanup } = setup(fake);
    const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
    assert.equal((await runtime.watch(r.runId)).state, 'failed');
    await runtime.retry(r.runId);
    const final = await runtime.watch(r.runId);
    assert.equal(final.state, 'succeeded');
    assert.equal(final.steps.find((s) => s.name === 'kid3')!.state, 'succeeded');
    assert.deepEqual(fake.violations, []);
    cleanup();
  });
});

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met in time');
}
