/**
 * Pod log streaming against the real test cluster: real containers on its kubelet node, whose output each test
 * feeds through a file (echoFileScript), so what the kubelet serves is a container's stdout and the test still
 * decides when each line is written. Run through `bash scripts/test-k8s.sh`; skipped without a real node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile } from 'node:fs/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { LogLine } from '../runs/types.js';
import { LogCursor, parseTimestamp, sinceTimeFor, streamPodLogs } from './logs.js';
import {
  SKIP_NO_REAL_NODE,
  apiAddress,
  connectThrough,
  createRealPod,
  echoFileScript,
  feedLines,
  freshNamespace,
  newInputFile,
  newLogFile,
  tcpProxy,
  testCluster,
  waitFor,
  waitForPhase,
} from './testing.js';

const found = testCluster();
const cluster = found?.nodeKind === 'real' ? found : undefined;
const SKIP = cluster ? false : SKIP_NO_REAL_NODE;
v8.setFlagsFromString('--expose-gc');
/** A full collection, so heap figures count live objects only. */
const gc = vm.runInNewContext('gc') as () => void;

describe('log positions (no cluster needed)', () => {
  test('RFC 3339 timestamps with trimmed nanoseconds order correctly', () => {
    assert.equal(parseTimestamp('2024-01-01T00:00:00Z'), 1704067200000000000n);
    assert.equal(parseTimestamp('2024-01-01T00:00:00.5Z'), 1704067200500000000n);
    assert.equal(parseTimestamp('2024-01-01T00:00:00.000000001Z'), 1704067200000000001n);
    assert.ok(parseTimestamp('2024-01-01T00:00:00.1Z')! > parseTimestamp('2024-01-01T00:00:00.09Z')!);
    assert.equal(parseTimestamp('not a time'), undefined);
    assert.equal(sinceTimeFor(1704067200999999999n), '2024-01-01T00:00:00Z');
  });

  test('a resumed stream skips what was delivered, including lines sharing the last timestamp', () => {
    const c = new LogCursor();
    const t = 1704067200123456789n;
    assert.deepEqual([t - 5n, t, t].map((x) => c.accept(x)), [true, true, true]);
    c.reconnect(); // the server replays from the whole second
    assert.deepEqual([t - 9n, t - 5n, t, t, t, t + 1n].map((x) => c.accept(x)), [false, false, false, false, true, true]);
    assert.equal(c.since(), '2024-01-01T00:00:00Z');
  });
});

