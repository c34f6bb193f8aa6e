/**
 * `cellpipe doctor` with no arguments, run as the user runs it (the built CLI as a real process, its own HOME):
 * every configured profile, or the kubeconfig's current context, each with what to do next.
 * The same against the real test cluster is in src/kube/connect.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cellpipe } from '../../runs/testing.js';

/** A port nobody listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function kubeconfig(server: string, context = 'main', namespace?: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: c, cluster: {server: "${server}"}}]`,
    'users: [{name: u, user: {token: t}}]',
    `contexts: [{name: ${context}, context: {cluster: c, user: u${namespace ? `, namespace: ${namespace}` : ''}}}]`,
    `current-context: ${context}`,
    '',
  ].join('\n');
}

async function home(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cellpipe-doctor-'));
}

test('no profiles: the current context is checked, and an API server that does not answer is named by its address', async () => {
  const dir = await home();
  const port = await closedPort();
  const kc = join(dir, 'kubeconfig');
  await writeFile(kc, kubeconfig(`https://127.0.0.1:${port}`, 'dev', 'team-a'));
  const r = await cellpipe(['doctor'], { HOME: dir, KUBECONFIG: kc });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /kubeconfig context 'dev' \(no cellpipe profile configured\)/);
  assert.match(r.stdout, new RegExp(`ok {4}kubeconfig +current context 'dev' of ${kc}, server https://127\\.0\\.0\\.1:${port}, namespace 'team-a'`));
  assert.match(r.stdout, new RegExp(`FAIL {2}API server +cannot reach the Kubernetes API at https://127\\.0\\.0\\.1:${port}: connection refused`));
  assert.match(r.stdout, /fix: is the cluster running\? check `kubectl cluster-info`/);
  assert.match(r.stdout, /skip {2}namespace/);
  assert.match(r.stdout, /next: fix what failed above and run cellpipe doctor again/);
  assert.equal(r.stderr, '');
});

test('no profiles and no kubeconfig: says what to configure, and exits non-zero', async () => {
  const dir = await home();
  const r = await cellpipe(['doctor'], { HOME: dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`FAIL {2}kubeconfig +no cellpipe profile \\(${dir}/\\.config/cellpipe/profiles\\.yaml\\) and no kubeconfig found \\(looked at ${dir}/\\.kube/config\\)`));
  assert.match(r.stdout, /fix: put the cluster's kubeconfig at ~\/\.kube\/config \(or point KUBECONFIG at it\), or describe the cluster in a profile/);
  assert.match(r.stdout, /next: .*cellpipe run NOTEBOOK runs notebooks on this machine without any cluster/);
});

test('an API server whose certificate the kubeconfig does not trust is told apart from one that is down', async () => {
  const dir = await home();
  // A self-signed certificate the kubeconfig has no CA for: what a stale kubeconfig (or a proxy in between) gives.
  await new Promise<void>((resolve, reject) =>
    execFile('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], (err) => (err ? reject(err) : resolve())));
  const server = https.createServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (_req, res) => res.end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    const kc = join(dir, 'kubeconfig');
    await writeFile(kc, kubeconfig(`https://127.0.0.1:${port}`));
    const r = await cellpipe(['doctor'], { HOME: dir, KUBECONFIG: kc });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`FAIL {2}API server +the Kubernetes API at https://127\\.0\\.0\\.1:${port} answered with a certificate the kubeconfig does not trust \\(self[- ]signed certificate\\)`));
    assert.match(r.stdout, /fix: the kubeconfig's certificate-authority does not match the server/);
  } finally {
    server.close();
  }
});

test('two profiles: both are checked and reported, each with its own problem and next step', async () => {
  const dir = await home();
  const port = await closedPort();
  const kc = join(dir, 'lab-kubeconfig');
  await writeFile(kc, kubeconfig(`https://127.0.0.1:${port}`));
  const profiles = join(dir, 'profiles.yaml');
  await writeFile(profiles, [
    'profiles:',
    '  lab:',
    `    kubeconfig: ${kc}`,
    '    namespace: ml',
    '  prod:',
    `    kubeconfig: ${join(dir, 'missing-kubeconfig')}`,
    '    namespace: ml-prod',
    '',
  ].join('\n'));
  const r = await cellpipe(['doctor'], { HOME: dir, CELLPIPE_PROFILES: profiles });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const [lab, prod] = r.stdout.split(/\n(?=cellpipe doctor — )/);
  assert.match(lab, /^cellpipe doctor — profile 'lab'/);
  assert.match(lab, new RegExp(`cannot reach the Kubernetes API at https://127\\.0\\.0\\.1:${port}: connection refused`));
  assert.match(lab, new RegExp(`check \`kubectl --kubeconfig ${kc} cluster-info\``));
  assert.match(lab, /next: fix what failed above, then run cellpipe doctor --profile lab again/);
  assert.match(prod, /^cellpipe doctor — profile 'prod'/);
  assert.match(prod, /FAIL {2}kubeconfig +no kubeconfig found \(looked at .*missing-kubeconfig\)/);
  assert.match(prod, /fix: fix 'kubeconfig' in profile 'prod': the file does not exist/);
  assert.match(r.stdout, /\n2 profiles checked: 'lab', 'prod' need fixing\n$/);

  const json = await cellpipe(['doctor', '--json'], { HOME: dir, CELLPIPE_PROFILES: profiles });
  const body = JSON.parse(json.stdout) as { ok: boolean; targets: { profile: string; ok: boolean; checks: { name: string; ok: boolean }[] }[] };
  assert.equal(json.code, 1);
  assert.equal(body.ok, false);
  assert.deepEqual(body.targets.map((t) => [t.profile, t.ok, t.checks.find((c) => !c.ok)?.name]), [['lab', false, 'API server'], ['prod', false, 'kubeconfig']]);
});

test('a broken profiles file is reported as such, not replaced by the current context', async () => {
  const dir = await home();
  const profiles = join(dir, 'profiles.yaml');
  await writeFile(profiles, 'profiles: [not, a, mapping]\n');
  const r = await cellpipe(['doctor'], { HOME: dir, CELLPIPE_PROFILES: profiles });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL {2}profiles file +.*profiles\.yaml: expected a top-level 'profiles:' mapping/);
});
