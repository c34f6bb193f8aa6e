/**
 * Kubeflow runs on KFP 2.17.0's own stack (scripts/test-kfp.sh: `cluster.sh start --kfp`): cellpipe builds the step
 * images and submits through KFP's real API server; Argo's controller runs the workflow, KFP's driver resolves the
 * inputs through ML Metadata, KFP's launcher runs the step in its image and moves the values between steps through
 * SeaweedFS, and the persistence agent writes the `run_details` cellpipe reads. Nothing here is a stand-in.
 * Skipped unless the stack's environment is set (CELLPIPE_KFP_HOST, CELLPIPE_PROFILES from `cluster.sh env`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { KfpClient, type KfpRecurringRun } from '../../kfp/client.js';
import { manySteps } from '../../kfp/testing/many-steps.js';
import { connect } from '../../kube/connect.js';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { loadProfile, type Profile } from '../../kube/profile.js';
import { RunStore } from '../../runs/store.js';
import { BIN } from '../../runs/testing.js';
import type { RunRecord, StepRecord } from '../../runs/types.js';
import { KubeflowRuntime } from './runtime.js';
import { describeSchedule, notebookSchedules, recordScheduledRuns } from './schedule.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
const NOTEBOOKS = join(REPO, 'test/e2e/notebooks');
const stack = process.env.CELLPIPE_KFP_HOST && process.env.CELLPIPE_PROFILES ? undefined : 'needs KFP\'s stack (scripts/test-kfp.sh)';
/** A run on the real stack: driver, launcher and executor pods per step on a shared 2-core machine. */
const RUN_LIMIT_MS = 240_000;

async function withLimit<T>(p: Promise<T>, what: string, ms = RUN_LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms / 1000}s`)), ms)));
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function logText(runtime: KubeflowRuntime, runId: string, step: string): Promise<string> {
  const lines: string[] = [];
  for await (const l of runtime.logs(runId, step)) lines.push(l.text);
  return lines.join('\n');
}

/** Polls `check` until it gives a value (at most `ms`). */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = RUN_LIMIT_MS, every = 1000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not seen within ${ms / 1000}s`);
    await new Promise((res) => setTimeout(res, every));
  }
}

/** A notebook of code cells, each `[tags, source]`. */
function notebook(cells: [string[], string][]): string {
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map(([tags, source]) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null })),
  });
}

/** With CELLPIPE_KFP_RECORD_RUNS=DIR, KFP's run as its API returns it is kept there (the real shapes states.ts reads). */
async function keepRun(client: KfpClient, kfpRunId: string, name: string): Promise<void> {
  const to = process.env.CELLPIPE_KFP_RECORD_RUNS;
  if (!to) return;
  mkdirSync(to, { recursive: true });
  writeFileSync(join(to, `${name}.json`), JSON.stringify(await client.getRun(kfpRunId), null, 1));
}

/** `cellpipe <args>` as a real process (the profiles file and store of the suite); its exit code and output. */
function cli(args: string[], env: NodeJS.ProcessEnv, cwd = NOTEBOOKS): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: RUN_LIMIT_MS }, (err, stdout, stderr) =>
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function keepSchedule(r: KfpRecurringRun, name: string): Promise<void> {
  const to = process.env.CELLPIPE_KFP_RECORD_RUNS;
  if (!to) return;
  mkdirSync(to, { recursive: true });
  writeFileSync(join(to, `${name}.json`), JSON.stringify(r, null, 1));
}

function states(r: RunRecord): Record<string, string> {
  return Object.fromEntries(r.steps.map((s) => [s.name, s.state]));
}