describe('pod logs from the real API server', { skip: SKIP, timeout: 120_000 }, () => {
  const c = cluster!;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  before(async () => {
    ns = await freshNamespace(c, 'logs');
  });
  after(async () => {
    await ns?.dispose();
  });

  test('lines a container prints while followed arrive in order, exactly once, across forced reconnects', async () => {
    const input = await newInputFile(c, 'follow');
    const proxy = await tcpProxy(apiAddress(c));
    try {
      const conn = connectThrough(c, ns.name, proxy.port);
      await createRealPod(ns.conn, c, 'step-train', { labels: { run: 'r1', step: 'train' }, script: echoFileScript(input.name) });
      const got: string[] = [];
      const warnings: string[] = [];
      const stream = streamPodLogs({
        conn,
        selector: 'run=r1',
        stepOf: (p) => p.metadata?.labels?.step,
        sink: async (step, line) => {
          assert.equal(step, 'train');
          if (line.stream !== 'system') got.push(line.text);
        },
        stopWhenDone: true,
        retryDelayMs: 50,
        onWarning: (m) => warnings.push(m),
      });
      const expected: string[] = [];
      let n = 0;
      const batch = async (size: number) => {
        const lines = Array.from({ length: size }, () => `line ${++n}`);
        expected.push(...lines);
        await feedLines(input.path, lines);
      };
      for (let round = 0; round < 4; round++) {
        await batch(50);
        await waitFor(`line ${n} to arrive`, async () => got.length >= expected.length);
        const cut = proxy.cut();
        assert.ok(cut >= 1, 'the proxy had open connections to cut');
        await batch(20); // printed while disconnected
      }
      await waitFor('all lines', async () => got.length >= expected.length);
      await feedLines(input.path, ['__exit 0__']);
      await stream.done;
      assert.deepEqual(got, expected);
      assert.ok((stream.connections.get('step-train/main') ?? 0) >= 5, `reconnected (${JSON.stringify([...stream.connections])})`);
      assert.ok(warnings.some((w) => /reconnecting/.test(w)), 'the drops were noticed');
    } finally {
      await proxy.close();
    }
  });

  test('a pod that has not started yet is waited for, then streamed', async () => {
    const input = await newInputFile(c, 'gated');
    await feedLines(input.path, ['written before the pod started']);
    await createRealPod(ns.conn, c, 'step-late', { labels: { run: 'r2', step: 'late' }, gated: true, script: echoFileScript(input.name) });
    const got: LogLine[] = [];
    const stream = streamPodLogs({
      conn: ns.conn,
      selector: 'run=r2',
      stepOf: (p) => p.metadata?.labels?.step,
      sink: async (_s, l) => void got.push(l),
      stopWhenDone: true,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const pod = await ns.conn.core.readNamespacedPod({ name: 'step-late', namespace: ns.name });
    assert.equal(pod.status?.phase, 'Pending', 'the pod is held by its scheduling gate');
    assert.equal(got.length, 0);
    // Release the gate: the scheduler binds it to the real node, whose kubelet starts the container.
    pod.spec!.schedulingGates = [];
    await ns.conn.core.replaceNamespacedPod({ name: 'step-late', namespace: ns.name, body: pod });
    await waitForPhase(ns.conn, 'step-late', 'Running');
    await feedLines(input.path, ['late 1', 'late 2', '__exit 0__']);
    await stream.done;
    const texts = got.filter((l) => l.stream !== 'system').map((l) => l.text);
    assert.deepEqual(texts, ['written before the pod started', 'late 1', 'late 2']);
    const done = await ns.conn.core.readNamespacedPod({ name: 'step-late', namespace: ns.name });
    assert.equal(done.spec?.nodeName, c.node, 'it ran on the real node');
  });
});

describe('restarted containers', { skip: SKIP, timeout: 120_000 }, () => {
  test("a restarted container's previous log is finished before the new attempt's log", async () => {
    const c = cluster!;
    const ns = await freshNamespace(c, 'restart');
    try {
      const attempt0 = await newInputFile(c, 'attempt0');
      const attempt1 = await newInputFile(c, 'attempt1');
      // Exit 1 under restartPolicy OnFailure: the kubelet starts the container again in the same pod; the
      // emptyDir (kept across restarts) tells the second attempt which input to follow.
      const script = `if [ -f /scratch/crashed ]; then ${echoFileScript(attempt1.name)}; fi\ntouch /scratch/crashed\n${echoFileScript(attempt0.name)}`;
      await createRealPod(ns.conn, c, 'step-flaky', { labels: { run: 'r5', step: 'flaky' }, restartPolicy: 'OnFailure', emptyDir: '/scratch', script });
      const got: LogLine[] = [];
      const stream = streamPodLogs({
        conn: ns.conn,
        selector: 'run=r5',
        stepOf: (p) => p.metadata?.labels?.step,
        sink: async (_s, l) => void got.push(l),
        stopWhenDone: true,
      });
      await feedLines(attempt0.path, ['attempt 0: start', 'attempt 0: working']);
      await waitFor('attempt 0 lines', async () => got.length >= 2);
      // The container crashes: its last words land in the (now previous) log; the new attempt logs anew.
      await feedLines(attempt1.path, ['attempt 1: start']);
      await feedLines(attempt0.path, ['attempt 0: Traceback (most recent call last)', '__exit 1__']);
      await waitFor('attempt 1 line', async () => got.some((l) => l.text === 'attempt 1: start'), 60_000);
      await feedLines(attempt1.path, ['attempt 1: done', '__exit 0__']);
      await stream.done;
      assert.deepEqual(
        got.map((l) => (l.stream === 'system' ? `[${l.text}]` : l.text)),
        [
          'attempt 0: start',
          'attempt 0: working',
          'attempt 0: Traceback (most recent call last)',
          "[container 'main' restarted (restart 1)]",
          'attempt 1: start',
          'attempt 1: done',
        ],
      );
      const pod = await ns.conn.core.readNamespacedPod({ name: 'step-flaky', namespace: ns.name });
      assert.equal(pod.status?.containerStatuses?.[0]?.restartCount, 1, 'the kubelet restarted the container once');
    } finally {
      await ns.dispose();
    }
  });
});

describe('logs outlive pods and stay bounded', { skip: SKIP, timeout: 120_000 }, () => {
  const c = cluster!;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  before(async () => {
    ns = await freshNamespace(c, 'store');
  });
  after(async () => {
    await ns?.dispose();
  });

  test("a deleted pod's log is still readable from the sink's store", async () => {
    const store = await newLogFile(c, 'store'); // a JSON-lines run store stand-in
    const script = 'i=0; while [ $i -lt 200 ]; do echo "epoch $i"; i=$((i + 1)); done';
    await createRealPod(ns.conn, c, 'step-gc', { labels: { run: 'r3', step: 'evaluate' }, script });
    const lines = Array.from({ length: 200 }, (_, i) => `epoch ${i}`);
    const stream = streamPodLogs({
      conn: ns.conn,
      selector: 'run=r3',
      stepOf: (p) => p.metadata?.labels?.step,
      sink: (step, line) => appendFile(store, JSON.stringify({ step, ...line }) + '\n'),
      stopWhenDone: true,
    });
    await stream.done;
    await ns.conn.core.deleteNamespacedPod({ name: 'step-gc', namespace: ns.name, gracePeriodSeconds: 0 });
    await waitFor('pod gone', async () => {
      try {
        await ns.conn.core.readNamespacedPod({ name: 'step-gc', namespace: ns.name });
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    });
    const stored = (await readFile(store, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine & { step: string });
    assert.deepEqual(stored.map((l) => l.text), lines);
    assert.ok(stored.every((l) => l.step === 'evaluate' && l.stream === 'stdout' && !Number.isNaN(Date.parse(l.time))));
  });

  test('a pod deleted while its log is followed: what it printed is stored, and the stream ends', async () => {
    const store = await newLogFile(c, 'store-mid');
    const input = await newInputFile(c, 'mid');
    await createRealPod(ns.conn, c, 'step-mid', { labels: { run: 'r6', step: 'cut' }, script: echoFileScript(input.name) });
    const got: LogLine[] = [];
    const stream = streamPodLogs({
      conn: ns.conn,
      selector: 'run=r6',
      stepOf: (p) => p.metadata?.labels?.step,
      sink: async (step, line) => {
        got.push(line);
        await appendFile(store, JSON.stringify({ step, ...line }) + '\n');
      },
      stopWhenDone: true,
    });
    await feedLines(input.path, ['before 1', 'before 2']);
    await waitFor('the first lines', async () => got.filter((l) => l.stream !== 'system').length >= 2, 60_000);
    // Deleted mid-run (a user, a node drain, KFP's garbage collection): the kubelet stops the container.
    await ns.conn.core.deleteNamespacedPod({ name: 'step-mid', namespace: ns.name, gracePeriodSeconds: 1 });
    await stream.done;
    const stored = (await readFile(store, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
    assert.deepEqual(stored.filter((l) => l.stream !== 'system').map((l) => l.text), ['before 1', 'before 2']);
  });

  test('100k lines stream with bounded memory', async () => {
    const total = 100_000;
    const pad = 'x'.repeat(120);
    const ns2 = await freshNamespace(c, 'big');
    try {
      // The container prints 100k lines (~13 MiB) as fast as it can, while cellpipe follows them.
      const script = `seq 0 ${total - 1} | sed 's/.*/row & ${pad}/'`;
      await createRealPod(ns2.conn, c, 'step-big', { labels: { run: 'r4', step: 'big' }, script });
      gc();
      const heap0 = process.memoryUsage().heapUsed;
      let peak = heap0;
      let count = 0;
      let ordered = true;
      const t0 = performance.now();
      const stream = streamPodLogs({
        conn: ns2.conn,
        selector: 'run=r4',
        stepOf: (p) => p.metadata?.labels?.step,
        sink: async (_s, line) => {
          if (line.stream === 'system') return;
          if (!line.text.startsWith(`row ${count} `)) ordered = false;
          count++;
          if (count % 10000 === 0) {
            gc();
            peak = Math.max(peak, process.memoryUsage().heapUsed);
          }
        },
        stopWhenDone: true,
      });
      await stream.done;
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(count, total);
      assert.ok(ordered, 'lines arrive in the order they were printed');
      const grownMiB = (peak - heap0) / 1048576;
      // The file is ~13 MiB (~26 MiB as JS strings); holding it would show. Streaming keeps a few chunks.
      assert.ok(grownMiB < 24, `heap grew ${grownMiB.toFixed(1)} MiB while streaming 100k lines`);
      console.log(`# 100k lines: ${(total / seconds).toFixed(0)} lines/s, heap growth ${grownMiB.toFixed(1)} MiB`);
    } finally {
      await ns2.dispose();
    }
  });
});
