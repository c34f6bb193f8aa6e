/**
 * A Kubeflow step's inputs and outputs fetched from KFP's object store into the run store, for `cellpipe.load`:
 * the swagger-checked fake KFP runs debug.ipynb (load → divide → report, load → other; divide reads DIVISOR), and the
 * objects are laid out as KFP 2.17's launcher uploads a succeeded execution's artifacts, `<pipeline root>/<pipeline>/
 * <KFP run id>/<task>/<uuid>/<variable>/<file>`. Against a small S3 stand-in always, and against a real SeaweedFS
 * (`weed mini`, KFP 2.17's store) when scripts/k8s/kfp-build.sh has built it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKfpServer } from '../../kfp/testing/fake-server.js';
import { S3StandIn } from '../../kfp/testing/s3-stand-in.js';
import { seaweedSkip, startSeaweedFs, type SeaweedFs } from '../../kfp/testing/seaweedfs.js';
import { KfpClient } from '../../kfp/client.js';
import { staticEndpoint } from '../../kfp/endpoint.js';
import { RunStore, isTerminalRun } from '../../runs/store.js';
import type { Profile } from '../../kube/profile.js';
import type { RunRecord } from '../../runs/types.js';
import { KubeflowRuntime } from './runtime.js';
import type { ObjectStoreAccess } from './stored-logs.js';
import { FETCHED_MANIFEST, FetchError, fetchStepArtifacts, type FetchedManifest } from './step-artifacts.js';

const DEBUG = new URL('../../../test/e2e/notebooks/debug.ipynb', import.meta.url).pathname;
const IMAGES = Object.fromEntries(['load', 'divide', 'report', 'other'].map((s, i) => [s, `registry.example.com/steps@sha256:${String(i + 1).repeat(64)}`]));
const ROOT = 'v2/artifacts';

/** An artifact folder as the step runtime writes it: `cellpipe.json` (written last) and the value's file. */
function artifact(name: string, value: unknown): Record<string, string | Buffer> {
  const data = JSON.stringify(value);
  return {
    'cellpipe.json': JSON.stringify({ artifact: 'cellpipe.artifact/v1', name, format: 'json', file: 'data.json', python_type: `builtins.${typeof value === 'number' ? 'int' : 'str'}`, python: '3.11', bytes: data.length }),
    'data.json': data,
  };
}
/** Bytes no UTF-8 decoder would keep: a value that is not text (a pickle, an npy) must come back identical. */
const BINARY = Buffer.from([0x80, 0x05, 0x95, 0xff, 0xfe, 0x00, 0x0a, 0x0d, 0xc3, 0x28]);
/** A value of some megabytes: it arrives in many chunks, streamed into its file. */
const BIG = randomBytes(3 * 1024 * 1024 + 7);

interface Backend {
  endpoint: string;
  access: ObjectStoreAccess;
  put(key: string, body: string | Buffer): Promise<void>;
}

