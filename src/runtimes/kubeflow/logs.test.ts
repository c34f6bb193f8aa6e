/**
 * Step logs of a Kubeflow run, streamed from step pods that run real containers on the test cluster's kubelet
 * node into the run store, while the fake KFP API server (moved by hand) reports the task states. Each pod prints
 * what the test feeds it through a file (echoFileScript), so the test decides when each line is written.
 * The pods carry what KFP's API server and Argo put on executor pods: label `pipeline/runid=<run id>` and
 * annotation `workflows.argoproj.io/node-name=<workflow>.root.<task>.executor`, container `main`.
 * Skipped without a cluster (run through `bash scripts/test-k8s.sh`, or with `eval "$(bash scripts/k8s/cluster.sh env)"`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeKfpServer } from '../../kfp/testing/fake-server.js';
import { KfpClient } from '../../kfp/client.js';
import { staticEndpoint } from '../../kfp/endpoint.js';
import { RunStore } from '../../runs/store.js';
import { readStepCellOutputs } from '../../runs/outputs.js';
import { deflateSync } from 'node:zlib';
import { SKIP_NO_REAL_NODE, apiAddress, connectThrough, createRealPod, echoFileScript, feedLines, freshNamespace, newInputFile, tcpProxy, testCluster, waitFor, waitForPhase, type TestCluster } from '../../kube/testing.js';
import { KubeflowRuntime } from './runtime.js';
import type { KubeConnection } from '../../kube/connect.js';

const found = testCluster();
const cluster = found?.nodeKind === 'real' ? found : undefined;
const SKIP_NO_CLUSTER = SKIP_NO_REAL_NODE;

/** A runtime over a store in `dir` that asks the fake KFP and reads pods in `ns` (through `kube`, else directly), polling fast. */
function quickRuntime(dir: string, ns: { name: string; conn: KubeConnection }, fake: FakeKfpServer, kube: KubeConnection = ns.conn) {
  const store = new RunStore(dir);
  const runtime = new KubeflowRuntime({
    store,
    profile: { name: 'k', namespace: ns.name },
    client: new KfpClient(staticEndpoint(fake.url, { namespace: ns.name })),
    kube,
    pollMs: 20,
    maxPollMs: 50,
  });
  return { store, runtime };
}

