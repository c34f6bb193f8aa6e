/**
 * The backend's schedule routes over real HTTP on a Unix socket, against KFP 2.17.0's own API server (`kfp-real
 * serve`) and a real registry (docker-registry): a schedule made for a notebook builds its images, pins the uploaded
 * version and stores KFP's seconds-first cron; the notebook's schedules are listed with their next three runs; the
 * runs KFP makes for a schedule (created here as KFP's scheduled-workflow controller creates them, with the
 * schedule's `recurring_run_id`) join the run history as Kubeflow runs, once, and are watched; pause, resume, delete.
 * Runs progress only in the fake (swagger-checked, held to KFP by the parity test): there a schedule's run is followed
 * to its end, step by step, as a submitted run is.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { KfpClient } from '../kfp/client.js';
import { staticEndpoint } from '../kfp/endpoint.js';
import { startKfpReal, type KfpRealServer } from '../kfp/testing/kfp-real.js';
import { FakeKfpServer } from '../kfp/testing/fake-server.js';
import { RegistryClient } from '../images/registry.js';
import { pushBaseImage, startRegistry, type TestRegistry } from '../images/testing.js';
import { KubeflowRuntime } from '../runtimes/kubeflow/runtime.js';
import { CANDIES } from '../runs/testing.js';
import type { RunRecord } from '../runs/types.js';
import { startServer, type RunningServer } from './index.js';
import { call, readEvents, type SseEvent } from './testing.js';
import type { ScheduleView } from './schedules.js';

const NB = 'work/candies.ipynb';

describe('backend: schedules on a Kubeflow profile (kfp-real serve)', () => {
  let base: string;
  let root: string;
  let reg: TestRegistry;
  let kfp: KfpRealServer;
  let client: KfpClient;
  let fake: FakeKfpServer;
  let server: RunningServer;
  let socket: string;
  const warnings: string[] = [];

  before(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-schedules-'));
    root = path.join(base, 'root');
    mkdirSync(path.join(root, 'work'), { recursive: true });
    copyFileSync(CANDIES, path.join(root, NB));
    copyFileSync(CANDIES, path.join(root, 'work/other.ipynb'));
    reg = await startRegistry('open');
    const registry = new RegistryClient(reg.clientOptions());
    await pushBaseImage(registry, 'base/python', '3.12', [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }]);
    registry.close();
    kfp = await startKfpReal();
    client = new KfpClient(staticEndpoint(kfp.url));
    fake = new FakeKfpServer({ multiUser: true });
    await fake.start();
    const file = path.join(base, 'profiles.yaml');
    writeFileSync(file, stringify({
      profiles: {
        kf: { namespace: 'kubeflow', registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`, insecureRegistry: true, kfp: { host: kfp.url, auth: 'none', uiUrl: 'http://kfp.example.test' } },
        fake: { namespace: 'team-a', registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`, insecureRegistry: true, kfp: { host: fake.url, auth: 'none' } },
      },
    }));
    const env = { ...process.env, CELLPIPE_PROFILES: file };
    socket = path.join(base, 'backend.sock');
    server = await startServer({
      root,
      socket,
      backend: {
        kubeflow: {
          env,
          stateFile: path.join(base, 'state', 'runs.json'),
          warn: (m) => warnings.push(m),
          makeRuntime: (profile, store) => new KubeflowRuntime({ store, profile, env, kube: null, pollMs: 20, maxPollMs: 60, maxBackoffMs: 100 }),
        },
      },
    });
  });

  after(async () => {
    await server?.close();
    await kfp?.stop();
    await fake?.close();
    await reg?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  const list = async (notebook = NB) => {
    const r = await call(socket, 'GET', `/api/schedules?notebook=${encodeURIComponent(notebook)}&profile=kf`);
    assert.equal(r.status, 200, r.text);
    return r.json as { schedules: ScheduleView[]; recorded: string[] };
  };
  let made: ScheduleView;
  /** The run KFP made for `made` (then cancelled: it stays CANCELING, as nothing runs it here). */
  let firedRunId = '';

  test('POST /api/schedules: images built, the version uploaded, the recurring run pinned to it with KFP\'s 6-field cron and the parameters', async () => {
    const r = await call(socket, 'POST', '/api/schedules', { path: NB, profile: 'kf', cron: '0 6 * * *', parameters: { CANDIES: 7 } });
    assert.equal(r.status, 201, r.text);
    made = r.json.schedule as ScheduleView;
    assert.equal(made.cron, '0 6 * * *');
    assert.equal(made.kfpCron, '0 0 6 * * *');
    assert.equal(made.paused, false);
    assert.equal(made.notebook, NB);
    assert.deepEqual(made.parameters, { CANDIES: 7 });
    assert.equal(made.url, `http://kfp.example.test/#/recurringrun/details/${made.id}`);
    assert.equal(r.json.next.length, 3);
    assert.deepEqual(made.next, r.json.next);
    for (const t of made.next as string[]) assert.match(t, /T06:00:00\.000Z$/);
    assert.ok(new Date(made.next[0]) > new Date());

    const stored = await client.getRecurringRun(made.id);
    assert.equal(stored.trigger?.cron_schedule?.cron, '0 0 6 * * *');
    assert.deepEqual(stored.runtime_config?.parameters, { CANDIES: 7 });
    const ref = stored.pipeline_version_reference!;
    assert.equal(ref.pipeline_version_id, made.pipelineVersionId);
    const version = await client.getPipelineVersion(ref.pipeline_id!, ref.pipeline_version_id!);
    const executors = (version.pipeline_spec as { deploymentSpec: { executors: Record<string, { container: { image: string } }> } }).deploymentSpec.executors;
    const images = Object.values(executors).map((e) => e.container.image);
    assert.equal(images.length, 4);
    for (const image of images) assert.match(image, new RegExp(`^${reg.host}/team/steps@sha256:[0-9a-f]{64}$`), 'the built images, by digest');
  });

  test('mistakes are 400s that say what to fix, and nothing is scheduled', async () => {
    const before = (await client.listRecurringRuns()).length;
    const cases: [Record<string, unknown>, number, RegExp, RegExp?][] = [
      [{ cron: '0 6 * *' }, 400, /has 4 fields, not 5/, /write 5 fields/],
      [{ cron: '0 0 6 * * *' }, 400, /has 6 fields/, /adds KFP's seconds field itself/],
      [{ cron: '0 6 * * *', maxConcurrency: 11 }, 400, /allows 1 to 10 runs/],
      [{ cron: '0 6 30 2 *' }, 400, /never fires/],
      [{ cron: '0 6 * * *', parameters: { CANDIES: 'many' } }, 400, /parameter 'CANDIES' must be an int \(declared in cell \d+, line 1\)/],
      [{ cron: '0 6 * * *', profile: 'nope' }, 400, /unknown target 'nope'/],
      [{}, 400, /field 'cron' is required/],
    ];
    for (const [extra, status, message, hint] of cases) {
      const r = await call(socket, 'POST', '/api/schedules', { path: NB, profile: 'kf', ...extra });
      assert.equal(r.status, status, `${JSON.stringify(extra)}: ${r.text}`);
      assert.match(r.json.error.message, message);
      if (hint) assert.match(r.json.error.hint, hint);
    }
    assert.equal((await client.listRecurringRuns()).length, before);
  });

  test('GET /api/schedules lists the notebook\'s schedules (not another notebook\'s) with their next three runs', async () => {
    const other = await call(socket, 'POST', '/api/schedules', { path: 'work/other.ipynb', profile: 'kf', cron: '@hourly' });
    assert.equal(other.status, 201, other.text);
    const { schedules, recorded } = await list();
    assert.deepEqual(schedules.map((s) => s.id), [made.id]);
    assert.equal(schedules[0].next.length, 3);
    assert.deepEqual(recorded, []);
    assert.deepEqual((await list('work/other.ipynb')).schedules.map((s) => s.id), [other.json.schedule.id]);
    const missing = await call(socket, 'GET', `/api/schedules?notebook=${encodeURIComponent(NB)}`);
    assert.equal(missing.status, 400);
  });

  test('a run KFP made for the schedule joins the run history as a Kubeflow run, once, and is watched', async () => {
    const s = await client.getRecurringRun(made.id);
    // What KFP's scheduled-workflow controller does when the cron fires: a run of the pinned version, naming the schedule.
    const fired = await fetch(`${kfp.url}/apis/v2beta1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        display_name: `${s.display_name}-fired`, experiment_id: s.experiment_id, pipeline_version_reference: s.pipeline_version_reference,
        runtime_config: s.runtime_config, recurring_run_id: s.recurring_run_id,
      }),
    });
    assert.equal(fired.status, 200);
    const kfpRun = (await fired.json()) as { run_id: string; recurring_run_id: string };
    assert.equal(kfpRun.recurring_run_id, made.id, 'KFP keeps the schedule on the run');
    firedRunId = kfpRun.run_id;

    const first = await list();
    assert.equal(first.recorded.length, 1, JSON.stringify(first) + warnings.join('\n'));
    const runId = first.recorded[0];
    assert.deepEqual((await list()).recorded, [], 'a run is recorded once');
    const runs = (await call(socket, 'GET', `/api/runs?notebook=${encodeURIComponent(NB)}`)).json.runs as RunRecord[];
    const rec = runs.find((r) => r.id === runId)!;
    assert.ok(rec, 'in the notebook\'s run history');
    assert.equal(rec.runtime, 'kubeflow');
    assert.equal(rec.profile, 'kf');
    assert.equal(rec.notebook, NB);
    assert.equal(rec.external?.kfpRunId, kfpRun.run_id);
    assert.equal(rec.external?.recurringRunId, made.id);
    assert.deepEqual(rec.parameters, { CANDIES: 7 });
    assert.deepEqual(rec.steps.map((x) => x.name).sort(), ['kid1', 'kid2', 'kid3', 'sack']);
    assert.equal(rec.url, `http://kfp.example.test/#/runs/details/${kfpRun.run_id}`);
    // Watched like a submitted run: the watcher takes the run's lease and writes KFP's state (PENDING → queued).
    for (let i = 0; i < 100; i++) {
      const now = (await call(socket, 'GET', `/api/runs/${runId}`)).json as RunRecord;
      if (now.logWatcher) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const watched = (await call(socket, 'GET', `/api/runs/${runId}`)).json as RunRecord;
    assert.ok(watched.logWatcher, 'a watcher holds the run');
    assert.equal(watched.state, 'queued');
    // Cancel works as on any Kubeflow run: KFP terminates it.
    const c = await call(socket, 'POST', `/api/runs/${runId}/cancel`);
    assert.equal(c.status, 202, c.text);
    assert.equal((await client.getRun(kfpRun.run_id)).state, 'CANCELING');
  });

  test('pause, resume and delete change the schedule in KFP', async () => {
    const paused = await call(socket, 'POST', `/api/schedules/${made.id}/pause?profile=kf`);
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.json.schedule.paused, true);
    assert.deepEqual(paused.json.schedule.next, [], 'no next runs while paused');
    assert.equal((await client.getRecurringRun(made.id)).status, 'DISABLED');
    const resumed = await call(socket, 'POST', `/api/schedules/${made.id}/resume?profile=kf`);
    assert.equal(resumed.json.schedule.paused, false);
    assert.equal(resumed.json.schedule.next.length, 3);
    assert.equal((await client.getRecurringRun(made.id)).status, 'ENABLED');
    // Its run (fired above, then cancelled) is still CANCELING: deleting the schedule would have Kubernetes delete
    // that run's workflow with it (KFP's stack showed such a run RUNNING for ever), so the delete is refused.
    const refused = await call(socket, 'DELETE', `/api/schedules/${made.id}?profile=kf`);
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.json.error.message, new RegExp(`schedule ${made.id} has a run under way \\(Kubeflow run ${firedRunId}\\)`));
    assert.match(refused.json.error.hint, /pause the schedule now and delete it once the run has ended/);
    assert.equal((await client.getRecurringRun(made.id)).status, 'ENABLED', 'still there');
    const noProfile = await call(socket, 'POST', `/api/schedules/${made.id}/pause`);
    assert.equal(noProfile.status, 400);
  });

  test('in the fake, where runs progress, a run of the schedule is followed to its end like a submitted run', async () => {
    const r = await call(socket, 'POST', '/api/schedules', { path: NB, profile: 'fake', cron: '@daily' });
    assert.equal(r.status, 201, r.text);
    const id = (r.json.schedule as ScheduleView).id;
    const fired = fake.fire(id);
    const listed = await call(socket, 'GET', `/api/schedules?notebook=${encodeURIComponent(NB)}&profile=fake`);
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.schedules.map((s: ScheduleView) => s.id), [id]);
    const [runId] = listed.json.recorded as string[];
    assert.ok(runId, listed.text);
    const { events } = await readEvents(socket, `/api/runs/${runId}/events`, { until: (e: SseEvent) => e.event === 'end' });
    const last = events.filter((e) => e.event === 'run').at(-1)!.data as RunRecord;
    assert.equal(last.state, 'succeeded', JSON.stringify(last));
    assert.equal(last.external?.kfpRunId, fired.run_id);
    assert.deepEqual(last.steps.map((x) => [x.name, x.state]).sort(), [['kid1', 'succeeded'], ['kid2', 'succeeded'], ['kid3', 'succeeded'], ['sack', 'succeeded']]);
    // Its run over, the schedule can go.
    const del = await call(socket, 'DELETE', `/api/schedules/${id}?profile=fake`);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { deleted: id });
    const gone = await call(socket, 'GET', `/api/schedules?notebook=${encodeURIComponent(NB)}&profile=fake`);
    assert.deepEqual(gone.json.schedules, []);
    const again = await call(socket, 'DELETE', `/api/schedules/${id}?profile=fake`);
    assert.equal(again.status, 404);
    assert.match(again.json.error.message, /not found/);
    assert.deepEqual(fake.violations, []);
  });
});
