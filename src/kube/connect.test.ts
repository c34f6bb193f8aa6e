/**
 * Connections from profiles and the messages for the usual failures; `cellpipe doctor` against the real cluster.
 * The cluster cases run through `bash scripts/test-k8s.sh` and are skipped without a cluster.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { canI, checkNamespace, connect } from './connect.js';
import { KubeError } from './errors.js';
import { loadProfile } from './profile.js';
import { SKIP_NO_CLUSTER, testCluster } from './testing.js';
import doctor from '../cli/commands/doctor.js';

const cluster = testCluster();

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cellpipe-kube-'));
}

function kubeconfigText(server: string, token: string, ca?: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: c, cluster: {server: "${server}"${ca ? `, certificate-authority-data: ${ca}` : ''}}}]`,
    `users: [{name: u, user: {token: ${token}}}]`,
    'contexts: [{name: main, context: {cluster: c, user: u}}]',
    'current-context: main',
    '',
  ].join('\n');
}

async function expectKubeError(p: Promise<unknown> | (() => unknown), kind: string): Promise<KubeError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof KubeError, `expected a KubeError(${kind}), got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  return err;
}

describe('connecting from a profile (no cluster needed)', () => {
  test('profiles file: fields are read, ~ expanded, mistakes named by path', async () => {
    const dir = await tmp();
    const file = join(dir, 'profiles.yaml');
    await writeFile(file, 'profiles:\n  prod:\n    kubeconfig: ~/kc\n    context: c1\n    namespace: team\n    registry: r.io/team\n    insecureRegistry: true\n    build: kaniko\n  bad:\n    kubeconfig: /x\n  odd:\n    namespace: team\n    build: docker\n');
    const env = { CELLPIPE_PROFILES: file, HOME: '/home/ada' };
    const p = await loadProfile('prod', env);
    assert.deepEqual(p, { name: 'prod', kubeconfig: '/home/ada/kc', context: 'c1', inCluster: undefined, namespace: 'team', registry: 'r.io/team', insecureRegistry: true, baseImage: undefined, build: 'kaniko', kfp: undefined });
    await assert.rejects(loadProfile('bad', env), new RegExp(`${file}: profiles\\.bad\\.namespace: missing`));
    await assert.rejects(loadProfile('nope', env), /no profile 'nope' .*known: prod, bad, odd/);
    await assert.rejects(loadProfile('odd', env), /profiles\.odd\.build: 'docker' is not one of auto, buildah, kaniko/);
  });

  test('profiles file: pip and kaniko settings are read; unknown keys, wrong types and credentials in an index URL are named', async () => {
    const dir = await tmp();
    const file = join(dir, 'profiles.yaml');
    await writeFile(file, [
      'profiles:',
      '  ok: {namespace: t, pip: {indexUrl: "https://pypi.internal/simple", trustedHost: pypi.internal}, kaniko: {image: "r.io/kaniko:debug", hostNetwork: true}}',
      '  typo: {namespace: t, pip: {indexURL: "https://x/simple"}}',
      '  wrong: {namespace: t, kaniko: {hostNetwork: "yes"}}',
      '  secret: {namespace: t, pip: {indexUrl: "https://u:p@x/simple"}}',
      '',
    ].join('\n'));
    const env = { CELLPIPE_PROFILES: file, HOME: '/home/ada' };
    const p = await loadProfile('ok', env);
    assert.deepEqual([p.pip, p.kaniko], [{ indexUrl: 'https://pypi.internal/simple', trustedHost: 'pypi.internal' }, { image: 'r.io/kaniko:debug', hostNetwork: true }]);
    await assert.rejects(loadProfile('typo', env), /profiles\.typo\.pip\.indexURL: unknown setting \(known: indexUrl, extraIndexUrl, trustedHost\)/);
    await assert.rejects(loadProfile('wrong', env), /profiles\.wrong\.kaniko\.hostNetwork: expected true or false/);
    await assert.rejects(loadProfile('secret', env), /profiles\.secret\.pip\.indexUrl: has credentials in it/);
  });

  test('no kubeconfig, unknown context and unreachable API server are explained', async () => {
    const dir = await tmp();
    const e1 = await expectKubeError(() => connect({ name: 'p', kubeconfig: join(dir, 'missing'), namespace: 'x' }), 'no-kubeconfig');
    assert.match(e1.message, /no kubeconfig found/);
    assert.match(e1.hint, /profile 'p'/);
    const e2 = await expectKubeError(() => connect({ namespace: 'x' }, { HOME: dir }), 'no-kubeconfig');
    assert.match(e2.hint, /~\/\.kube\/config/);

    // A port nobody listens on: take a free one and close it.
    const port = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const kc = join(dir, 'kc');
    await writeFile(kc, kubeconfigText(`https://127.0.0.1:${port}`, 't'));
    const e3 = await expectKubeError(() => connect({ kubeconfig: kc, context: 'other', namespace: 'x' }), 'no-context');
    assert.match(e3.message, /context 'other' is not in kubeconfig .*it has: main/);
    const conn = connect({ name: 'p', kubeconfig: kc, namespace: 'x' });
    const e4 = await expectKubeError(checkNamespace(conn), 'unreachable');
    assert.match(e4.message, new RegExp(`cannot reach the Kubernetes API server at https://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
  });
});

describe('connections to the real API server', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  const c = cluster!;

  test('an expired or wrong token is reported as 401 with what to do', async () => {
    const dir = await tmp();
    const good = await readFile(c.kubeconfig, 'utf8');
    const bad = join(dir, 'kc');
    await writeFile(bad, good.replace(/token: .*/, 'token: expired-or-wrong'));
    const conn = connect({ name: 'lab', kubeconfig: bad, namespace: c.namespace });
    const err = await expectKubeError(checkNamespace(conn), 'unauthorized');
    assert.equal(err.status, 401);
    assert.match(err.hint, /kubeconfig of profile 'lab' is missing, wrong or expired/);
  });

  test('a namespace that does not exist is named, with the fix', async () => {
    const conn = connect({ name: 'lab', kubeconfig: c.kubeconfig, namespace: 'no-such-namespace' });
    const err = await expectKubeError(checkNamespace(conn), 'namespace-not-found');
    assert.match(err.message, /namespace 'no-such-namespace' not found/);
    assert.match(err.hint, /set 'namespace' of profile 'lab'/);
    // Creating something there says the same.
    const e2 = await expectKubeError(conn.call({ verb: 'create', resource: 'configmaps', namespace: 'no-such-namespace' }, () =>
      conn.core.createNamespacedConfigMap({ namespace: 'no-such-namespace', body: { metadata: { name: 'x' } } })), 'namespace-not-found');
    assert.equal(e2.status, 404);
  });

  test('SelfSubjectAccessReview tells what the restricted account may do', async () => {
    const conn = connect({ kubeconfig: c.restrictedKubeconfig, namespace: c.namespace });
    assert.equal(await checkNamespace(conn), 'unknown', 'may not read Namespace objects, which is not fatal');
    assert.equal((await canI(conn, 'create', 'jobs', { group: 'batch' })).allowed, false);
    assert.equal((await canI(conn, 'get', 'pods', { subresource: 'log' })).allowed, true);
    assert.equal((await canI(conn, 'watch', 'pods')).allowed, true);
  });

  const run = async (profile: string, profiles: string) => {
    const dir = await tmp();
    const file = join(dir, 'profiles.yaml');
    await writeFile(file, profiles);
    let out = '';
    const sink = new Writable({ write: (chunk, _e, cb) => { out += String(chunk); cb(); } });
    const code = await doctor(['--profile', profile], { stdout: sink, stderr: sink, cwd: dir, env: { ...process.env, CELLPIPE_PROFILES: file } });
    return { code, out };
  };

  test('cellpipe doctor passes for the admin profile', async () => {
    const { code, out } = await run('admin', `profiles:\n  admin:\n    kubeconfig: ${c.kubeconfig}\n    namespace: ${c.namespace}\n`);
    assert.equal(code, 0, out);
    assert.match(out, /ok {4}API server .*answers \(Kubernetes v1\.33\.\d+\)/);
    assert.match(out, /ok {4}can create jobs\.batch/);
    assert.match(out, /everything needed works/);
  });

  const runAll = async (env: NodeJS.ProcessEnv) => {
    const dir = await tmp();
    let out = '';
    const sink = new Writable({ write: (chunk, _e, cb) => { out += String(chunk); cb(); } });
    const code = await doctor([], { stdout: sink, stderr: sink, cwd: dir, env: { ...process.env, HOME: dir, CELLPIPE_PROFILES: join(dir, 'profiles.yaml'), ...env } });
    return { code, out, dir };
  };

  test('cellpipe doctor with no profile configured checks the kubeconfig\'s current context and says how to save it', async () => {
    const { code, out } = await runAll({ KUBECONFIG: c.kubeconfig });
    assert.equal(code, 0, out);
    assert.match(out, /cellpipe doctor — kubeconfig context '[^']+' \(no cellpipe profile configured\)/);
    assert.match(out, /ok {4}API server .*answers \(Kubernetes v1\.33\.\d+\)/);
    assert.match(out, /ok {4}namespace +'[a-z0-9-]+' exists/);
    assert.match(out, /ok {4}can get pods\/log/);
    assert.match(out, /next: save this as a profile .*\n +profiles:\n/);
  });

  test('cellpipe doctor with no --profile checks every configured profile', async () => {
    const dir = await tmp();
    const file = join(dir, 'profiles.yaml');
    await writeFile(file, `profiles:\n  admin:\n    kubeconfig: ${c.kubeconfig}\n    namespace: ${c.namespace}\n  ci:\n    kubeconfig: ${c.restrictedKubeconfig}\n    namespace: ${c.namespace}\n`);
    const { code, out } = await runAll({ CELLPIPE_PROFILES: file });
    assert.equal(code, 1, out);
    const [admin, ci] = out.split(/\n(?=cellpipe doctor — )/);
    assert.match(admin, /profile 'admin'[^]*everything needed works[^]*next: cellpipe submit NOTEBOOK --profile admin/);
    assert.match(ci, /profile 'ci'[^]*FAIL {2}can create jobs\.batch/);
    assert.match(out, /2 profiles checked: 'ci' needs fixing\n$/);
  });

  test('cellpipe doctor names each missing permission of the restricted profile with a fix', async () => {
    const { code, out } = await run('ci', `profiles:\n  ci:\n    kubeconfig: ${c.restrictedKubeconfig}\n    namespace: ${c.namespace}\n`);
    assert.equal(code, 1, out);
    assert.match(out, /FAIL {2}can create jobs\.batch +denied in namespace 'cellpipe-test' \(needed for image builds run as Jobs\)/);
    assert.match(out, /fix: ask a cluster admin for a Role in 'cellpipe-test' granting 'create' on 'jobs' \(apiGroup 'batch'\)/);
    assert.match(out, /ok {4}can get pods\/log/);
    assert.match(out, /ok {4}namespace/);
  });
});