/** A fresh namespace, a fake KFP moved by hand and a store directory for `fn`; all removed afterwards. */
async function inScene(c: TestCluster, prefix: string, fn: (s: { ns: Awaited<ReturnType<typeof freshNamespace>>; fake: FakeKfpServer; dir: string }) => Promise<void>): Promise<void> {
  const ns = await freshNamespace(c, prefix);
  const fake = new FakeKfpServer({ progress: 'manual' });
  await fake.start();
  const dir = mkdtempSync(join(tmpdir(), `cellpipe-${prefix}-`));
  try {
    await fn({ ns, fake, dir });
  } finally {
    await fake.close();
    await ns.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Submits candies_sharing, marks it running in the fake and starts watching it; collects the warnings. */
async function startWatchedRun(runtime: KubeflowRuntime, fake: FakeKfpServer) {
  const warnings: string[] = [];
  runtime.on('warning', (_id, m) => warnings.push(m));
  const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
  const kfpId = r.record.external!.kfpRunId;
  fake.setRunState(kfpId, 'RUNNING');
  return { r, kfpId, warnings, watching: runtime.watch(r.runId), wf: `candies-sharing-${kfpId.slice(0, 5)}` };
}

/** A step's stored log lines (what the pods printed; cellpipe's own system lines left out). */
async function storedLines(store: RunStore, runId: string, step: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of store.readLogs(runId, step)) if (l.stream !== 'system') out.push(l.text);
  return out;
}

/** Starts the executor pod of `task` as KFP's Argo labels it, printing what is fed to the returned file. */
async function startExecutorPod(c: TestCluster, conn: KubeConnection, kfpId: string, wf: string, pod: string, task: string, script?: string, memoryLimit?: string): Promise<string> {
  const input = await newInputFile(c, task);
  await createRealPod(conn, c, pod, {
    labels: { 'pipeline/runid': kfpId },
    annotations: { 'workflows.argoproj.io/node-name': `${wf}.root.${task}.executor` },
    script: script ?? echoFileScript(input.name),
    memoryLimit,
  });
  return input.path;
}

/** Ends a pod started by startExecutorPod: its container exits 0. */
const finish = (file: string) => feedLines(file, ['__exit 0__']);
const feed = (file: string, lines: string[]) => feedLines(file, lines);
const CANDIES = fileURLToPath(new URL('../../../../shared/corpus/kale/candies_sharing.ipynb', import.meta.url));

describe('Kubeflow runs: step logs from the pods into the run store', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  const c = cluster!;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let fake: FakeKfpServer;
  let dir: string;
  before(async () => {
    ns = await freshNamespace(c, 'kfp');
    fake = new FakeKfpServer({ progress: 'manual' });
    await fake.start();
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-logs-'));
  });
  after(async () => {
    await fake?.close();
    await ns?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every step\'s log reaches the store while the run goes, the step records name their pods, and the logs outlive the pods', async () => {
    const { store, runtime } = quickRuntime(dir, ns, fake);
    const { r, kfpId, warnings, watching, wf } = await startWatchedRun(runtime, fake);
    // A driver pod of the same run: not a step, its log must not land anywhere.
    await createRealPod(ns.conn, c, `${wf}-system-container-driver-1`, {
      labels: { 'pipeline/runid': kfpId }, annotations: { 'workflows.argoproj.io/node-name': `${wf}.root.sack-driver` }, script: 'echo driver output',
    });
    const pods: Record<string, string> = {};
    for (const [i, task] of ['sack', 'kid1', 'kid2', 'kid3'].entries()) {
      const pod = `${wf}-system-container-impl-${i}`;
      pods[task] = pod;
      const file = await startExecutorPod(c, ns.conn, kfpId, wf, pod, task);
      fake.setRunState(kfpId, 'RUNNING', { [task]: 'RUNNING' });
      await feed(file, [`${task}: started`, `${task}: working`]);
      await waitFor(`${task} log lines in the store`, async () => {
        const lines: string[] = [];
        for await (const l of store.readLogs(r.runId, task)) lines.push(l.text);
        return lines.includes(`${task}: working`);
      });
      await feed(file, [`${task}: done`]);
      await finish(file);
      await waitForPhase(ns.conn, pod, 'Succeeded');
      fake.setRunState(kfpId, 'RUNNING', { [task]: 'SUCCEEDED' });
    }
    fake.setRunState(kfpId, 'SUCCEEDED');
    const final = await watching;
    assert.equal(final.state, 'succeeded');
    for (const s of final.steps) assert.equal(s.pod, pods[s.name], `step ${s.name} names its pod`);
    // The pods go away (as after KFP's garbage collection); the logs stay readable.
    for (const pod of Object.values(pods)) await ns.conn.core.deleteNamespacedPod({ name: pod, namespace: ns.name, gracePeriodSeconds: 0 });
    for (const task of Object.keys(pods)) {
      const lines: string[] = [];
      for await (const l of runtime.logs(r.runId, task)) if (l.stream !== 'system') lines.push(l.text);
      assert.deepEqual(lines, [`${task}: started`, `${task}: working`, `${task}: done`]);
    }
    assert.ok(!warnings.some((w) => /logs stopped|not available/.test(w)), warnings.join('\n'));
  });
});

describe('Kubeflow runs: cell outputs through the pod log', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  const c = cluster!;
  test('the outputs a step pod writes to its log land in the run store as a local step\'s do, and not in the step\'s log', async () => {
    await inScene(c, 'kfp-outputs', async ({ ns, fake, dir }) => {
      const { store, runtime } = quickRuntime(dir, ns, fake);
      const { r, kfpId, watching, wf } = await startWatchedRun(runtime, fake);
      const doc = { format: 'cellpipe.cell-outputs/v1', step: 'sack', cells: { '4': { id: 'c4', executionCount: 1, outputs: [{ output_type: 'stream', name: 'stdout', text: 'twenty candies\n' }] } } };
      // As the step runtime writes them (--cell-outputs-log stderr): numbered chunks of zlib + base64.
      const data = deflateSync(Buffer.from(JSON.stringify(doc))).toString('base64');
      const chunks = data.match(/.{1,40}/g)!;
      const script = ['echo twenty candies', ...chunks.map((ch, i) => `echo '[cellpipe] cell-outputs ${i + 1}/${chunks.length} ${ch}' >&2`)].join('\n');
      const pod = `${wf}-system-container-impl-0`;
      await startExecutorPod(c, ns.conn, kfpId, wf, pod, 'sack', script);
      fake.setRunState(kfpId, 'RUNNING', { sack: 'RUNNING' });
      await waitForPhase(ns.conn, pod, 'Succeeded');
      fake.setRunState(kfpId, 'FAILED', { sack: 'SUCCEEDED', kid1: 'FAILED' });
      const final = await watching;
      const got = readStepCellOutputs(store, final, 'sack');
      assert.ok(got, 'the step record points at its outputs');
      assert.deepEqual(got.cells, doc.cells);
      assert.deepEqual(await storedLines(store, r.runId, 'sack'), ['twenty candies'], 'the chunks are not log lines');
    });
  });
});