function suite(name: string, skip: string | undefined, makeBackend: () => Promise<Backend & { close(): Promise<void>; standIn?: S3StandIn }>) {
  describe(name, { skip, concurrency: false }, () => {
    let fake: FakeKfpServer;
    let backend: Backend & { close(): Promise<void>; standIn?: S3StandIn };
    const cleanups: (() => void)[] = [];
    before(async () => {
      fake = new FakeKfpServer({ validateSpecs: false });
      await fake.start();
      backend = await makeBackend();
    });
    after(async () => {
      for (const c of cleanups) c();
      await fake?.close();
      await backend?.close();
    });

    function setup(kfp: Record<string, unknown> = { objectStore: { endpoint: backend.endpoint } }, dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-fetch-'))) {
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const store = new RunStore(dir);
      const profile: Profile = { name: 'test', namespace: 'team-a', kfp: { host: fake.url, ...kfp } };
      const client = new KfpClient(staticEndpoint(fake.url, { namespace: 'team-a', profile: 'test' }), { timeoutMs: 2000 });
      const runtime = new KubeflowRuntime({ store, profile, client, kube: null, objectStoreAccess: async () => backend.access });
      return { store, runtime, dir };
    }

    async function run(runtime: KubeflowRuntime): Promise<RunRecord> {
      const { runId } = await runtime.submitNotebook({ notebookPath: DEBUG, images: IMAGES, watch: false });
      for (let i = 0; i < 50; i++) {
        const { record } = await runtime.refresh(runId);
        if (isTerminalRun(record.state)) return record;
      }
      throw new Error('the fake run did not end');
    }

    /** Uploads `files` as one execution (`uuid`) of `task` in `r`'s KFP run would have. */
    async function upload(r: RunRecord, task: string, uuid: string, files: Record<string, Record<string, string | Buffer>>) {
      for (const [variable, contents] of Object.entries(files)) {
        for (const [file, body] of Object.entries(contents)) await backend.put(`${ROOT}/${r.external!.pipelineName}/${r.external!.kfpRunId}/${task}/${uuid}/${variable}/${file}`, body);
      }
    }

    test("a step's inputs come from its upstream step's execution, byte for byte, with the parameters it read; a second fetch reads nothing", async () => {
      const { runtime, store } = setup();
      const r = await run(runtime);
      assert.equal(r.state, 'succeeded');
      await upload(r, 'load', '2d6f0a8e-1b7c-4c55-9e1d-5a3f7b9c0d21', { total: { ...artifact('total', 10), 'extra/raw.bin': BINARY, 'extra/big.bin': BIG }, unit: artifact('unit', 'kg') });
      await backend.put(`${ROOT}/${r.external!.pipelineName}/${r.external!.kfpRunId}/load/2d6f0a8e-1b7c-4c55-9e1d-5a3f7b9c0d21/executor-logs-0`, 'loaded\n');
      const got = await fetchStepArtifacts(runtime, r, 'divide', 'inputs');
      assert.equal(got.fetched, true);
      assert.equal(got.dir, join(store.stepDir(r.id, 'divide'), 'fetched', 'inputs'));
      const m = JSON.parse(readFileSync(join(got.dir, FETCHED_MANIFEST), 'utf8')) as FetchedManifest;
      assert.deepEqual(Object.keys(m.values).sort(), ['total', 'unit']);
      assert.equal(m.values.total.step, 'load');
      assert.equal(m.values.total.path, 'total');
      assert.deepEqual(m.parameters, { DIVISOR: 0 }, "the pipeline's default: the run set none");
      assert.equal(readFileSync(join(got.dir, 'total', 'data.json'), 'utf8'), '10');
      assert.deepEqual(readFileSync(join(got.dir, 'total', 'extra', 'raw.bin')), BINARY, 'a file in a sub-folder, its bytes as uploaded');
      assert.ok(readFileSync(join(got.dir, 'total', 'extra', 'big.bin')).equals(BIG), 'megabytes, byte for byte');
      assert.equal(m.values.total.bytes, Buffer.byteLength(artifact('total', 10)['cellpipe.json']) + 2 + BINARY.length + BIG.length);
      assert.equal(readFileSync(join(got.dir, 'unit', 'data.json'), 'utf8'), '"kg"');
      assert.ok(!existsSync(join(got.dir, 'executor-logs-0')) && !existsSync(join(got.dir, 'total', 'executor-logs-0')));
      if (backend.standIn) {
        const n = backend.standIn.requests.length;
        const again = await fetchStepArtifacts(runtime, r, 'divide', 'inputs');
        assert.equal(again.fetched, false);
        assert.equal(backend.standIn.requests.length, n, 'fetched once: read from the run store');
        await fetchStepArtifacts(runtime, r, 'divide', 'inputs', { refresh: true });
        assert.ok(backend.standIn.requests.length > n, 'refresh reads the store again');
      }
    });

    test("a step's outputs are its own variables; a retried run's execution that failed (only its log) is passed over", async () => {
      const { runtime } = setup();
      const r = await run(runtime);
      await upload(r, 'divide', '00000000-0000-4000-8000-00000000000f', {});
      await backend.put(`${ROOT}/${r.external!.pipelineName}/${r.external!.kfpRunId}/divide/00000000-0000-4000-8000-00000000000f/executor-logs-0`, 'ZeroDivisionError\n');
      await upload(r, 'divide', '7c1e55aa-0000-4000-8000-000000000001', { share: artifact('share', 5) });
      const got = await fetchStepArtifacts(runtime, r, 'divide', 'outputs');
      assert.deepEqual(Object.keys(got.manifest.values), ['share']);
      assert.match(got.manifest.values.share.source, /\/divide\/7c1e55aa-0000-4000-8000-000000000001\/share\/$/);
      assert.deepEqual(got.manifest.parameters, {});
      assert.equal(readFileSync(join(got.dir, 'share', 'data.json'), 'utf8'), '5');
    });

    test("a first step reads no step's values: nothing is downloaded, and its fetched folder still says what it read", async () => {
      const { runtime } = setup();
      const r = await run(runtime);
      const got = await fetchStepArtifacts(runtime, r, 'load', 'inputs');
      assert.equal(got.fetched, true);
      assert.deepEqual(got.manifest.values, {});
      assert.deepEqual(JSON.parse(readFileSync(join(got.dir, FETCHED_MANIFEST), 'utf8')).values, {});
    });

    test("a step KFP took from its cache: its outputs are found under the earlier run's folder that executed it", async () => {
      const { runtime, store } = setup();
      const first = await run(runtime);
      await upload(first, 'load', 'aaaaaaaa-0000-4000-8000-000000000001', { total: artifact('total', 10), unit: artifact('unit', 'kg') });
      fake.options.cachedTasks = ['load'];
      let second: RunRecord;
      try {
        second = await run(runtime);
      } finally {
        fake.options.cachedTasks = [];
      }
      assert.equal(second.steps.find((s) => s.name === 'load')?.state, 'cached');
      const got = await fetchStepArtifacts(runtime, second, 'divide', 'inputs');
      assert.equal(got.manifest.values.total.fromRun, first.id);
      assert.equal(readFileSync(join(got.dir, 'total', 'data.json'), 'utf8'), '10');
      assert.equal(got.dir, join(store.stepDir(second.id, 'divide'), 'fetched', 'inputs'), "kept with the run that was asked for");
    });

    if (name.includes('stand-in')) {
      test('a cache hit whose execution no run of this store made: says so, and how to make the step execute', async () => {
        const { runtime } = setup();
        fake.options.cachedTasks = ['load'];
        let r: RunRecord;
        try {
          r = await run(runtime);
        } finally {
          fake.options.cachedTasks = [];
        }
        await assert.rejects(fetchStepArtifacts(runtime, r, 'divide', 'inputs'), (err: FetchError) => {
          assert.match(err.message, /'total' \(made by step 'load'\) is not in run .*: KFP took step 'load' from its cache/);
          assert.match(err.hint ?? '', /--only load/);
          return true;
        });
      });

      test('no kfp.objectStore in the profile: says where to add it', async () => {
        const { runtime } = setup({});
        const r = await run(runtime);
        await assert.rejects(fetchStepArtifacts(runtime, r, 'divide', 'inputs'), (err: FetchError) => {
          assert.match(err.message, /profile 'test' does not say where that store is \(no 'kfp.objectStore'\)/);
          assert.match(err.hint ?? '', /add it to profile 'test' in .*profiles.yaml: under 'kfp:', 'objectStore: \{ endpoint: http:\/\/seaweedfs.kubeflow:9000 \}'/);
          return true;
        });
      });

      test('a step that failed has no outputs; the step after a failed one never got its inputs — each said with what to do', async () => {
        fake.options.failTasks = ['divide'];
        const { runtime } = setup();
        let r: RunRecord;
        try {
          r = await run(runtime);
        } finally {
          fake.options.failTasks = [];
        }
        await assert.rejects(fetchStepArtifacts(runtime, r, 'divide', 'outputs'), /step 'divide' has no outputs in run .*: it failed/);
        await assert.rejects(fetchStepArtifacts(runtime, r, 'report', 'inputs'), (err: FetchError) => {
          assert.match(err.message, /step 'report' did not get its inputs in run .*: step 'divide', which makes 'share', (failed|was skipped|never started)/);
          assert.match(err.hint ?? '', /load the inputs of 'divide' instead/);
          return true;
        });
      });

      test('a store that fails half-way leaves no fetched folder, whole-looking or partial; an unreachable one is named', async () => {
        const { runtime, store } = setup();
        const r = await run(runtime);
        await upload(r, 'load', 'bbbbbbbb-0000-4000-8000-000000000001', { total: artifact('total', 10), unit: artifact('unit', 'kg') });
        const unitData = `${ROOT}/${r.external!.pipelineName}/${r.external!.kfpRunId}/load/bbbbbbbb-0000-4000-8000-000000000001/unit/data.json`;
        backend.standIn!.failing.add(unitData);
        try {
          await assert.rejects(fetchStepArtifacts(runtime, r, 'divide', 'inputs'), /reading .*unit\/data\.json in the object store .*InternalError: disk gone/);
        } finally {
          backend.standIn!.failing.delete(unitData);
        }
        const fetched = join(store.stepDir(r.id, 'divide'), 'fetched');
        assert.deepEqual(existsSync(fetched) ? readdirSync(fetched) : [], [], 'nothing left behind');
        // What a fetch that crashed (its process gone) left is cleared by the next one.
        mkdirSync(join(fetched, '.partial-inputs-999999999-deadbeef', 'total'), { recursive: true });
        await fetchStepArtifacts(runtime, r, 'divide', 'inputs');
        assert.deepEqual(readdirSync(fetched), ['inputs']);

        // A port nobody listens on: one just given back.
        const closed = await new Promise<number>((res) => {
          const srv = createServer().listen(0, '127.0.0.1', () => {
            const { port } = srv.address() as { port: number };
            srv.close(() => res(port));
          });
        });
        const { runtime: away } = setup({ objectStore: { endpoint: `http://127.0.0.1:${closed}` } }, store.dir);
        await assert.rejects(fetchStepArtifacts(away, r, 'divide', 'inputs', { refresh: true }), (err: FetchError) => {
          assert.match(err.message, /^fetching the inputs of step 'divide' of run /);
          assert.match(err.message, new RegExp(`in the object store http://127\\.0\\.0\\.1:${closed} \\(bucket mlpipeline\\): ECONNREFUSED`));
          assert.match(err.hint ?? '', /kfp\.objectStore\.endpoint/);
          return true;
        });
        assert.ok(existsSync(join(fetched, 'inputs', FETCHED_MANIFEST)), 'a refresh that failed keeps what was fetched before');
      });
    }
  });
}

const ACCESS: ObjectStoreAccess = { credentials: { accessKey: 'team-a-key', secretKey: 'team-a-secret' } };

suite("fetching a Kubeflow step's variables from an S3 stand-in", undefined, async () => {
  const s3 = new S3StandIn(ACCESS.credentials.accessKey);
  await s3.start();
  return { endpoint: s3.url, access: ACCESS, standIn: s3, put: async (key, body) => void s3.objects.set(key, body), close: () => s3.close() };
});

suite("fetching a Kubeflow step's variables from a real SeaweedFS", seaweedSkip(), async () => {
  const weed: SeaweedFs = await startSeaweedFs();
  await weed.createBucket('mlpipeline');
  return { endpoint: weed.endpoint, access: { credentials: { accessKey: weed.accessKey, secretKey: weed.secretKey } }, put: (key, body) => weed.put('mlpipeline', key, body), close: () => weed.stop() };
});
