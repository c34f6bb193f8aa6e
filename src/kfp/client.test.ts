/**
 * The KFP client's auth modes and error messages, against the swagger-checked fake KFP API server (which, unlike
 * kfp-real serve, checks tokens and namespaces), and through a stand-in for the Kubernetes API service proxy (which,
 * like kube-apiserver, checks the kubeconfig's token and strips `Authorization` before forwarding) to KFP 2.17.0's own
 * API server (`kfp-real serve`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKfpServer } from './testing/fake-server.js';
import { startKfpReal, type KfpRealServer } from './testing/kfp-real.js';
import { compileNotebook } from '../core/compile.js';
import { KfpClient } from './client.js';
import { kfpEndpoint, kfpSettings, staticEndpoint } from './endpoint.js';
import { KfpError } from './errors.js';
import type { Profile } from '../kube/profile.js';
import { RunStore } from '../runs/store.js';
import { KubeflowRuntime } from '../runtimes/kubeflow/runtime.js';

const CANDIES = new URL('../../../shared/corpus/kale/candies_sharing.ipynb', import.meta.url).pathname;
const TOKEN_A = 'tok-team-a-0123456789';

async function rejectsKfp(p: Promise<unknown>, kind: string, check: (e: KfpError) => void = () => {}): Promise<KfpError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof KfpError, `expected a KfpError, got ${(err as Error)?.stack}`);
    assert.equal(err.kind, kind, err.describe());
    assert.ok(!err.describe().includes(TOKEN_A), 'the token never appears in messages');
    check(err);
    return err;
  }
  assert.fail(`expected a ${kind} error`);
}

function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => {
          server.closeAllConnections();
          return new Promise<void>((r) => server.close(() => r()));
        },
      });
    });
  });
}

describe('KFP client against the swagger-checked fake (multi-user, token auth)', () => {
  let fake: FakeKfpServer;
  let dir: string;
  before(async () => {
    fake = new FakeKfpServer({ multiUser: true, tokens: { [TOKEN_A]: ['team-a'] } });
    await fake.start();
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-auth-'));
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const profile = (kfp: Record<string, unknown>, namespace = 'team-a'): Profile => ({ name: 'kf', namespace, kfp: { host: fake.url, ...kfp } });

  test('the fake is strict: an unknown JSON field is refused (as KFP does), an unknown query parameter answered (as KFP does) but recorded as a contract violation', async () => {
    const res = await fetch(`${fake.url}/apis/v2beta1/experiments`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN_A}` },
      body: JSON.stringify({ display_name: 'x', namespace: 'team-a', colour: 'red' }),
    });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /unknown field 'colour'/);
    const listed = await fetch(`${fake.url}/apis/v2beta1/experiments?namespace=team-a&bogus=1`, { headers: { Authorization: `Bearer ${TOKEN_A}` } });
    assert.equal(listed.status, 200);
    assert.equal(fake.violations.length, 2);
    assert.match(fake.violations[1], /query parameter 'bogus' is not declared/);
    fake.violations.length = 0;
  });

  test('the fake validates uploaded specs with the real KFP protos', async () => {
    const client = new KfpClient(staticEndpoint(fake.url, { token: TOKEN_A, namespace: 'team-a' }));
    const yaml = 'pipelineInfo: {name: p}\nroot: {dag: {tasks: {}}}\nschemaVersion: 2.1.0\nsdkVersion: x\nrootz: 1\n';
    await rejectsKfp(client.uploadPipeline(yaml, { name: 'broken', description: 'd', namespace: 'team-a' }), 'invalid', (e) =>
      assert.match(e.message, /has no field named "rootz"/));
    assert.equal(fake.violations.length, 1);
    fake.violations.length = 0;
  });

  test('token from a file (as mounted in a Kubeflow notebook pod) is read on every request, so a rotated token is used', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, TOKEN_A + '\n');
    const client = new KfpClient(await kfpEndpoint(profile({ auth: 'token-file', tokenFile: file })));
    const e = await client.ensureExperiment('exp-file', 'team-a');
    assert.equal(e.namespace, 'team-a');
    assert.equal((await client.ensureExperiment('exp-file', 'team-a')).experiment_id, e.experiment_id, 'found, not created twice');
    writeFileSync(file, 'expired-token');
    await rejectsKfp(client.ensureExperiment('exp-file', 'team-a'), 'unauthorized', (err) => {
      assert.match(err.message, /401 Unauthorized.*bearer token from .*token/);
      assert.match(err.hint, /token/);
    });
    rmSync(file);
    await rejectsKfp(client.healthz(), 'config', (err) => assert.match(err.message, /cannot read the Kubeflow Pipelines token file/));
    assert.deepEqual(fake.violations, []);
  });

  test('a user token from the environment; missing → a message naming the variable; no auth → 401 explained', async () => {
    const env = { CELLPIPE_KFP_TOKEN: TOKEN_A };
    assert.equal(kfpSettings(profile({}), env).auth, 'token', 'the token variable selects token auth by default');
    const client = new KfpClient(await kfpEndpoint(profile({ auth: 'token' }), env));
    assert.ok((await client.ensureExperiment('exp-env', 'team-a')).experiment_id);
    await rejectsKfp(new KfpClient(await kfpEndpoint(profile({ auth: 'token' }), {})).healthz(), 'config', (e) => assert.match(e.message, /\$CELLPIPE_KFP_TOKEN is empty/));
    await rejectsKfp(new KfpClient(await kfpEndpoint(profile({ auth: 'none' }), {})).ensureExperiment('x', 'team-a'), 'unauthorized', (e) =>
      assert.match(e.message, /auth: none/));
  });

  test('403 for a namespace the account may not use names the verb, resource and namespace', async () => {
    const client = new KfpClient(staticEndpoint(fake.url, { token: TOKEN_A, namespace: 'team-b', profile: 'kf' }));
    await rejectsKfp(client.ensureExperiment('exp', 'team-b'), 'forbidden', (e) => {
      assert.match(e.message, /may not list experiments in namespace 'team-b'/);
      assert.match(e.hint, /Kubeflow profile namespace|contributor/);
    });
    // An upload there gets KFP 2.17's bare 400; the client reads KFP's verdict by listing pipelines in team-b.
    const yaml = compileNotebook(readFileSync(CANDIES, 'utf8'), { path: 'nb.ipynb' }).yaml!;
    await rejectsKfp(client.uploadPipeline(yaml, { name: 'not-mine', description: 'd', namespace: 'team-b' }), 'forbidden', (e) =>
      assert.match(e.message, /may not list pipelines in namespace 'team-b' \(403 while trying to upload pipeline 'not-mine'\)/));
  });

  test('multi-user KFP without a namespace: the message says to set the profile namespace', async () => {
    const client = new KfpClient(staticEndpoint(fake.url, { token: TOKEN_A, profile: 'kf' }));
    await rejectsKfp(client.ensureExperiment('exp'), 'namespace', (e) => assert.match(e.hint, /set 'namespace' of profile 'kf'/));
  });

  test('tokens never reach the run store', async () => {
    const store = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-store-'));
    const runtime = new KubeflowRuntime({
      store: new RunStore(store), profile: profile({ auth: 'token' }), env: { CELLPIPE_KFP_TOKEN: TOKEN_A }, kube: null, pollMs: 5, maxPollMs: 20,
    });
    const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
    assert.equal((await runtime.watch(r.runId)).state, 'succeeded');
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    for (const f of walk(store)) assert.ok(!readFileSync(f, 'utf8').includes(TOKEN_A), `${f} holds the token`);
    assert.ok(!r.yaml.includes(TOKEN_A));
    rmSync(store, { recursive: true, force: true });
  });
});

describe('KFP client: unreachable and wrong endpoints', () => {
  test('nothing listening → "cannot reach", with the URL and what to check', async () => {
    const gone = await listen(() => {});
    await gone.close();
    const client = new KfpClient(await kfpEndpoint({ name: 'kf', namespace: 'a', kfp: { host: gone.url, auth: 'none' } }));
    await rejectsKfp(client.healthz(), 'unreachable', (e) => {
      assert.match(e.message, new RegExp(`cannot reach Kubeflow Pipelines at ${gone.url}.*ECONNREFUSED`));
      assert.match(e.hint, /kfp\.host/);
      assert.ok(e.transient);
    });
  });

  test('a URL that serves a login page instead of the API says so', async () => {
    const page = await listen((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>Sign in</html>'));
    try {
      const client = new KfpClient(staticEndpoint(page.url));
      await rejectsKfp(client.healthz(), 'api', (e) => assert.match(e.hint, /login page/));
    } finally {
      await page.close();
    }
  });
});

describe('KFP through the Kubernetes API service proxy (kubeconfig credentials)', () => {
  let kfp: KfpRealServer;
  let apiserver: { url: string; close: () => Promise<void> };
  let dir: string;
  const forwarded: (string | undefined)[] = [];
  before(async () => {
    kfp = await startKfpReal();
    const prefix = '/api/v1/namespaces/kubeflow/services/ml-pipeline:8888/proxy';
    apiserver = await listen((req, res) => {
      if (req.headers.authorization !== 'Bearer kube-admin-token') {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
        return;
      }
      if (!req.url!.startsWith(prefix + '/')) {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', message: 'services "ml-pipeline" not found', reason: 'NotFound', code: 404 }));
        return;
      }
      const headers = { ...req.headers };
      delete headers.authorization; // kube-apiserver does not forward it
      const up = http.request(`${kfp.url}${req.url!.slice(prefix.length)}`, { method: req.method, headers }, (r) => {
        forwarded.push(r.statusCode === 200 ? req.url : undefined);
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-kube-'));
  });
  after(async () => {
    await apiserver.close();
    await kfp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const kubeconfig = (token: string) => {
    const file = join(dir, `kubeconfig-${token}`);
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: test',
      'clusters:', `- name: test`, `  cluster: {server: "${apiserver.url}", insecure-skip-tls-verify: true}`,
      'users:', `- name: me`, `  user: {token: ${token}}`,
      'contexts:', '- name: test', '  context: {cluster: test, user: me}', '',
    ].join('\n'));
    return file;
  };

  test('no kfp.host → the ml-pipeline service proxy path with the kubeconfig token; a pipeline uploads and runs', async () => {
    const endpoint = await kfpEndpoint({ name: 'kube', namespace: 'team-a', kubeconfig: kubeconfig('kube-admin-token') });
    assert.equal(endpoint.baseUrl, `${apiserver.url}/api/v1/namespaces/kubeflow/services/ml-pipeline:8888/proxy`);
    const client = new KfpClient(endpoint);
    assert.equal((await client.healthz()).multi_user, false);
    const exp = await client.ensureExperiment('via-kube');
    const spec = compileNotebook(readFileSync(CANDIES, 'utf8'), { path: 'candies_sharing.ipynb' }).yaml!;
    const v = await client.ensurePipelineVersion(spec, 'ab'.repeat(32), { name: 'p' });
    assert.equal(v.action, 'pipeline');
    assert.equal((await client.ensurePipelineVersion(spec, 'ab'.repeat(32), { name: 'p' })).action, 'reused');
    const lookups = forwarded.filter((u) => u?.includes('/versions?'));
    assert.ok(lookups.length > 0 && lookups.every((u) => u!.includes('filter=') && u!.includes('page_size=1')), 'versions are looked up by filter (KFP lists them with their specs), not all fetched');
    const run = await client.createRun({ displayName: 'r', experimentId: exp.experiment_id, pipelineId: v.pipelineId, pipelineVersionId: v.pipelineVersionId, parameters: { CANDIES: 3 } });
    assert.equal((await client.getRun(run.run_id)).run_id, run.run_id);
    const listed = await client.listRuns({ experimentId: exp.experiment_id });
    assert.deepEqual(listed.runs.map((r) => r.run_id), [run.run_id]);
    await client.terminateRun(run.run_id);
    assert.equal((await client.getRun(run.run_id)).state, 'CANCELING');
    assert.ok(forwarded.some((u) => u?.endsWith('/apis/v2beta1/pipelines/upload?name=p&display_name=p&description=cellpipe-spec-sha256%3A' + 'ab'.repeat(32))));
  });

  test('expired kubeconfig credentials → 401 explained as a cluster login problem', async () => {
    const client = new KfpClient(await kfpEndpoint({ name: 'kube', namespace: 'team-a', kubeconfig: kubeconfig('stale') }));
    await rejectsKfp(client.healthz(), 'unauthorized', (e) => assert.match(e.hint, /kubeconfig credentials of profile 'kube'.*log in/));
  });

  test('KFP not installed where the profile says → the service is named, with the settings to fix', async () => {
    const client = new KfpClient(await kfpEndpoint({ name: 'kube', namespace: 'team-a', kubeconfig: kubeconfig('kube-admin-token'), kfp: { kfpNamespace: 'pipelines' } }));
    await rejectsKfp(client.healthz(), 'not-found', (e) => {
      assert.match(e.message, /Kubeflow Pipelines API service was not found/);
      assert.match(e.hint, /kfp\.kfpNamespace/);
    });
  });

  test('profile settings are checked: unknown keys, kube auth with a host, bad URLs', () => {
    assert.throws(() => kfpSettings({ name: 'p', kfp: { hots: 'x' } }), /kfp\.hots is not a known setting/);
    assert.throws(() => kfpSettings({ name: 'p', kfp: { host: 'http://x', auth: 'kube' } }), /takes no 'host'/);
    assert.throws(() => kfpSettings({ name: 'p', kfp: { host: 'kubeflow.example.com' } }), /must be an http:\/\/ or https:\/\/ URL/);
    assert.equal(kfpSettings({ name: 'p', kfp: { host: 'http://x' } }, { KF_PIPELINES_SA_TOKEN_PATH: '/nonexistent' }).auth, 'none');
    const tokenFile = join(dir, 'pod-token');
    writeFileSync(tokenFile, 'projected');
    const inPod = kfpSettings({ name: 'p' }, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KF_PIPELINES_SA_TOKEN_PATH: tokenFile });
    assert.deepEqual([inPod.host, inPod.auth], ['http://ml-pipeline.kubeflow.svc.cluster.local:8888', 'token-file'], 'in a Kubeflow notebook pod');
  });
});