describe('Kubeflow runs: a step killed at its memory limit', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  const c = cluster!;
  test('the step record says it was OOM-killed, with the limit and what to do, and its log says so after what it printed', async () => {
    await inScene(c, 'kfp-oom', async ({ ns, fake, dir }) => {
      const { store, runtime } = quickRuntime(dir, ns, fake);
      const { r, kfpId, watching, wf } = await startWatchedRun(runtime, fake);
      const pod = `${wf}-system-container-impl-0`;
      // 200 MB into a shell variable under a 32Mi limit: the kernel's OOM killer ends the container (exit 137).
      await startExecutorPod(c, ns.conn, kfpId, wf, pod, 'sack', 'echo "filling memory"; x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo "not reached"', '32Mi');
      fake.setRunState(kfpId, 'RUNNING', { sack: 'RUNNING' });
      const ended = await waitForPhase(ns.conn, pod, 'Failed', 60_000);
      assert.equal(ended.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'OOMKilled', 'the real kubelet reports the OOM kill');
      fake.setRunState(kfpId, 'FAILED', { sack: 'FAILED' });
      const final = await watching;
      const sack = final.steps.find((s) => s.name === 'sack')!;
      assert.equal(sack.state, 'failed');
      assert.equal(sack.exitCode, 137);
      assert.deepEqual(sack.error, { type: 'OOMKilled', message: 'the step was killed for using more memory than its limit (32Mi): raise its limit:memory tag or make it use less' });
      const lines: string[] = [];
      for await (const l of store.readLogs(r.runId, 'sack')) lines.push(l.text);
      assert.deepEqual(lines.filter((l) => /filling memory|not reached|killed for using more memory/.test(l)), ['filling memory', sack.error!.message]);
    });
  });
});

describe('Kubeflow runs: a step that is over before its log is read', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  const c = cluster!;
  test('keeps its state until its whole log is stored, so a follower that stops at the step\'s end misses nothing', async () => {
    await inScene(c, 'kfp-late', async ({ ns, fake, dir }) => {
      const { store, runtime } = quickRuntime(dir, ns, fake);
      const r = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
      const kfpId = r.record.external!.kfpRunId;
      const wf = `candies-sharing-${kfpId.slice(0, 5)}`;
      // Every task ran and ended before anyone watched: KFP already says SUCCEEDED for all of them.
      const expected: Record<string, string[]> = {};
      for (const [i, task] of ['sack', 'kid1', 'kid2', 'kid3'].entries()) {
        const pod = `${wf}-system-container-impl-${i}`;
        expected[task] = Array.from({ length: 50 }, (_, n) => `${task} line ${n}`);
        await startExecutorPod(c, ns.conn, kfpId, wf, pod, task, `i=0; while [ $i -lt 50 ]; do echo "${task} line $i"; i=$((i + 1)); done`);
        await waitForPhase(ns.conn, pod, 'Succeeded');
      }
      fake.setRunState(kfpId, 'SUCCEEDED', { sack: 'SUCCEEDED', kid1: 'SUCCEEDED', kid2: 'SUCCEEDED', kid3: 'SUCCEEDED' });
      // What a log follower sees at the moment each step turns terminal in the store.
      const atEnd: Partial<Record<string, Promise<string[]>>> = {};
      runtime.on('change', (rec) => {
        for (const s of rec.steps) {
          if (s.state !== 'succeeded' || atEnd[s.name]) continue;
          atEnd[s.name] = (async () => {
            const lines: string[] = [];
            for await (const l of store.readLogs(r.runId, s.name)) if (l.stream !== 'system') lines.push(l.text);
            return lines;
          })();
        }
      });
      const final = await runtime.watch(r.runId);
      assert.equal(final.state, 'succeeded');
      for (const task of Object.keys(expected)) assert.deepEqual(await atEnd[task], expected[task], `${task}: the whole log was stored before the step ended`);
    });
  });
});

