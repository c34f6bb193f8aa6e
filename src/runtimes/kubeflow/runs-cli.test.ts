/**
 * `cellpipe status / logs --follow / cancel / export / runs` on Kubeflow runs, as a user runs them: the real CLI process,
 * a profiles file, a run store, and the swagger-checked fake KFP API server in manual mode (the test moves the
 * runs along). The runs are submitted by the KubeflowRuntime itself (no watcher), as another process would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKfpServer } from '../../kfp/testing/fake-server.js';
import { loadProfile } from '../../kube/profile.js';
import { RunStore } from '../../runs/store.js';
import { CANDIES, cellpipe } from '../../runs/testing.js';
import { KubeflowRuntime } from './runtime.js';

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('cellpipe runs/status/logs/cancel on Kubeflow runs', () => {
  let fake: FakeKfpServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let store: RunStore;
  let runtime: KubeflowRuntime;

  /** A run submitted to the fake KFP (nobody watches it); returns the cellpipe and KFP run ids. */
  const submit = async () => {
    const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
    return { id: r.runId, kfp: r.record.external!.kfpRunId };
  };

  before(async () => {
    fake = new FakeKfpServer({ multiUser: true, progress: 'manual' });
    await fake.start();
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-kf-runs-cli-'));
    writeFileSync(join(dir, 'profiles.yaml'), `profiles:\n  kf:\n    namespace: team-a\n    kfp:\n      host: ${fake.url}\n      auth: none\n`);
    // No cluster for pod logs: the kubeconfig points nowhere.
    env = {
      CELLPIPE_PROFILES: join(dir, 'profiles.yaml'),
      CELLPIPE_STORE: join(dir, 'store'),
      CELLPIPE_KFP_POLL_MS: '20',
      KUBECONFIG: join(dir, 'no-kubeconfig'),
      CELLPIPE_CANCEL_WAIT_MS: '20000',
    };
    store = new RunStore(join(dir, 'store'));
    runtime = new KubeflowRuntime({ store, profile: await loadProfile('kf', env), env, kube: null });
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('status refreshes an unfinished run from KFP and stores what it learned', async () => {
    const { id, kfp } = await submit();
    fake.advance(kfp); // RUNNING
    fake.advance(kfp); // the first task runs
    const r = await cellpipe(['status', id], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /runtime\s+kubeflow \(profile kf\)/);
    assert.match(r.stdout, new RegExp(`${fake.url}/#/runs/details/${kfp}`));
    const stored = (await store.get(id))!;
    assert.equal(stored.state, 'running', 'the refresh was written to the store');
    assert.ok(stored.steps.some((s) => s.state === 'running'), JSON.stringify(stored.steps));
    const json = JSON.parse((await cellpipe(['status', id, '--json'], env)).stdout);
    assert.deepEqual(json.steps.map((s: { state: string }) => s.state), stored.steps.map((s) => s.state));
  });

  test('status with KFP unreachable shows the stored record and says it may be stale', async () => {
    const { id } = await submit();
    await fake.stop();
    try {
      const r = await cellpipe(['status', id], env);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /queued/);
      assert.match(r.stderr, /stored record and may be stale — could not refresh it from Kubeflow: .*127\.0\.0\.1/);
    } finally {
      await fake.start();
    }
  });

  test('status does not hang on a KFP that accepts connections and never answers', async () => {
    const { createServer } = await import('node:net');
    const held: import('node:net').Socket[] = [];
    const silent = createServer((c) => held.push(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    writeFileSync(join(dir, 'hang.yaml'), `profiles:\n  kf:\n    namespace: team-a\n    kfp:\n      host: http://127.0.0.1:${port}\n      auth: none\n`);
    try {
      const { id } = await submit();
      const t0 = Date.now();
      const r = await cellpipe(['status', id], { ...env, CELLPIPE_PROFILES: join(dir, 'hang.yaml'), CELLPIPE_KFP_TIMEOUT_MS: '300' });
      assert.equal(r.code, 0);
      assert.match(r.stderr, /may be stale/);
      assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
    } finally {
      for (const c of held) c.destroy();
      silent.close();
    }
  });

  test('status of a run JupyterLab is still submitting shows its stage and says KFP has no run yet', async () => {
    const id = '20260101-000000-cccccc';
    await store.create({ id, notebook: 'nb.ipynb', notebookHash: 'x', specHash: 'y', runtime: 'kubeflow', profile: 'kf', parameters: {}, state: 'queued', stage: 'build', stageDetail: 'uploaded 1.2 MB', createdAt: new Date().toISOString(), steps: [] });
    const r = await cellpipe(['status', id], env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /submitting: build \(uploaded 1\.2 MB\)/);
    assert.match(r.stderr, /has not been created in Kubeflow yet \(stage: build\)/);
  });

  test('logs --follow watches the run itself and ends when it ends', async () => {
    const { id, kfp } = await submit();
    const following = cellpipe(['logs', id, '--follow'], env);
    // Move the run along while the CLI watches; it alone writes the states into the store.
    await until('the follower to start watching', () => fake.requests.some((q) => q.method === 'GET' && q.path.includes(kfp)));
    for (let i = 0; i < 50 && fake.runs.get(kfp)!.run.state !== 'SUCCEEDED'; i++) {
      fake.advance(kfp);
      await new Promise((r) => setTimeout(r, 30));
    }
    const r = await following;
    assert.equal(r.code, 0, r.stderr);
    const final = (await store.get(id))!;
    assert.equal(final.state, 'succeeded');
    assert.ok(final.steps.every((s) => s.state === 'succeeded'));
  });

  test('cancel terminates the run in KFP and waits until KFP reports it ended', async () => {
    const { id, kfp } = await submit();
    fake.advance(kfp);
    fake.advance(kfp);
    const cancelling = cellpipe(['cancel', id], env);
    await until('KFP to be asked to terminate', () => fake.runs.get(kfp)!.terminating);
    fake.advance(kfp); // terminated → FAILED
    const r = await cancelling;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `run ${id} cancelled`);
    const final = (await store.get(id))!;
    assert.equal(final.state, 'cancelled');
    assert.equal(final.reason, 'terminated');
    const again = await cellpipe(['cancel', id], env);
    assert.match(again.stdout, /already cancelled \(terminated\); nothing to cancel/);
  });

  test('export of a run that ended while nobody watched it asks KFP first, and says where the outputs of a Kubeflow step come from', async () => {
    const { id, kfp } = await submit();
    for (let i = 0; i < 50 && fake.runs.get(kfp)!.run.state !== 'SUCCEEDED'; i++) fake.advance(kfp);
    assert.equal((await store.get(id))!.state, 'queued', 'nobody has told the store yet');
    // No pod log was followed and the profile names no object store (kfp/object-store.ts reads one; stored-logs.test.ts).
    const r = await cellpipe(['export', id, '-o', join(dir, 'exported.ipynb')], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`run ${id} ran on Kubeflow, and no step's log reached this store: .* set kfp\\.objectStore in profile 'kf'`));
    assert.equal((await store.get(id))!.state, 'succeeded', 'the refresh was written to the store');
  });

  test('export with KFP unreachable uses the stored record and says it may be stale', async () => {
    const { id } = await submit();
    await fake.stop();
    try {
      const r = await cellpipe(['export', id, '-o', join(dir, 'stale.ipynb')], env);
      assert.match(r.stderr, /exporting the stored record, which may be stale — could not refresh it from Kubeflow: .*127\.0\.0\.1/);
      assert.match(r.stderr, /recorded no cell outputs \(its steps did not run/, 'the stored record is still queued');
    } finally {
      await fake.start();
    }
  });

  test('runs lists Kubeflow runs with the local ones; --json carries runtime and profile', async () => {
    const r = await cellpipe(['runs', '--json'], env);
    assert.equal(r.code, 0);
    const list = JSON.parse(r.stdout) as { runtime: string; profile: string }[];
    assert.ok(list.length >= 4);
    assert.ok(list.every((x) => x.runtime === 'kubeflow' && x.profile === 'kf'));
    assert.deepEqual(fake.violations, []);
  });
});
