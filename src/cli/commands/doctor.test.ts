/**
 * `cellpipe doctor` with no arguments, run as the user runs it (the built CLI as a real process, its own HOME):
 * every configured profile, or the kubeconfig's current context, each with what to do next.
 * The same against the real test cluster is in src/kube/connect.test.ts. This machine as a container target: as it
 * is, and (as root) with runc and buildah hidden in a mount namespace of the CLI's own, as on a machine without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, cellpipe } from '../../runs/testing.js';
import { checkContainers } from '../doctor-checks.js';

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

test('a profile that reaches KFP by URL needs no kubeconfig: its absence is a warning naming what it costs, as the picker offers the profile', async () => {
  const dir = await home();
  const profiles = join(dir, 'profiles.yaml');
  await writeFile(profiles, ['profiles:', '  byurl:', '    namespace: team', '    kfp:', '      host: http://127.0.0.1:9', ''].join('\n'));
  const r = await cellpipe(['doctor'], { HOME: dir, CELLPIPE_PROFILES: profiles, KUBECONFIG: '' });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /warn {2}kubeconfig +no kubeconfig found.* — runs go to KFP by URL without it, but the steps' pod logs and why a pod waits are out of reach/);
  assert.match(r.stdout, /fix: to follow them, set 'kubeconfig' \(and 'context'\) of profile 'byurl'/);
  assert.doesNotMatch(r.stdout, /FAIL/);
  // Named on a kubeconfig, the same missing file is a failure: that profile reaches KFP through the cluster.
  await writeFile(profiles, ['profiles:', '  bykube:', `    kubeconfig: ${join(dir, 'missing')}`, '    namespace: team', ''].join('\n'));
  const kube = await cellpipe(['doctor'], { HOME: dir, CELLPIPE_PROFILES: profiles, KUBECONFIG: '' });
  assert.equal(kube.code, 1);
  assert.match(kube.stdout, /FAIL {2}kubeconfig/);
});

test('a misspelt kfp: setting is a failed check naming the field, beside the cluster\'s checks, never a crash', async () => {
  const dir = await home();
  const profiles = join(dir, 'profiles.yaml');
  await writeFile(profiles, ['profiles:', '  broken:', '    namespace: team', '    kfp:', '      hots: http://127.0.0.1:9', ''].join('\n'));
  const r = await cellpipe(['doctor'], { HOME: dir, CELLPIPE_PROFILES: profiles, KUBECONFIG: '' });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAIL {2}KFP settings +.*kfp\.hots is not a known setting \(known: host, /);
  assert.match(r.stdout, /FAIL {2}kubeconfig +no kubeconfig found/);
  assert.doesNotMatch(r.stdout + r.stderr, /bug in cellpipe|^\s+at /m);
});

test('a broken profiles file is reported as such, not replaced by the current context', async () => {
  const dir = await home();
  const profiles = join(dir, 'profiles.yaml');
  await writeFile(profiles, 'profiles: [not, a, mapping]\n');
  const r = await cellpipe(['doctor'], { HOME: dir, CELLPIPE_PROFILES: profiles });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL {2}profiles file +.*profiles\.yaml: expected a top-level 'profiles:' mapping/);
});

const CONTAINER_PIECES = ['root', 'runc', 'skopeo', 'tar', 'docker-registry', 'buildah'];

test('--containers: this machine, in containers — each piece with where it is, the exit code says whether steps can run here', async () => {
  const r = await cellpipe(['doctor', '--containers'], { HOME: await home() });
  assert.match(r.stdout, /^cellpipe doctor — This machine, in containers\n/);
  for (const name of CONTAINER_PIECES) assert.match(r.stdout, new RegExp(`\\n  (ok  |FAIL|warn)  ${name} +`), name);
  for (const m of r.stdout.matchAll(/^ {2}(ok {2}|FAIL|warn) {2}(\S+) +(.*)$/gm)) {
    if (m[1] === 'ok  ' && m[2] !== 'root') assert.match(m[3], /^\/\S+ \(/, `${m[2]}: where it was found`);
    if (m[1] !== 'ok  ' && m[2] !== 'root') assert.match(r.stdout, new RegExp(`${m[2]} +not installed[^\\n]*\\n +fix: apt-get install ${m[2]}\\n`));
  }
  assert.equal(r.code, /^ {2}FAIL/m.test(r.stdout) ? 1 : 0, r.stdout);
  assert.doesNotMatch(r.stdout, /FAIL {2}buildah/, 'buildah is only for requirements: steps: at most a warning');
  const json = await cellpipe(['doctor', '--containers', '--json'], { HOME: await home() });
  const body = JSON.parse(json.stdout) as { machine: string; ok: boolean; checks: { name: string }[] };
  assert.equal(body.machine, 'containers');
  assert.deepEqual(body.checks.map((c) => c.name), CONTAINER_PIECES);
  assert.equal(json.code, body.ok ? 0 : 1);
  assert.equal((await cellpipe(['doctor', '--containers', '--profile', 'x'], { HOME: await home() })).code, 2);
});

test('not root: the root check fails with what to do', async () => {
  const r = await checkContainers(process.env, true, 1000);
  const root = r.checks.find((c) => c.name === 'root')!;
  assert.equal(r.ok, false);
  assert.equal(root.ok, false);
  assert.equal(root.warning, undefined, 'asked about containers only: a failure');
  assert.match(root.detail, /uid 1000: runc here needs root/);
  assert.match(r.next, /run as root/);
  const lenient = await checkContainers(process.env, false, 1000);
  assert.equal(lenient.checks.find((c) => c.name === 'root')!.warning, true, 'beside the Kubeflow checks: a warning');
});

/** The built CLI in a mount namespace of its own where `hidden` programs are /dev/null (not executable): as on a machine without them. */
function cellpipeWithout(hidden: string[], args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  // The script is constant; the paths and the command travel as arguments.
  const script = 'n=$1; shift; i=0; while [ "$i" -lt "$n" ]; do mount --bind /dev/null "$1" || exit 99; shift; i=$((i+1)); done; exec "$@"';
  return new Promise((resolve) => {
    execFile('unshare', ['--mount', '--', 'sh', '-c', script, 'sh', String(hidden.length), ...hidden, process.execPath, BIN, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

function installed(tool: string): string[] {
  return ['/usr/local/sbin', '/usr/sbin', '/usr/local/bin', '/usr/bin'].map((d) => join(d, tool)).filter((p) => existsSync(p));
}

const rootOnly = { skip: process.getuid?.() !== 0 ? 'hiding programs needs root (a mount namespace)' : false };

test('runc and buildah missing: --containers fails naming their packages; beside the Kubeflow checks they are warnings that leave the exit code alone', rootOnly, async () => {
  const hidden = [...installed('runc'), ...installed('buildah')];
  const dir = await home();
  const only = await cellpipeWithout(hidden, ['doctor', '--containers'], { HOME: dir });
  assert.equal(only.code, 1, only.stdout + only.stderr);
  assert.match(only.stdout, /FAIL {2}runc +not installed \(runs each step as a container\)\n +fix: apt-get install runc\n/);
  assert.match(only.stdout, /warn {2}buildah +not installed \(builds the requirements image of `requirements:` steps\)\n +fix: apt-get install buildah\n/);
  assert.match(only.stdout, /1 check\(s\) failed, 1 warning\(s\)/);
  assert.match(only.stdout, /next: to run steps in containers here: apt-get install runc buildah; meanwhile cellpipe run NOTEBOOK runs them as local processes/);

  const all = await cellpipeWithout(hidden, ['doctor', '--json'], { HOME: dir });
  const body = JSON.parse(all.stdout) as { ok: boolean; targets: { ok: boolean }[]; containers: { ok: boolean; checks: { name: string; ok: boolean; warning?: boolean }[] } };
  assert.equal(body.containers.ok, false, 'steps cannot run in containers here');
  assert.deepEqual(body.containers.checks.filter((c) => !c.ok).map((c) => [c.name, c.warning]), [['runc', true], ['buildah', true]]);
  assert.equal(body.ok, body.targets.every((t) => t.ok), 'ok (and the exit code) is the Kubeflow targets\' alone');
  assert.equal(all.code, body.ok ? 0 : 1);
  const text = await cellpipeWithout(hidden, ['doctor'], { HOME: dir });
  assert.match(text.stdout, /\n\ncellpipe doctor — This machine, in containers\n(.*\n)* {2}warn {2}runc /);
  assert.match(text.stdout, /2 warning\(s\)\n/);
  assert.doesNotMatch(text.stdout.split('This machine, in containers')[1], /FAIL/);
});