describe('Kubeflow runs watched by two processes (the backend and a CLI --watch)', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  const c = cluster!;
  test('one streams the pod logs, the other shows the stored lines; when the first dies the second takes over, and every line is stored once', async () => {
    await inScene(c, 'kfp-two', async ({ ns, fake, dir }) => {
      const profile = { name: 'k', namespace: ns.name, kubeconfig: c.kubeconfig, kfp: { host: fake.url, auth: 'none' } };
      const make = () => new KubeflowRuntime({ store: new RunStore(dir), profile, env: {}, pollMs: 50, maxPollMs: 100 });
      const lib = new URL('../../', import.meta.url).href;
      let child: ChildProcess | undefined;
      try {
        const parent = make();
        const r = await parent.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
        const kfpId = r.record.external!.kfpRunId;
        fake.setRunState(kfpId, 'RUNNING');
        // The first watcher, in a process of its own.
        child = spawn(process.execPath, ['--input-type=module', '-e', `
          const { KubeflowRuntime } = await import('${lib}runtimes/kubeflow/runtime.js');
          const { RunStore } = await import('${lib}runs/store.js');
          const rt = new KubeflowRuntime({ store: new RunStore(${JSON.stringify(dir)}), profile: ${JSON.stringify(profile)}, env: {}, pollMs: 50, maxPollMs: 100 });
          await rt.watch(${JSON.stringify(r.runId)});`], { stdio: 'inherit' });
        const store = new RunStore(dir);
        const stored = (step: string) => storedLines(store, r.runId, step);
        await waitFor('the child to take the run', async () => (await store.get(r.runId))?.logWatcher?.pid === child!.pid);

        const second = make();
        const shown: string[] = [];
        second.on('log', (_id, step, l) => l.stream !== 'system' && shown.push(`${step}: ${l.text}`));
        const watching = second.watch(r.runId);
        const wf = `candies-sharing-${kfpId.slice(0, 5)}`;
        const files: Record<string, string> = {};
        const pod = (task: string, i: number) => `${wf}-system-container-impl-${i}`;
        for (const [i, task] of ['sack', 'kid1', 'kid2', 'kid3'].entries()) {
          files[task] = await startExecutorPod(c, ns.conn, kfpId, wf, pod(task, i), task);
          fake.setRunState(kfpId, 'RUNNING', { [task]: 'RUNNING' });
          await feed(files[task], ['one', 'two']);
          await waitFor(`${task}'s first lines stored`, async () => (await stored(task)).length === 2);
          if (task === 'kid1') {
            // The first watcher dies in the middle of kid1.
            child!.kill('SIGKILL');
            await once(child!, 'exit');
          }
          await feed(files[task], ['three']);
          await waitFor(`${task}'s last line stored`, async () => (await stored(task)).length >= 3);
          await finish(files[task]);
          await waitForPhase(ns.conn, pod(task, i), 'Succeeded');
          fake.setRunState(kfpId, 'RUNNING', { [task]: 'SUCCEEDED' });
        }
        fake.setRunState(kfpId, 'SUCCEEDED');
        const final = await watching;
        assert.equal(final.state, 'succeeded');
        for (const task of ['sack', 'kid1', 'kid2', 'kid3']) {
          assert.deepEqual(await stored(task), ['one', 'two', 'three'], `${task}: each line stored once`);
          assert.deepEqual(shown.filter((l) => l.startsWith(`${task}: `)), [`${task}: one`, `${task}: two`, `${task}: three`], `${task}: each line shown once by the second watcher`);
        }
        assert.equal(final.logWatcher, undefined, 'the watch is handed back when it ends');
      } finally {
      child?.kill('SIGKILL');
      }
    });
  });
});