describe('Kubeflow runs on KFP 2.17\'s own stack', { skip: stack, concurrency: false }, () => {
  let profile: Profile;
  let dir: string;
  let runtime: KubeflowRuntime;
  const warned = new Map<string, string[]>();
  before(async () => {
    profile = await loadProfile('test');
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-stack-'));
    runtime = new KubeflowRuntime({ store: new RunStore(dir), profile });
    // What the runtime could not do (read pod logs, reach KFP) is printed: a failing assertion alone would hide it.
    runtime.on('warning', (runId, message) => {
      console.log(`warning (run ${runId}): ${message}`);
      warned.set(runId, [...(warned.get(runId) ?? []), message]);
    });
  });
  after(async () => {
    await runtime?.stopWatching();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a built notebook runs: the value one step computes reaches the next through KFP\'s artifacts; a re-submit is all cache hits', async () => {
    const nb = join(NOTEBOOKS, 'kubeflow_values.ipynb');
    const first = await runtime.submitNotebook({ notebookPath: nb, watch: false });
    const done = await withLimit(runtime.watch(first.runId), 'the first run');
    assert.equal(done.state, 'succeeded', JSON.stringify(done.steps, null, 1));
    assert.deepEqual(states(done), { measure: 'succeeded', summarise: 'succeeded' });
    // 3 × (2, 3, 5, 7, 11) → mean 16.8, computed in `summarise` from what `measure` stored.
    assert.match(await logText(runtime, first.runId, 'summarise'), /mean reading from measure: 16\.8/);
    assert.match(await logText(runtime, first.runId, 'measure'), /measured 5 readings/);
    for (const s of done.steps) assert.ok(s.pod, `step ${s.name} names its pod`);

    const again = await runtime.submitNotebook({ notebookPath: nb, watch: false });
    assert.equal(again.upload.pipelineVersionId, first.upload.pipelineVersionId, 'the same spec, the same version');
    const cached = await withLimit(runtime.watch(again.runId), 'the re-submitted run');
    assert.equal(cached.state, 'succeeded');
    assert.deepEqual(states(cached), { measure: 'cached', summarise: 'cached' });
  });

  test('a failing step fails the run with the cell that raised; the step after it never runs', async () => {
    const r = await runtime.submitNotebook({ notebookPath: join(NOTEBOOKS, 'failing.ipynb'), watch: false });
    const done = await withLimit(runtime.watch(r.runId), 'the failing run');
    assert.equal(done.state, 'failed');
    const divide = done.steps.find((s) => s.name === 'divide')!;
    assert.equal(divide.state, 'failed');
    assert.equal(done.steps.find((s) => s.name === 'load')!.state, 'succeeded');
    assert.match(await logText(runtime, r.runId, 'divide'), /ZeroDivisionError/);
    // KFP's task details carry no error text: the step's log names the cell that raised.
    assert.match(divide.error?.message ?? '', /ZeroDivisionError/, 'the step says why');
    assert.equal(divide.error?.cell, 1, 'the cell that raised (0-based: cell 2 as JupyterLab shows it)');
  });

  test('a plain spec of 20 steps (no images: the step runtime mounted from its ConfigMap) runs to its end within Argo\'s Workflow size limit', async () => {
    const nb = join(dir, 'twenty.ipynb');
    writeFileSync(nb, manySteps(20));
    const r = await runtime.submitNotebook({ notebookPath: nb, images: 'inline', watch: false });
    assert.ok(r.yaml.length < 80_000, `a small spec (${r.yaml.length} bytes)`);
    const done = await withLimit(runtime.watch(r.runId), 'the 20-step run', 600_000);
    assert.equal(done.state, 'succeeded', JSON.stringify(states(done)));
    assert.equal(done.steps.length, 20);
    for (const s of done.steps) assert.equal(s.state, 'succeeded', s.name);
    assert.match(await logText(runtime, r.runId, 's19'), /step 19: 25/);
    // What Argo keeps of the run (its 1 MiB limit applies to this object's JSON, node statuses gzip'd when needed).
    const conn = connect({ ...profile, namespace: done.external?.namespace ?? profile.namespace });
    const list = await conn.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: conn.namespace, plural: 'workflows', labelSelector: `pipeline/runid=${done.external!.kfpRunId}` }) as { items: { status?: { compressedNodes?: string } }[] };
    const wf = list.items[0];
    console.log(`20-step plain spec: spec ${(r.yaml.length / 1024).toFixed(0)} KB, Workflow ${(JSON.stringify(wf).length / 1024).toFixed(0)} KB${wf?.status?.compressedNodes ? ' (node statuses compressed)' : ''}`);
  });

  test("a run nobody watched: once its pods are deleted, its steps' logs are read back from KFP's object store (SeaweedFS)", async () => {
    // The stack's SeaweedFS, and the namespace's mlpipeline-minio-artifact Secret its launcher uploads with.
    const withStore: Profile = { ...profile, kfp: { ...profile.kfp, objectStore: { endpoint: process.env.CELLPIPE_KFP_S3 } } };
    const reader = new KubeflowRuntime({ store: new RunStore(dir), profile: withStore });
    const warnings: string[] = [];
    reader.on('warning', (_id, message) => warnings.push(message));
    // Cache off: a cached step runs no executor, so KFP would have no log of it.
    const r = await reader.submitNotebook({ notebookPath: join(NOTEBOOKS, 'kubeflow_values.ipynb'), watch: false, select: { noCache: true } });
    const kfpRunId = r.record.external!.kfpRunId!;
    const client = new KfpClient((await reader.kfp()).endpoint);
    await withLimit((async () => {
      for (;;) {
        const state = (await client.getRun(kfpRunId)).state;
        if (state && ['SUCCEEDED', 'FAILED', 'CANCELED', 'SKIPPED'].includes(state)) return;
        await new Promise((res) => setTimeout(res, 2000));
      }
    })(), 'the unwatched run');
    const conn = connect({ ...profile, namespace: r.record.external?.namespace ?? profile.namespace });
    await conn.core.deleteCollectionNamespacedPod({ namespace: conn.namespace, labelSelector: `pipeline/runid=${kfpRunId}` });
    const done = (await reader.refresh(r.runId)).record;
    assert.equal(done.state, 'succeeded', JSON.stringify(states(done)));
    assert.deepEqual(warnings, []);
    const measure = await logText(reader, r.runId, 'measure');
    assert.match(measure, /^this log was read back from KFP's object store: the step's pod log was not followed\n/);
    assert.match(measure, /measured 5 readings/);
    assert.match(await logText(reader, r.runId, 'summarise'), /mean reading from measure: 16\.8/);
  });

  test("a step's inputs and outputs come into a kernel from the stack's SeaweedFS (cellpipe fetch, then cellpipe.load), as the pods saw them", async () => {
    const withStore: Profile = { ...profile, kfp: { ...profile.kfp, objectStore: { endpoint: process.env.CELLPIPE_KFP_S3 } } };
    const reader = new KubeflowRuntime({ store: new RunStore(dir), profile: withStore });
    reader.on('warning', (runId, message) => console.log(`warning (run ${runId}): ${message}`));
    // Cache off: both steps execute in this KFP run, so their artifacts are under its own folder.
    const r = await reader.submitNotebook({ notebookPath: join(NOTEBOOKS, 'kubeflow_values.ipynb'), watch: false, select: { noCache: true } });
    const done = await withLimit(reader.watch(r.runId), 'the run whose values are loaded');
    assert.equal(done.state, 'succeeded', JSON.stringify(states(done)));
    const { fetchStepArtifacts } = await import('./step-artifacts.js');
    const inputs = await fetchStepArtifacts(reader, done, 'summarise', 'inputs');
    assert.deepEqual(Object.keys(inputs.manifest.values), ['readings']);
    assert.equal(inputs.manifest.values.readings.step, 'measure');
    assert.match(inputs.manifest.values.readings.source, new RegExp(`/${done.external!.kfpRunId}/measure/[^/]+/readings/$`));
    const outputs = await fetchStepArtifacts(reader, done, 'measure', 'outputs');
    assert.deepEqual(Object.keys(outputs.manifest.values), ['readings']);
    assert.deepEqual(outputs.manifest.parameters, {});
    const first = await fetchStepArtifacts(reader, done, 'measure', 'inputs');
    assert.deepEqual(first.manifest, { ...first.manifest, values: {}, parameters: { SCALE: 3 } }, 'a first step reads only its parameter');
    // The kernel's side, as %cellpipe load runs it: what was fetched is read without the cluster.
    const py = join(REPO, '.venv/bin/python');
    const code = `import cellpipe, json\nprint(json.dumps([cellpipe.load('summarise', run=${JSON.stringify(done.id)}, store=${JSON.stringify(dir)}), cellpipe.load('measure', run=${JSON.stringify(done.id)}, what='outputs', store=${JSON.stringify(dir)}), cellpipe.load('measure', run=${JSON.stringify(done.id)}, store=${JSON.stringify(dir)})]))`;
    const { execFileSync } = await import('node:child_process');
    const [loadedInputs, loadedOutputs, measureInputs] = JSON.parse(execFileSync(py, ['-c', code], { encoding: 'utf8' }).trim().split('\n').at(-1)!);
    assert.deepEqual(loadedInputs, { readings: [6, 9, 15, 21, 33] }, 'what summarise read: measure\'s list (summarise reads no parameter)');
    assert.deepEqual(loadedOutputs, { readings: [6, 9, 15, 21, 33] });
    assert.deepEqual(measureInputs, { SCALE: 3 });
  });

  test('terminate: a running step is cancelled, the step after it never starts', async () => {
    const r = await runtime.submitNotebook({ notebookPath: join(NOTEBOOKS, 'long_running.ipynb'), watch: false });
    const watching = runtime.watch(r.runId);
    const client = new KfpClient((await runtime.kfp()).endpoint);
    // Cancel once the slow step's pod prints: it really runs.
    await withLimit((async () => {
      for (;;) {
        if (/tick 2/.test(await logText(runtime, r.runId, 'slow'))) return;
        await new Promise((res) => setTimeout(res, 500));
      }
    })(), 'the slow step printing');
    await runtime.cancel(r.runId);
    const done = await withLimit(watching, 'the terminated run');
    assert.equal(done.state, 'cancelled');
    assert.equal(done.steps.find((s) => s.name === 'slow')!.state, 'cancelled');
    assert.notEqual(done.steps.find((s) => s.name === 'after')!.state, 'succeeded');
    const kfpRun = await client.getRun(done.external!.kfpRunId!);
    assert.ok(['CANCELED', 'FAILED', 'CANCELING'].includes(kfpRun.state ?? ''), `KFP says ${kfpRun.state}`);
  });
  test('a recurring run made as `cellpipe schedule` makes it fires through KFP\'s scheduled-workflow controller; its run joins the run history', async () => {
    // Scheduled from the notebooks' folder: the schedule names the notebook as given there.
    const nb = 'kubeflow_values.ipynb';
    const env = { CELLPIPE_PROFILES: process.env.CELLPIPE_PROFILES, CELLPIPE_STORE: dir };
    const client = new KfpClient((await runtime.kfp()).endpoint);
    // Every minute, cron's finest (cellpipe writes 5 fields; KFP's controller looks at a schedule on every resync, 30 s).
    const made = await cli(['schedule', nb, '--profile', 'test', '--cron', '* * * * *', '--json'], env);
    assert.equal(made.code, 0, made.stderr + made.stdout);
    const schedule = JSON.parse(made.stdout.slice(made.stdout.indexOf('\n{') + 1)) as KfpRecurringRun;
    const id = schedule.recurring_run_id;
    try {
      // What the sidebar's schedule listing does: find this notebook's schedules, record the runs KFP made for them.
      const t0 = Date.now();
      const recorded = await until('a run of the schedule', async () => {
        const mine = await notebookSchedules(client, undefined, [nb, join(NOTEBOOKS, nb)]);
        assert.ok(mine.some((s) => s.recurring_run_id === id), 'the schedule is found as the notebook\'s');
        const ids = await recordScheduledRuns(runtime, mine, undefined);
        return ids.length ? ids : undefined;
      }, 150_000, 3000);
      console.log(`the schedule's first run was recorded ${((Date.now() - t0) / 1000).toFixed(0)}s after it was made`);
      assert.equal(recorded.length, 1, `one run (${recorded.join(', ')})`);
      // Paused as the sidebar's button does (through the CLI here): no more runs.
      const paused = await cli(['schedule', 'pause', id, '--profile', 'test'], env);
      assert.equal(paused.code, 0, paused.stderr);
      const now = await client.getRecurringRun(id);
      await keepSchedule(now, 'schedule-paused');
      assert.equal(describeSchedule(now).paused, true, `KFP says mode ${now.mode}, status ${now.status}`);

      const done = await withLimit(runtime.watch(recorded[0]), 'the scheduled run');
      await keepRun(client, done.external!.kfpRunId!, 'scheduled');
      assert.equal(done.state, 'succeeded', JSON.stringify(done.steps, null, 1));
      assert.equal(done.external?.recurringRunId, id);
      assert.equal(done.notebook, nb, 'recorded as the notebook it was scheduled from');
      // The same images and spec as the runs above: KFP's cache may answer (a run of its own, all cache hits).
      for (const s of done.steps) assert.ok(['succeeded', 'cached'].includes(s.state), `${s.name}: ${s.state}`);
      // Deleted only now: KFP's Workflows are owned by their ScheduledWorkflow, so deleting a schedule while its run
      // goes on has Kubernetes delete that run's Workflow, and KFP shows the run RUNNING for ever.
      const deleted = await cli(['schedule', 'delete', id, '--profile', 'test'], env);
      assert.equal(deleted.code, 0, deleted.stderr);
      // `cellpipe runs` lists it with the others.
      const listed = await cli(['runs', '--json'], env);
      assert.equal(listed.code, 0, listed.stderr);
      const runs = JSON.parse(listed.stdout) as RunRecord[];
      const mine = runs.find((r) => r.id === recorded[0]);
      assert.ok(mine, `cellpipe runs lists ${recorded[0]}`);
      assert.equal(mine.state, 'succeeded');
      assert.equal(mine.external?.kfpRunId, done.external?.kfpRunId);
    } finally {
      // After a failed assertion: no more runs, and none of the schedule's left running on the node.
      await client.setRecurringRunEnabled(id, false).catch(() => {});
      for (const run of (await client.listRuns({ pageSize: 20 })).runs) {
        if (run.recurring_run_id === id && run.state && !['SUCCEEDED', 'FAILED', 'CANCELED', 'SKIPPED'].includes(run.state)) await client.terminateRun(run.run_id).catch(() => {});
      }
      await client.deleteRecurringRun(id).catch(() => {});
    }
  });

  test('a step that cannot start says why: its pod waits for a GPU no node has, and the step shows the scheduler\'s reason until the run is terminated', async () => {
    const nb = join(dir, 'gpu.ipynb');
    writeFileSync(nb, notebook([[['step:train', 'limit:nvidia.com/gpu:1'], 'print("trained on a GPU")']]));
    const r = await runtime.submitNotebook({ notebookPath: nb, images: 'inline', watch: false });
    const kfpRunId = r.record.external!.kfpRunId!;
    const client = new KfpClient((await runtime.kfp()).endpoint);
    const watching = runtime.watch(r.runId);
    let waiting: StepRecord;
    try {
      waiting = await until('the step saying why it waits', async () => {
        const s = (await runtime.store.get(r.runId))?.steps.find((x) => x.name === 'train');
        return s?.preparing ? s : undefined;
      });
      await keepRun(client, kfpRunId, 'gpu-pending');
    } finally {
      await runtime.cancel(r.runId);
    }
    assert.match(waiting.preparing!.what, /^waiting for a node: .*Insufficient nvidia\.com\/gpu.* — no node has the nvidia\.com\/gpu it asks for/);
    assert.ok(['pending', 'running'].includes(waiting.state), `the step waits (${waiting.state})`);
    assert.match(await logText(runtime, r.runId, 'train'), /Insufficient nvidia\.com\/gpu/, 'the step log says it too');
    const done = await withLimit(watching, 'the terminated run');
    await keepRun(client, kfpRunId, 'gpu-terminated');
    assert.equal(done.state, 'cancelled');
    const train = done.steps.find((s) => s.name === 'train')!;
    assert.equal(train.state, 'cancelled');
    assert.equal(train.exitCode, undefined, 'it never ran');
    // Its pod deleted by the terminate before anyone read how it ended: nothing to warn about.
    assert.deepEqual(warned.get(r.runId) ?? [], []);
    // Terminating the run takes its waiting pod away: nothing of it is left Pending on the node.
    const conn = connect({ ...profile, namespace: done.external?.namespace ?? profile.namespace });
    await until('no pod of the run left Pending', async () => {
      const pods = await conn.core.listNamespacedPod({ namespace: conn.namespace, labelSelector: `pipeline/runid=${kfpRunId}` });
      return pods.items.some((p) => p.status?.phase === 'Pending') ? undefined : true;
    }, 60_000);
  });

  test('a step killed at its memory limit fails the run, and the step says it was OOM-killed', async () => {
    const nb = join(dir, 'memory.ipynb');
    writeFileSync(nb, notebook([
      [['step:hog', 'limit:memory:256Mi'], 'held = []\nfor i in range(32):\n    held.append(b"x" * (64 * 1024 * 1024))\n    print(f"holding {64 * (i + 1)} MiB", flush=True)'],
      [['step:after', 'prev:hog'], 'print("never reached")'],
    ]));
    const r = await runtime.submitNotebook({ notebookPath: nb, images: 'inline', watch: false });
    const client = new KfpClient((await runtime.kfp()).endpoint);
    const done = await withLimit(runtime.watch(r.runId), 'the run over its memory limit');
    await keepRun(client, r.record.external!.kfpRunId!, 'oom');
    assert.equal(done.state, 'failed');
    const hog = done.steps.find((s) => s.name === 'hog')!;
    assert.equal(hog.state, 'failed');
    assert.equal(hog.error?.type, 'OOMKilled', JSON.stringify(hog));
    assert.match(hog.error!.message, /^the step was killed for using more memory than its limit \(256Mi\)/);
    const log = await logText(runtime, r.runId, 'hog');
    assert.match(log, /holding 64 MiB/, 'it ran');
    assert.match(log, /killed for using more memory than its limit/, 'its log says how it ended');
    assert.equal(done.steps.find((s) => s.name === 'after')!.state, 'skipped');
  });
});
