/**
 * `cellpipe schedule` / `cellpipe schedules` as a user runs them — the real CLI process and a profiles file — against
 * KFP 2.17.0's own API server (`kfp-real serve`, started here): the recurring run KFP stores has the seconds-first
 * cron, the parameters, the limits and the pipeline version uploaded for it; editing the notebook does not change it;
 * pause, resume and delete go through KFP's :disable, :enable and DELETE.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCron } from '../../core/cron.js';
import { KfpClient } from '../../kfp/client.js';
import { staticEndpoint } from '../../kfp/endpoint.js';
import { KfpError } from '../../kfp/errors.js';
import { startKfpReal, type KfpRealServer } from '../../kfp/testing/kfp-real.js';
import { RunStore } from '../../runs/store.js';
import { CANDIES, cellpipe } from '../../runs/testing.js';
import { KubeflowRuntime } from '../../runtimes/kubeflow/runtime.js';
import { scheduleNotebook } from '../../runtimes/kubeflow/schedule.js';
import { RegistryClient } from '../../images/registry.js';
import { pushBaseImage, startRegistry, type TestRegistry } from '../../images/testing.js';
import { checkSpec, executorsOf } from '../../kfp/testing/kfp-real.js';
import { stringify } from 'yaml';

describe('cellpipe schedule against KFP\'s own API server (kfp-real serve)', () => {
  let kfp: KfpRealServer;
  let client: KfpClient;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    kfp = await startKfpReal();
    client = new KfpClient(staticEndpoint(kfp.url));
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-schedule-'));
    writeFileSync(join(dir, 'profiles.yaml'), `profiles:\n  kf:\n    namespace: kubeflow\n    kfp:\n      host: ${kfp.url}\n      auth: none\n`);
    env = { CELLPIPE_PROFILES: join(dir, 'profiles.yaml'), CELLPIPE_STORE: join(dir, 'store') };
  });
  after(async () => {
    await kfp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const idOf = (stdout: string) => /^schedule ([0-9a-f-]{36}) {2}runs pipeline version ([0-9a-f-]{36})/m.exec(stdout)!;

  test('a schedule: next three runs shown first; KFP stores the 6-field cron, parameters, limits, window and the uploaded version', async () => {
    const r = await cellpipe(['schedule', CANDIES, '--profile', 'kf', '--cron', '0 6 * * *', '--param', 'CANDIES=7', '--max-concurrency', '3',
      '--catch-up', '--start', '2030-01-01', '--end', '2030-06-30T00:00:00Z', '--no-build'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cron "0 6 \* \* \*" \(KFP: "0 0 6 \* \* \*"\); next runs:\n {2}2030-01-01 06:00 UTC \(Tue\)\n {2}2030-01-02 06:00 UTC \(Wed\)\n {2}2030-01-03 06:00 UTC \(Thu\)\n/);
    for (const stage of ['validate', 'build images', 'upload', 'create schedule']) assert.match(r.stderr, new RegExp(`${stage}\\s+✓`));
    const [, id, versionId] = idOf(r.stdout);
    const s = await client.getRecurringRun(id);
    assert.equal(s.trigger?.cron_schedule?.cron, '0 0 6 * * *');
    assert.equal(s.trigger?.cron_schedule?.start_time, '2030-01-01T00:00:00Z');
    assert.equal(s.trigger?.cron_schedule?.end_time, '2030-06-30T00:00:00Z');
    assert.equal(s.max_concurrency, '3');
    assert.equal(s.no_catchup, undefined, '--catch-up: KFP makes up missed runs (no_catchup false, left out)');
    assert.equal(s.status, 'ENABLED');
    assert.deepEqual(s.runtime_config?.parameters, { CANDIES: 7 });
    assert.equal(s.pipeline_version_reference?.pipeline_version_id, versionId);
    const [version] = await client.listPipelineVersions(s.pipeline_version_reference!.pipeline_id!);
    assert.equal(version.pipeline_version_id, versionId, 'the version uploaded for this schedule');
  });

  test('editing the notebook and scheduling again makes a new version; the first schedule keeps its own', async () => {
    const edited = join(dir, 'candies_sharing.ipynb');
    writeFileSync(edited, readFileSync(CANDIES, 'utf8').replace('CANDIES = 20', 'CANDIES = 30'));
    const first = idOf((await cellpipe(['schedule', CANDIES, '--profile', 'kf', '--cron', '@hourly', '--no-build'], env)).stdout);
    const second = await cellpipe(['schedule', edited, '--profile', 'kf', '--cron', '30 */2 * * 1-5', '--no-build'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /upload\s+✓\s+uploaded a new version/);
    const [, id2, v2] = idOf(second.stdout);
    assert.notEqual(v2, first[2]);
    assert.equal((await client.getRecurringRun(first[1])).pipeline_version_reference?.pipeline_version_id, first[2]);
    assert.deepEqual((await client.getRecurringRun(id2)).runtime_config?.parameters, { CANDIES: 30 }, 'the edited default');
    assert.equal((await client.getRecurringRun(id2)).no_catchup, true, 'no catch-up unless asked');
  });

  test('schedules lists them with the next run; pause, resume and delete change them in KFP', async () => {
    const made = idOf((await cellpipe(['schedule', CANDIES, '--profile', 'kf', '--cron', '15 3 * * 0', '--no-build'], env)).stdout)[1];
    const list = await cellpipe(['schedules', '--profile', 'kf'], env);
    assert.equal(list.code, 0, list.stderr);
    const row = list.stdout.split('\n').find((l) => l.startsWith(made))!;
    assert.match(row, /kf\s+enabled\s+15 3 \* \* 0\s+\d{4}-\d\d-\d\d 03:15 UTC \(Sun\)/);
    const json = JSON.parse((await cellpipe(['schedules', '--json'], env)).stdout) as { recurring_run_id: string; next_run: string; cron: string }[];
    assert.ok(json.length >= 4);
    const mine = json.find((j) => j.recurring_run_id === made)!;
    assert.equal(mine.cron, '15 3 * * 0');
    assert.equal(new Date(mine.next_run).getUTCDay(), 0);
    assert.ok(new Date(mine.next_run) > new Date());

    assert.equal((await cellpipe(['schedule', 'pause', made], env)).code, 0, 'the only profile is used without --profile');
    assert.equal((await client.getRecurringRun(made)).status, 'DISABLED');
    assert.match((await cellpipe(['schedules'], env)).stdout, new RegExp(`${made}\\s+kf\\s+paused\\s+15 3 \\* \\* 0\\s+-`));
    assert.equal((await cellpipe(['schedule', 'resume', made, '--profile', 'kf'], env)).code, 0);
    assert.equal((await client.getRecurringRun(made)).status, 'ENABLED');
    const del = await cellpipe(['schedule', 'delete', made, '--profile', 'kf'], env);
    assert.match(del.stdout, new RegExp(`deleted schedule ${made}`));
    await assert.rejects(client.getRecurringRun(made), (e: unknown) => e instanceof KfpError && e.kind === 'not-found');
    const again = await cellpipe(['schedule', 'delete', made, '--profile', 'kf'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not found/);
  });

  test('mistakes are caught before anything is uploaded: cron, concurrency, times, parameters (with their cell)', async () => {
    const before = (await client.listRecurringRuns()).length;
    const cases: [string[], number, RegExp][] = [
      [['--cron', '0 6 * *'], 2, /has 4 fields, not 5[\s\S]*fix: write 5 fields/],
      [['--cron', '0 0 6 * * *'], 2, /has 6 fields[\s\S]*adds KFP's seconds field itself/],
      [['--cron', '0 6 * * 7'], 2, /day of week 7 is outside 0-6[\s\S]*Sunday as 0/],
      [['--cron', '0 6 * * *', '--max-concurrency', '11'], 2, /allows 1 to 10 runs/],
      [['--cron', '0 6 * * *', '--end', '2020-01-01'], 2, /is in the past/],
      [['--cron', '0 6 * * *', '--start', 'tomorrow'], 2, /--start tomorrow: write an ISO 8601 time/],
      [['--cron', '0 6 * * *', '--param', 'CANDIES=many'], 1, /--param CANDIES=many: CANDIES is an integer \(cell \d+, line 1 of the notebook\)/],
      [['--cron', '0 6 * * *', '--param', 'SWEETS=1'], 1, /no parameter 'SWEETS'[\s\S]*pipeline-parameters cell \(cell \d+\): CANDIES/],
      [[], 2, /--cron "MIN HOUR DOM MON DOW" is required/],
    ];
    for (const [extra, code, message] of cases) {
      const r = await cellpipe(['schedule', CANDIES, '--profile', 'kf', '--no-build', ...extra], env);
      assert.equal(r.code, code, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, extra.join(' '));
    }
    assert.equal((await client.listRecurringRuns()).length, before, 'nothing was scheduled');
    const unknown = await cellpipe(['schedule', 'pause', '00000000-0000-0000-0000-000000000000'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /pause recurring run 0{8}-0{4}-0{4}-0{4}-0{12}: not found/);
  });

  test('with built images the schedule pins the version whose executors run those images by digest', async () => {
    const runtime = new KubeflowRuntime({ store: new RunStore(join(dir, 'store')), profile: { name: 'kf', namespace: 'kubeflow', kfp: { host: kfp.url, auth: 'none' } }, kube: null });
    const images = Object.fromEntries(['sack', 'kid1', 'kid2', 'kid3'].map((s, i) => [s, `127.0.0.1:5000/steps@sha256:${String(i).repeat(64)}`]));
    const r = await scheduleNotebook(runtime, { notebookPath: CANDIES, images, cron: parseCron('0 6 * * *') });
    assert.equal(r.next.length, 3);
    const pinned = r.recurringRun.pipeline_version_reference!;
    const version = (await client.listPipelineVersions(pinned.pipeline_id!)).find((v) => v.pipeline_version_id === pinned.pipeline_version_id)!;
    const executors = (version.pipeline_spec as { deploymentSpec: { executors: Record<string, { container: { image: string } }> } }).deploymentSpec.executors;
    assert.deepEqual(Object.fromEntries(Object.entries(executors).map(([k, v]) => [k.replace('exec-', ''), v.container.image])), images);
  });

  describe('with images built into a real registry (docker-registry)', () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startRegistry('open');
      const registry = new RegistryClient(reg.clientOptions());
      await pushBaseImage(registry, 'base/python', '3.12', [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }]);
      registry.close();
      const profiles = {
        profiles: {
          kf: { namespace: 'kubeflow', kfp: { host: kfp.url, auth: 'none' } },
          built: { namespace: 'kubeflow', registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`, insecureRegistry: true, kfp: { host: kfp.url, auth: 'none' } },
        },
      };
      writeFileSync(join(dir, 'profiles.yaml'), stringify(profiles));
    });
    after(async () => {
      await reg?.stop();
    });

    test('images are built first and the schedule runs the version whose executors use them by digest; unchanged → nothing rebuilt, version reused', async () => {
      const r = await cellpipe(['schedule', CANDIES, '--profile', 'built', '--cron', '0 6 * * *'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /build images\s+✓\s+4 images, 0 unchanged/);
      const [, id, versionId] = idOf(r.stdout);
      const s = await client.getRecurringRun(id);
      const version = (await client.listPipelineVersions(s.pipeline_version_reference!.pipeline_id!)).find((v) => v.pipeline_version_id === versionId)!;
      const spec = version.pipeline_spec as { deploymentSpec: { executors: Record<string, { container: { image: string } }> } };
      const images = Object.values(spec.deploymentSpec.executors).map((e) => e.container.image);
      assert.equal(images.length, 4);
      for (const image of images) assert.match(image, new RegExp(`^${reg.host}/team/steps@sha256:[0-9a-f]{64}$`));
      // What KFP would run for the schedule's runs: the stored version, with the schedule's parameters, through its own compiler.
      const wf = await checkSpec(stringify(spec), s.runtime_config?.parameters ?? {});
      assert.ok(wf.ok, wf.error);
      assert.deepEqual(Object.values(executorsOf(wf.workflow!)).map((e) => e.container.image).sort(), images.slice().sort());

      const again = await cellpipe(['schedule', CANDIES, '--profile', 'built', '--cron', '0 7 * * *'], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /build images\s+✓\s+4 images, 4 unchanged/);
      assert.match(again.stderr, /upload\s+✓\s+reused the version with this spec/);
      assert.equal(idOf(again.stdout)[2], versionId);
    });
  });
});