describe('Kubeflow runs when the connection to the cluster drops mid-run', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  const c = cluster!;
  test('the record stays, the step logs resume where they stopped, and every line is stored once', async () => {
    await inScene(c, 'kfp-drop', async ({ ns, fake, dir }) => {
      const proxy = await tcpProxy(apiAddress(c));
      try {
        const { store, runtime } = quickRuntime(dir, ns, fake, connectThrough(c, ns.name, proxy.port));
        const { r, kfpId, warnings, watching, wf } = await startWatchedRun(runtime, fake);
        const stored = (step: string) => storedLines(store, r.runId, step);
        let cuts = 0;
        for (const [i, task] of ['sack', 'kid1', 'kid2', 'kid3'].entries()) {
          const pod = `${wf}-system-container-impl-${i}`;
          const file = await startExecutorPod(c, ns.conn, kfpId, wf, pod, task);
          fake.setRunState(kfpId, 'RUNNING', { [task]: 'RUNNING' });
          for (let n = 0; n < 3; n++) {
            await feed(file, [`${task} line ${n}`]);
            await waitFor(`${task} line ${n} stored`, async () => (await stored(task)).length === n + 1);
            // Every open connection to the API server (the pod watch and the log streams) is dropped.
            cuts += proxy.cut();
          }
          await finish(file);
          await waitForPhase(ns.conn, pod, 'Succeeded');
          fake.setRunState(kfpId, 'RUNNING', { [task]: 'SUCCEEDED' });
        }
        fake.setRunState(kfpId, 'SUCCEEDED');
        const final = await watching;
        assert.equal(final.state, 'succeeded');
        assert.ok(cuts >= 8, `connections were cut (${cuts})`);
        for (const task of ['sack', 'kid1', 'kid2', 'kid3']) {
          assert.deepEqual(await stored(task), [0, 1, 2].map((n) => `${task} line ${n}`), `${task}: complete, in order, once`);
        }
        assert.ok(warnings.some((w) => /reconnect|dropped/i.test(w)), warnings.join('\n'));
      } finally {
      await proxy.close();
      }
    });
  });
});

describe('Kubeflow runs whose end KFP reports before the step logs are read', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  const c = cluster!;
  test('the run is finalised only once every step pod\'s log is stored to its last line, however late the cluster serves it', async () => {
    await inScene(c, 'kfp-race', async ({ ns, fake, dir }) => {
      // Every byte between cellpipe and the API server (the pod watch, the log streams) goes through this proxy.
      const proxy = await tcpProxy(apiAddress(c));
      try {
        const { store, runtime } = quickRuntime(dir, ns, fake, connectThrough(c, ns.name, proxy.port));
        const { r, kfpId, watching, wf } = await startWatchedRun(runtime, fake);
        let returned = false;
        void watching.then(() => (returned = true), () => (returned = true));
        const tasks = ['sack', 'kid1', 'kid2', 'kid3'];
        const files: Record<string, string> = {};
        for (const [i, task] of tasks.entries()) {
          files[task] = await startExecutorPod(c, ns.conn, kfpId, wf, `${wf}-system-container-impl-${i}`, task);
          await feed(files[task], [`${task}: started`]);
        }
        fake.setRunState(kfpId, 'RUNNING', Object.fromEntries(tasks.map((t) => [t, 'RUNNING'])));
        for (const task of tasks) await waitFor(`${task}'s first line stored`, async () => (await storedLines(store, r.runId, task)).length === 1);
        // The cluster stops answering cellpipe (a loaded node: the kubelet and the API server lag), while every pod
        // writes its last lines just before it exits and KFP — which does not wait for anyone's log — says it is over.
        proxy.stall();
        const last = (task: string) => Array.from({ length: 200 }, (_, n) => `${task}: last lines ${n}`);
        for (const task of tasks) await feed(files[task], [...last(task), '__exit 0__']);
        for (const [i] of tasks.entries()) await waitForPhase(ns.conn, `${wf}-system-container-impl-${i}`, 'Succeeded', 60_000);
        fake.setRunState(kfpId, 'SUCCEEDED', Object.fromEntries(tasks.map((t) => [t, 'SUCCEEDED'])));
        // Longer than a watcher that gives up on logs after a few seconds would wait: the race, made certain.
        await new Promise((res) => setTimeout(res, 25_000));
        assert.equal(returned, false, 'the run is not finalised while its steps\' last lines are unread');
        for (const task of tasks) assert.deepEqual(await storedLines(store, r.runId, task), [`${task}: started`], `${task}: its last lines were not readable yet`);
        assert.equal((await store.get(r.runId))!.state, 'running', 'the record still says running');
        proxy.resume();
        const final = await watching;
        assert.equal(final.state, 'succeeded');
        for (const task of tasks) {
          assert.equal(final.steps.find((s) => s.name === task)!.state, 'succeeded');
          assert.deepEqual(await storedLines(store, r.runId, task), [`${task}: started`, ...last(task)], `${task}: every line, once, in order`);
        }
      } finally {
        await proxy.close();
      }
    });
  });
});

