/**
 * The backend's Kubeflow routes over real HTTP on a Unix socket: profiles (without secrets), a run on a profile
 * submitted in the background with its stages in the record and the event stream, cancel before and after the KFP
 * run exists, a restarted backend watching its unfinished runs again, and `POST /api/build` streaming a real
 * build into a real registry (docker-registry). Kubeflow Pipelines is the swagger-checked fake server; the real
 * profiles file, the real KFP client and the real KubeflowRuntime talk to it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { FakeKfpServer } from '../kfp/testing/fake-server.js';
import { RegistryClient } from '../images/registry.js';
import { pushBaseImage, startRegistry, type TestRegistry } from '../images/testing.js';
import { KubeflowRuntime } from '../runtimes/kubeflow/runtime.js';
import { loadProfile } from '../kube/profile.js';
import { RunStore, storeDirFor } from '../runs/store.js';
import type { RunRecord } from '../runs/types.js';
import { startServer, type RunningServer } from './index.js';
import { call, readEvents, type SseEvent } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const corpus = path.resolve(repo, '../shared/corpus/kale');
const NB = 'work/candies.ipynb';

describe('backend: Kubeflow targets', () => {
  let base: string;
  let root: string;
  let reg: TestRegistry;
  let fake: FakeKfpServer;
  let slow: FakeKfpServer;
  let env: NodeJS.ProcessEnv;
  let stateFile: string;
  const warnings: string[] = [];
  let server: RunningServer;
  let socket: string;

  const start = async () => {
    socket = path.join(base, `backend-${Date.now()}.sock`);
    return startServer({
      root,
      socket,
      backend: {
        kubeflow: {
          env,
          stateFile,
          refreshMs: 50,
          warn: (m) => warnings.push(m),
          makeRuntime: (profile, store) => new KubeflowRuntime({ store, profile, env, kube: null, pollMs: 20, maxPollMs: 60, maxBackoffMs: 100 }),
        },
      },
    });
  };

  before(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-kf-'));
    root = path.join(base, 'root');
    mkdirSync(path.join(root, 'work'), { recursive: true });
    copyFileSync(path.join(corpus, 'candies_sharing.ipynb'), path.join(root, NB));
    reg = await startRegistry('open');
    const client = new RegistryClient(reg.clientOptions());
    await pushBaseImage(client, 'base/python', '3.12', [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }]);
    client.close();
    fake = new FakeKfpServer({ multiUser: true });
    await fake.start();
    slow = new FakeKfpServer({ multiUser: true, progress: 'manual' });
    await slow.start();
    const images = { registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`, insecureRegistry: true };
    const profiles = {
      profiles: {
        kf: { namespace: 'team-a', ...images, kfp: { host: fake.url, auth: 'none' } },
        slow: { namespace: 'team-a', ...images, kfp: { host: slow.url, auth: 'none' } },
        secure: { namespace: 'team-b', kfp: { host: 'https://kubeflow.example.com/pipeline', auth: 'token', tokenEnv: 'TEAM_B_TOKEN', tokenFile: '/secret/token-file', uiUrl: 'https://kubeflow.example.com/ui' } },
        broken: { namespace: 'team-c', kfp: { hots: 'typo' } },
      },
    };
    const file = path.join(base, 'profiles.yaml');
    writeFileSync(file, stringify(profiles));
    stateFile = path.join(base, 'state', 'runs.json');
    // No kubeconfig anywhere: a profile that needs the cluster's API is listed with what to set.
    env = { ...process.env, CELLPIPE_PROFILES: file, TEAM_B_TOKEN: 'tok-s3cret-value', KUBECONFIG: path.join(base, 'no-such-kubeconfig') };
    server = await start();
  });

  after(async () => {
    await server?.close();
    await fake?.close();
    await slow?.close();
    await reg?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  /** The run's record changes until it ends (or `until` holds). */
  const follow = (runId: string, until?: (r: RunRecord) => boolean) =>
    readEvents(socket, `/api/runs/${runId}/events`, { until: (e: SseEvent) => e.event === 'end' || (e.event === 'run' && !!until?.(e.data as RunRecord)) });

  test('GET /api/profiles lists names, kinds, namespaces and UI links — never tokens or token files', async () => {
    const r = await call(socket, 'GET', '/api/profiles');
    assert.equal(r.status, 200);
    const byName = Object.fromEntries((r.json.profiles as { name: string; error?: string }[]).map((p) => [p.name, p]));
    assert.deepEqual(Object.keys(byName), ['broken', 'kf', 'secure', 'slow']);
    assert.deepEqual(byName.kf, { name: 'kf', kind: 'kubeflow', namespace: 'team-a', registry: `${reg.host}/team/steps`, kfpUi: fake.url, source: 'file' });
    assert.deepEqual(byName.secure, { name: 'secure', kind: 'kubeflow', namespace: 'team-b', kfpUi: 'https://kubeflow.example.com/ui', source: 'file' });
    assert.match(byName.broken.error!, /kfp\.hots.*not a known setting/);
    assert.doesNotMatch(r.text, /s3cret|TEAM_B_TOKEN|token-file|\/secret\//);
  });

  test('POST /api/runs on a profile: 201 at once, then validate → build → upload → run in the record, then KFP states to the end', async () => {
    const r = await call(socket, 'POST', '/api/runs', { path: NB, target: 'kf' });
    assert.equal(r.status, 201, r.text);
    const runId = r.json.runId as string;
    assert.equal(r.json.run.runtime, 'kubeflow');
    assert.equal(r.json.run.profile, 'kf');
    assert.equal(r.json.run.state, 'queued');
    assert.equal(r.json.run.stage, 'validate');
    const { events } = await follow(runId);
    const runs = events.filter((e) => e.event === 'run').map((e) => e.data as RunRecord);
    const stages = [...new Set(runs.map((x) => x.stage))];
    assert.deepEqual(stages.filter((s) => s !== undefined).slice(-1), ['run']);
    // The event stream may skip a quick stage (it sends the latest record); the record's own journal has them all.
    const journal = readFileSync(path.join(storeDirFor(path.join(root, NB)), 'runs', runId, 'run.jsonl'), 'utf8');
    assert.match(journal, /"stage":"build"/, `the record went through the build stage (the stream showed ${JSON.stringify(stages)})`);
    const last = runs.at(-1)!;
    assert.equal(events.at(-1)!.event, 'end');
    assert.equal(last.state, 'succeeded', JSON.stringify(last));
    assert.ok(last.steps.length > 1 && last.steps.every((s) => s.state === 'succeeded'), JSON.stringify(last.steps));
    const kfpRunId = last.external!.kfpRunId;
    assert.ok(fake.runs.has(kfpRunId), 'the run exists in KFP');
    assert.equal(last.url, `${fake.url}/#/runs/details/${kfpRunId}`);
    assert.equal(last.createdAt, r.json.run.createdAt, 'the record made at once is the one completed');
    // Same routes as a local run.
    const got = await call(socket, 'GET', `/api/runs/${runId}`);
    assert.deepEqual(got.json, last);
    const listed = await call(socket, 'GET', `/api/runs?notebook=${encodeURIComponent(NB)}`);
    assert.ok(listed.json.runs.some((x: RunRecord) => x.id === runId));
    const logs = await call(socket, 'GET', `/api/runs/${runId}/logs/${last.steps[0].name}?format=json`);
    assert.equal(logs.status, 200);
    assert.deepEqual(fake.violations, []);
  });

  test('an unknown target is a 400 naming the profiles', async () => {
    const r = await call(socket, 'POST', '/api/runs', { path: NB, target: 'kubeflow' });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /unknown target 'kubeflow'/);
    assert.match(r.json.error.hint, /kf, slow/);
  });

  test('profiles from JupyterLab\'s settings join the file\'s, win on a shared name, are checked like them and submit the same way', async () => {
    const images = { registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`, insecureRegistry: true };
    const put = await call(socket, 'PUT', '/api/settings', {
      profiles: {
        lab: { namespace: 'team-a', ...images, kfp: { host: fake.url, auth: 'none', uiUrl: 'https://lab.example.com/kfp' } },
        secure: { namespace: 'team-z', ...images, kfp: { host: fake.url, auth: 'none' } },
        nameless: { registry: 'r.example.com/x' },
      },
    });
    assert.equal(put.status, 200, put.text);
    const byName = Object.fromEntries((put.json.profiles as { name: string; source: string; namespace: string; error?: string }[]).map((p) => [p.name, p]));
    assert.deepEqual(Object.keys(byName), ['broken', 'kf', 'lab', 'nameless', 'secure', 'slow']);
    assert.equal(byName.lab.source, 'settings');
    assert.equal(byName.secure.source, 'settings');
    assert.equal(byName.secure.namespace, 'team-z', 'the setting wins over the file');
    assert.equal(byName.kf.source, 'file');
    assert.match(byName.nameless.error!, /JupyterLab settings.*profiles\.nameless\.namespace: missing/);
    const refused = await call(socket, 'POST', '/api/runs', { path: NB, target: 'nameless' });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error.message, /namespace: missing/);
    const kept = await call(socket, 'GET', '/api/settings');
    assert.deepEqual(Object.keys(kept.json.profiles), ['lab', 'secure', 'nameless']);

    const r = await call(socket, 'POST', '/api/runs', { path: NB, target: 'lab' });
    assert.equal(r.status, 201, r.text);
    const { events } = await follow(r.json.runId as string);
    const last = events.filter((e) => e.event === 'run').map((e) => e.data as RunRecord).at(-1)!;
    assert.equal(last.state, 'succeeded', JSON.stringify(last));
    assert.equal(last.profile, 'lab');
    assert.match(last.url!, /^https:\/\/lab\.example\.com\/kfp\/#\/runs\/details\//);

    const bad = await call(socket, 'PUT', '/api/settings', { profiles: { local: {} } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /'local'/);
    const cleared = await call(socket, 'PUT', '/api/settings', {});
    assert.deepEqual(cleared.json.profiles.map((p: { name: string }) => p.name), ['broken', 'kf', 'secure', 'slow']);
  });

  test('a profile is checked before it is offered: one with only a namespace says to set its kubeconfig, one whose cluster does not answer says so — never "a bug"', async () => {
    const kubeconfig = path.join(base, 'offline-kubeconfig.yaml');
    writeFileSync(kubeconfig, stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'gone',
      clusters: [{ name: 'gone', cluster: { server: 'https://127.0.0.1:9' } }],
      contexts: [{ name: 'gone', context: { cluster: 'gone', user: 'me' } }],
      users: [{ name: 'me', user: { token: 'x' } }],
    }));
    const put = await call(socket, 'PUT', '/api/settings', { profiles: { onlyns: { namespace: 'team-x' }, gone: { namespace: 'team-x', kubeconfig } } });
    try {
      assert.equal(put.status, 200, put.text);
      const byName = Object.fromEntries((put.json.profiles as { name: string; error?: string; hint?: string }[]).map((p) => [p.name, p]));
      assert.match(byName.onlyns.error!, /^no kubeconfig found \(looked at .*no-such-kubeconfig\)/);
      assert.match(byName.onlyns.hint!, /set 'kubeconfig' in profile 'onlyns'/);
      assert.match(byName.gone.error!, /127\.0\.0\.1:9/);
      assert.ok(byName.gone.hint, 'with what to do');
      assert.equal(byName.kf.error, undefined, 'a profile that reaches KFP by URL needs no cluster check');
      assert.doesNotMatch(put.text, /bug in cellpipe/i);
      const listed = await call(socket, 'GET', '/api/profiles');
      assert.deepEqual(listed.json.profiles, put.json.profiles);
    } finally {
      await call(socket, 'PUT', '/api/settings', {});
    }
  });

  test('Build & Submit with no cluster and no registry within reach builds nothing: the run fails at once naming each unreachable place and the profile field that sets it, no step left pending', async () => {
    const put = await call(socket, 'PUT', '/api/settings', {
      profiles: { offline: { namespace: 'team-a', registry: 'registry.invalid/team/steps', baseImage: 'hub.invalid/python:3.12', kfp: { host: 'http://127.0.0.1:9', auth: 'none' } } },
    });
    assert.equal(put.status, 200, put.text);
    try {
      const r = await call(socket, 'POST', '/api/runs', { path: NB, target: 'offline' });
      assert.equal(r.status, 201, r.text);
      const { events } = await follow(r.json.runId as string);
      const runs = events.filter((e) => e.event === 'run').map((e) => e.data as RunRecord);
      const last = runs.at(-1)!;
      assert.equal(last.state, 'failed');
      assert.equal(last.stage, 'validate', 'it stopped before the build');
      assert.ok(!runs.some((x) => x.stage === 'build'), 'nothing was built');
      assert.match(last.reason!, /^validate failed: cannot reach /);
      assert.match(last.reason!, /Kubeflow Pipelines at http:\/\/127\.0\.0\.1:9: connection refused/);
      assert.match(last.reason!, /the registry registry\.invalid \(where step images are pushed\): (no such host|the host name could not be looked up)/);
      assert.match(last.reason!, /the registry hub\.invalid \(base images\)/);
      assert.match(last.reason!, /fix 'kfp\.host', 'registry', 'baseImage' in profile 'offline'/);
      assert.ok(last.steps.length > 1 && last.steps.every((s) => s.state === 'skipped' && s.finishedAt), JSON.stringify(last.steps));
    } finally {
      await call(socket, 'PUT', '/api/settings', {});
    }
  });

  test('cancel while the run is being submitted: nothing is created in KFP, the run ends cancelled', async () => {
    const before = slow.runs.size;
    const r = await call(socket, 'POST', '/api/runs', { path: NB, target: 'slow' });
    assert.equal(r.status, 201);
    const c = await call(socket, 'POST', `/api/runs/${r.json.runId}/cancel`);
    assert.equal(c.status, 202, c.text);
    const { events } = await follow(r.json.runId);
    const last = events.filter((e) => e.event === 'run').at(-1)!.data as RunRecord;
    // Either the submission stopped at a stage boundary, or it had just created the run and terminated it.
    assert.equal(last.state, 'cancelled', JSON.stringify(last));
    if (!last.external?.kfpRunId) {
      assert.equal(slow.runs.size, before);
      assert.match(last.reason!, /cancelled before it was submitted/);
    }
  });

  test('cancel a running KFP run: terminated in KFP, steps that ran are cancelled', async () => {
    const r = await call(socket, 'POST', '/api/runs', { path: NB, target: 'slow' });
    const { events } = await follow(r.json.runId, (x) => !!x.external?.kfpRunId);
    const kfpRunId = (events.at(-1)!.data as RunRecord).external!.kfpRunId;
    slow.advance(kfpRunId); // RUNNING
    slow.advance(kfpRunId); // first task running
    await follow(r.json.runId, (x) => x.state === 'running' && x.steps.some((s) => s.state === 'running'));
    const c = await call(socket, 'POST', `/api/runs/${r.json.runId}/cancel`);
    assert.equal(c.status, 202);
    assert.ok(c.json.cancelRequestedAt);
    slow.advance(kfpRunId); // terminating → FAILED
    const end = await follow(r.json.runId);
    const last = end.events.filter((e) => e.event === 'run').at(-1)!.data as RunRecord;
    assert.equal(last.state, 'cancelled');
    assert.equal(last.reason, 'terminated');
    assert.ok(last.steps.some((s) => s.state === 'cancelled'), JSON.stringify(last.steps));
    assert.equal(slow.runs.get(kfpRunId)!.run.state, 'FAILED');
  });

  test('a restarted backend watches its unfinished Kubeflow runs again', async () => {
    const r = await call(socket, 'POST', '/api/runs', { path: NB, target: 'slow' });
    const runId = r.json.runId as string;
    const { events } = await follow(runId, (x) => !!x.external?.kfpRunId);
    const kfpRunId = (events.at(-1)!.data as RunRecord).external!.kfpRunId;
    await server.close();
    // While no backend watches, the run finishes in Kubeflow.
    for (let i = 0; i < 50 && slow.runs.get(kfpRunId)!.run.state !== 'SUCCEEDED'; i++) slow.advance(kfpRunId);
    server = await start();
    const resumed = Object.values(server.backend.resumed).flat();
    assert.ok(resumed.includes(runId), JSON.stringify(server.backend.resumed) + warnings.join('\n'));
    const end = await follow(runId);
    assert.equal((end.events.filter((e) => e.event === 'run').at(-1)!.data as RunRecord).state, 'succeeded');
  });

  test('at start, a submission cut short is marked failed; one another live backend is making is left to it', async () => {
    const dir = storeDirFor(path.join(root, NB));
    const store = new RunStore(dir);
    const make = async (id: string) =>
      store.create({ id, notebook: NB, notebookHash: 'x', specHash: 'y', runtime: 'kubeflow', profile: 'slow', parameters: {}, state: 'queued', stage: 'build', createdAt: new Date().toISOString(), steps: [] });
    await make('20260101-000000-aaaaaa');
    await make('20260101-000000-bbbbbb');
    await server.close();
    const { existsSync, readFileSync } = await import('node:fs');
    const doc = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : { runs: {} };
    doc.runs['20260101-000000-aaaaaa'] = { dir, profile: 'slow' };
    doc.runs['20260101-000000-bbbbbb'] = { dir, profile: 'slow', pid: process.ppid };
    writeFileSync(stateFile, JSON.stringify(doc));
    server = await start();
    const cut = (await store.get('20260101-000000-aaaaaa'))!;
    assert.equal(cut.state, 'failed');
    assert.match(cut.reason!, /interrupted: the backend stopped during the 'build' stage/);
    assert.equal((await store.get('20260101-000000-bbbbbb'))!.state, 'queued');
  });

  test('a Kubeflow run submitted elsewhere (nobody watching) is refreshed from KFP while its events are followed', async () => {
    const store = new RunStore(storeDirFor(path.join(root, NB)));
    const profile = await loadProfile('kf', env);
    const other = new KubeflowRuntime({ store, profile, env, kube: null });
    const submitted = await other.submitNotebook({ notebookPath: path.join(root, NB), shownPath: NB, images: 'inline', watch: false });
    const { events } = await readEvents(socket, `/api/runs/${submitted.runId}/events?notebook=${encodeURIComponent(NB)}`, { until: (e) => e.event === 'end' });
    const runs = events.filter((e) => e.event === 'run').map((e) => e.data as RunRecord);
    assert.equal(runs[0].state, 'queued');
    assert.equal(runs.at(-1)!.state, 'succeeded');
    assert.equal(events.at(-1)!.event, 'end');
  });

  test('POST /api/build streams upload progress and ends with step → image by digest', async () => {
    const { status, contentType, events } = await readEvents(socket, '/api/build', { body: { path: NB, profile: 'kf' } });
    assert.equal(status, 200);
    assert.match(contentType, /text\/event-stream/);
    const result = events.find((e) => e.event === 'result');
    assert.ok(result, JSON.stringify(events.filter((e) => e.event === 'error')));
    const images = result.data.images as Record<string, string>;
    assert.ok(Object.keys(images).length > 1);
    for (const ref of Object.values(images)) assert.match(ref, new RegExp(`^${reg.host}/team/steps@sha256:[0-9a-f]{64}$`));
    const steps = events.filter((e) => e.event === 'progress' && e.data.kind === 'step').map((e) => e.data.step).sort();
    assert.deepEqual(steps, Object.keys(images).sort(), 'one step event per image');
    assert.deepEqual(result.data.files.outcomes, [], 'candies reads no file');
    assert.equal(result.data.files.limitBytes, 50 * 1024 * 1024);
    assert.equal(events.at(-1)!.event, 'result');
  });

  test('POST /api/build on a profile without a registry is a 400 saying what to set', async () => {
    const r = await call(socket, 'POST', '/api/build', { path: NB, profile: 'secure' });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /profile 'secure' has no 'registry'/);
  });
});
