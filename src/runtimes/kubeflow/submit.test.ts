/**
 * `KubeflowRuntime.submit(RunRequest)` — the Runtime interface — submits the compiled request it is given: the
 * notebook is not read again from disk, and the graph, programs and parameters of the request are what runs.
 * Real registry (docker-registry) for the step images, the swagger-checked fake KFP API server for KFP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileNotebook } from '../../core/compile.js';
import { FakeKfpServer } from '../../kfp/testing/fake-server.js';
import { KfpClient } from '../../kfp/client.js';
import { staticEndpoint } from '../../kfp/endpoint.js';
import { RunStore } from '../../runs/store.js';
import { RegistryClient } from '../../images/registry.js';
import { pushBaseImage, startRegistry, type TestRegistry } from '../../images/testing.js';
import { KubeflowRuntime } from './runtime.js';

const CORPUS = new URL('../../../../shared/corpus/kale/', import.meta.url).pathname;

describe('Kubeflow runtime: submit(RunRequest)', () => {
  let reg: TestRegistry;
  let fake: FakeKfpServer;
  let dir: string;
  before(async () => {
    reg = await startRegistry('open');
    await pushBaseImage(new RegistryClient(reg.clientOptions()), 'base/python', '3.12', [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }]);
    fake = new FakeKfpServer({ multiUser: true });
    await fake.start();
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-submit-'));
  });
  after(async () => {
    await fake.close();
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the compiled request is submitted as it is: a notebook path that is not on disk, its parameters, its steps', async () => {
    const store = new RunStore(dir);
    const client = new KfpClient(staticEndpoint(fake.url, { namespace: 'team-a', profile: 'test' }), { timeoutMs: 2000 });
    const runtime = new KubeflowRuntime({
      store, client, kube: null, pollMs: 10, maxPollMs: 40,
      profile: { name: 'test', namespace: 'team-a', registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`, insecureRegistry: true },
    });
    const text = readFileSync(join(CORPUS, 'candies_sharing.ipynb'), 'utf8');
    const compiled = compileNotebook(text, { path: 'elsewhere/candies.ipynb', graphOnly: true, defaultBaseImage: await runtime.baseImage(undefined) });
    assert.ok(compiled.ok && compiled.graph);

    const runId = await runtime.submit({
      notebookPath: 'elsewhere/candies.ipynb', // no such file: the request carries what runs
      workdir: CORPUS,
      notebookHash: 'the hash the caller computed',
      specHash: '',
      graph: compiled.graph,
      programs: compiled.programs,
      notebook: compiled.notebook,
      parameters: { CANDIES: 7 },
    });

    const record = await store.get(runId);
    assert.equal(record?.notebook, 'elsewhere/candies.ipynb');
    assert.equal(record?.notebookHash, 'the hash the caller computed');
    assert.deepEqual(record?.steps.map((s) => s.name), compiled.graph.steps.map((s) => s.name));
    assert.deepEqual(record?.parameters, { CANDIES: 7 });
    const kfpRun = fake.runs.get(record!.external!.kfpRunId)!;
    assert.deepEqual(kfpRun.run.runtime_config?.parameters, { CANDIES: 7 });
    assert.equal((await runtime.watch(runId)).state, 'succeeded');
    assert.deepEqual(fake.violations, []);
  });
});