describe('Kubeflow runs: a step pod that cannot start says why', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  test('a pod no node can take (it asks for a GPU) and an image that cannot be pulled: the step records and logs say why while the run waits', async () => {
    await inScene(cluster!, 'kfp-waits', async ({ ns, fake, dir }) => {
      const { store, runtime } = quickRuntime(dir, ns, fake);
      const { r, kfpId, watching, wf } = await startWatchedRun(runtime, fake);
      // As KFP's driver makes them: the executor pod carries the step's limits and is placed by the scheduler.
      await createRealPod(ns.conn, cluster!, `${wf}-system-container-impl-0`, {
        labels: { 'pipeline/runid': kfpId }, annotations: { 'workflows.argoproj.io/node-name': `${wf}.root.sack.executor` },
        script: 'echo never', limits: { 'nvidia.com/gpu': '2' }, scheduled: true,
      });
      // An image on a registry nobody can reach (nothing listens on port 1).
      await createRealPod(ns.conn, cluster!, `${wf}-system-container-impl-1`, {
        labels: { 'pipeline/runid': kfpId }, annotations: { 'workflows.argoproj.io/node-name': `${wf}.root.kid1.executor` },
        script: 'echo never', image: '127.0.0.1:1/cellpipe/missing:1',
      });
      fake.setRunState(kfpId, 'RUNNING', { sack: 'RUNNING', kid1: 'RUNNING' });
      const waitsOf = async (step: string) => (await store.get(r.runId))?.steps.find((s) => s.name === step)?.preparing?.what;
      const gpu = await waitFor('the GPU step says why it waits', async () => (await waitsOf('sack'))?.match(/^waiting for a node: .*Insufficient nvidia\.com\/gpu/) ? waitsOf('sack') : undefined, 60_000);
      assert.match(gpu!, /lower its limit:nvidia\.com\/gpu tag/);
      const pull = await waitFor('the step with a missing image says why it waits', async () => (await waitsOf('kid1'))?.startsWith('cannot pull the image 127.0.0.1:1/cellpipe/missing:1') ? waitsOf('kid1') : undefined, 90_000);
      assert.match(pull!, /ErrImagePull|ImagePullBackOff/);
      // Said once in each step's log (the kubelet's alternating pull errors are one kind of wait), for the CLI's --watch.
      const said = async (step: string) => { const out: string[] = []; for await (const l of store.readLogs(r.runId, step)) if (l.stream === 'system') out.push(l.text); return out; };
      assert.equal((await said('sack')).filter((t) => t.startsWith('waiting for a node')).length, 1);
      assert.equal((await said('kid1')).filter((t) => t.startsWith('cannot pull the image')).length, 1);
      // KFP never ends such a run by itself; the user terminates it, and nothing waits for logs that never came.
      fake.setRunState(kfpId, 'CANCELED', { sack: 'CANCELED', kid1: 'CANCELED' });
      const final = await watching;
      assert.equal(final.state, 'cancelled');
    });
  });
});
