/**
 * The sidebar's panels, through the backend over real HTTP on a Unix socket: "Add a Kubeflow profile…" writes the
 * profiles file the backend and the CLI read (fields checked one by one, comments and other profiles kept, no
 * secret accepted, a taken name refused, cross-site requests refused); "Check set-up" answers what `cellpipe doctor
 * --json` prints (the CLI run as a real process on the same profiles file); a run's note is kept in its record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadProfiles } from '../kube/profile.js';
import { RunStore } from '../runs/store.js';
import { FIXTURES } from '../runs/testing.js';
import { startServer, type RunningServer } from './index.js';
import { call, recordRunWithLogs } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const FILE_BEFORE = `# team profiles — kept by hand too
profiles:
  lab:   # the lab's cluster
    namespace: lab
    kfp: { host: "http://127.0.0.1:9", auth: none }
`;

describe('backend: the sidebar panels', () => {
  let base: string;
  let root: string;
  let file: string;
  let env: NodeJS.ProcessEnv;
  let server: RunningServer;
  let socket: string;

  before(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-panels-'));
    root = path.join(base, 'root');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(root);
    copyFileSync(path.join(FIXTURES, 'numbers.ipynb'), path.join(root, 'numbers.ipynb'));
    file = path.join(base, 'config', 'profiles.yaml');
    mkdirSync(path.dirname(file));
    writeFileSync(file, FILE_BEFORE);
    env = { ...process.env, HOME: base, CELLPIPE_PROFILES: file, KUBECONFIG: path.join(base, 'no-such-kubeconfig') };
    socket = path.join(base, 'backend.sock');
    server = await startServer({ root, socket, backend: { kubeflow: { env, stateFile: path.join(base, 'state', 'runs.json') } } });
  });

  after(async () => {
    await server?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('a form with mistakes: 400 naming every field at fault, and the file untouched', async () => {
    const r = await call(socket, 'POST', '/api/profiles', { name: 'team b', namespace: '', kfpHost: 'kubeflow.example.com' });
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.json.error.fields).sort(), ['kfpHost', 'name', 'namespace']);
    assert.match(r.json.error.message, /Name: 'team b' may hold letters/);
    assert.match(r.json.error.message, /Namespace: missing/);
    assert.match(r.json.error.message, /KFP host: 'kubeflow.example.com' is not a URL/);
    assert.equal(readFileSync(file, 'utf8'), FILE_BEFORE);
  });

  test('no secret is taken: a token field is refused, only the file or variable holding it', async () => {
    const r = await call(socket, 'POST', '/api/profiles', { name: 'tok', namespace: 'tok', token: 'eyJsecret' });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /unknown field 'token'/);
    assert.doesNotMatch(readFileSync(file, 'utf8'), /eyJsecret/);
  });

  test('a good profile joins the profiles file (its comments and profiles kept), readable by the CLI, and the picker lists it as the checks say', async () => {
    const r = await call(socket, 'POST', '/api/profiles', {
      name: 'team-b', namespace: 'team-b', registry: '127.0.0.1:9/team-b/steps', insecureRegistry: true,
      kfpHost: 'http://127.0.0.1:9/', kfpAuth: 'token', kfpTokenEnv: 'TEAM_B_TOKEN',
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.saved, 'team-b');
    assert.equal(r.json.file, file);
    const text = readFileSync(file, 'utf8');
    assert.ok(text.startsWith('# team profiles — kept by hand too\n'), text);
    assert.match(text, /# the lab's cluster/);
    const all = await loadProfiles(env);
    assert.deepEqual([...all.keys()], ['lab', 'team-b']);
    assert.deepEqual(all.get('team-b'), {
      name: 'team-b', kubeconfig: undefined, context: undefined, inCluster: undefined, namespace: 'team-b', registry: '127.0.0.1:9/team-b/steps',
      insecureRegistry: true, baseImage: undefined, build: undefined, kfp: { host: 'http://127.0.0.1:9', auth: 'token', tokenEnv: 'TEAM_B_TOKEN' },
    });
    const listed = (r.json.profiles as { name: string; error?: string }[]).find((p) => p.name === 'team-b');
    assert.deepEqual(listed, { name: 'team-b', kind: 'kubeflow', namespace: 'team-b', registry: '127.0.0.1:9/team-b/steps', kfpUi: 'http://127.0.0.1:9', source: 'file' });
    assert.ok(r.json.containers, 'the answer carries the container target, as GET /api/profiles');
  });

  test('a profile whose cluster cannot be reached is saved and listed disabled, with the fix', async () => {
    const r = await call(socket, 'POST', '/api/profiles', { name: 'far', namespace: 'far', kubeconfig: path.join(base, 'missing', 'kubeconfig') });
    assert.equal(r.status, 201, r.text);
    const far = (r.json.profiles as { name: string; error?: string; hint?: string }[]).find((p) => p.name === 'far')!;
    assert.match(far.error!, /kubeconfig/);
    assert.match(far.hint!, /'kubeconfig'.*'far'/);
  });

  test('a name already taken is refused (409) and the file keeps the first one', async () => {
    const r = await call(socket, 'POST', '/api/profiles', { name: 'lab', namespace: 'other' });
    assert.equal(r.status, 409);
    assert.match(r.json.error.message, /'lab' exists already/);
    assert.equal((await loadProfiles(env)).get('lab')!.namespace, 'lab');
  });

  test('a page on another site cannot add a profile', async () => {
    const before = readFileSync(file, 'utf8');
    const form = await call(socket, 'POST', '/api/profiles', 'name=evil&namespace=evil', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    const foreign = await call(socket, 'POST', '/api/profiles', { name: 'evil', namespace: 'evil' }, { origin: 'https://evil.example.com', host: 'localhost:8888' });
    assert.equal(foreign.status, 403);
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  test("GET /api/doctor answers what 'cellpipe doctor --json' prints: each profile's checks with their fixes, then this machine", { timeout: 120_000 }, async () => {
    const r = await call(socket, 'GET', '/api/doctor');
    assert.equal(r.status, 200, r.text);
    const cli = await promisify(execFile)(process.execPath, [path.join(repo, 'bin/cellpipe.js'), 'doctor', '--json'], { env }).catch((e: { stdout: string }) => e);
    const fromCli = JSON.parse(cli.stdout);
    const shape = (report: { targets: { profile?: string; ok: boolean; checks: { name: string; ok: boolean; fix?: string }[] }[]; containers: { machine: string } }) => ({
      targets: report.targets.map((t) => ({ profile: t.profile, ok: t.ok, checks: t.checks.map((c) => [c.name, c.ok, Boolean(c.fix)]) })),
      containers: report.containers.machine,
    });
    assert.deepEqual(shape(r.json), shape(fromCli));
    assert.deepEqual(r.json.targets.map((t: { profile: string }) => t.profile), ['lab', 'team-b', 'far']);
    const far = r.json.targets[2];
    assert.equal(far.ok, false);
    const failed = far.checks.find((c: { ok: boolean; skipped?: boolean }) => !c.ok && !c.skipped);
    assert.ok(failed.fix, `a failed check says what to do: ${JSON.stringify(failed)}`);
    assert.equal(r.json.containers.machine, 'containers');
  });

  test('a run carries a note: kept in its record and listed; too long or not text is refused', async () => {
    const store = new RunStore(path.join(root, '.cellpipe'));
    const runId = await recordRunWithLogs(store, 'numbers.ipynb', { a: ['x'] });
    store.close();
    const put = (note: unknown, headers?: Record<string, string>) => call(socket, 'PUT', `/api/runs/${runId}/note?notebook=numbers.ipynb`, { note }, headers);
    const r = await put('  baseline <b>run</b>\n');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.note, 'baseline <b>run</b>');
    const listed = await call(socket, 'GET', '/api/runs?notebook=numbers.ipynb');
    assert.equal(listed.json.runs.find((x: { id: string }) => x.id === runId).note, 'baseline <b>run</b>');
    const long = await put('x'.repeat(201));
    assert.equal(long.status, 400);
    assert.match(long.json.error.message, /^note: 201 characters, at most 200/);
    assert.equal((await put(7)).status, 400);
    assert.equal((await put('evil', { origin: 'https://evil.example.com', host: 'localhost:8888' })).status, 403);
    const cleared = await put('');
    assert.equal(cleared.status, 200);
    assert.equal('note' in cleared.json, false);
  });
});
