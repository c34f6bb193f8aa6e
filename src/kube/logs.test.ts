/**
 * Pod log streaming against the real test cluster (kube-apiserver + KWOK serving logs from files).
 * Run through `bash scripts/test-k8s.sh`; skipped without a cluster.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile } from 'node:fs/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { LogLine } from '../runtimes/types.js';
import { LogCursor, parseTimestamp, sinceTimeFor, streamPodLogs } from './logs.js';
import {
  SKIP_NO_CLUSTER,
  annotatePod,
  apiAddress,
  appendLines,
  connectThrough,
  createPod,
  customObjects,
  freshNamespace,
  newLogFile,
  nowNs,
  serveLogsFromFile,
  tcpProxy,
  testCluster,
  waitFor,
} from './testing.js';

const cluster = testCluster();
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

describe('pod logs from the real API server', { skip: cluster ? false : SKIP_NO_CLUSTER, timeout: 120_000 }, () => {
  const c = cluster!;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  before(async () => {
    ns = await freshNamespace(c, 'logs');
  });
  after(async () => {
    await ns?.dispose();
  });

  test('lines appended while following arrive in order, exactly once, across forced reconnects', async () => {
    const file = await newLogFile(c, 'follow');
    await serveLogsFromFile(c, ns.name, file, ['step-train']);
    const proxy = await tcpProxy(apiAddress(c));
    try {
      const conn = connectThrough(c, ns.name, proxy.port);
      await createPod(ns.conn, c, 'step-train', { labels: { run: 'r1', step: 'train' } });
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
      const batch = async (size: number, sameStamp = false) => {
        const ns0 = nowNs();
        const lines = Array.from({ length: size }, () => ({ text: `line ${++n}`, ns: sameStamp ? ns0 : nowNs() }));
        expected.push(...lines.map((l) => l.text));
        await appendLines(file, lines);
      };
      for (let round = 0; round < 4; round++) {
        await batch(50);
        await batch(3, true); // three lines with one timestamp, right before the drop
        await waitFor(`line ${n} to arrive`, async () => got.length >= expected.length);
        const cut = proxy.cut();
        assert.ok(cut >= 1, 'the proxy had open connections to cut');
        await batch(20); // written while disconnected
      }
      await waitFor('all lines', async () => got.length >= expected.length);
      await annotatePod(ns.conn, 'step-train', { 'kwok.cellpipe.dev/exit-code': '0' });
      await stream.done;
      assert.deepEqual(got, expected);
      assert.ok((stream.connections.get('step-train/main') ?? 0) >= 5, `reconnected (${JSON.stringify([...stream.connections])})`);
      assert.ok(warnings.some((w) => /reconnecting/.test(w)), 'the drops were noticed');
    } finally {
      await proxy.close();
    }
  });

  test('a pod that has not started yet is waited for, then streamed', async () => {
    const file = await newLogFile(c, 'gated');
    await appendLines(file, [{ text: 'written before the pod started' }]);
    await serveLogsFromFile(c, ns.name, file, ['step-late']);
    await createPod(ns.conn, c, 'step-late', { labels: { run: 'r2', step: 'late' }, gated: true });
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
    // Release the gate: the scheduler binds it to the KWOK node, KWOK runs it.
    pod.spec!.schedulingGates = [];
    await ns.conn.core.replaceNamespacedPod({ name: 'step-late', namespace: ns.name, body: pod });
    await waitFor('pod running', async () => (await ns.conn.core.readNamespacedPod({ name: 'step-late', namespace: ns.name })).status?.phase === 'Running');
    const before = (await readFile(file, 'utf8')).split('\n').filter(Boolean).length;
    await appendLines(file, [{ text: 'late 1' }, { text: 'late 2' }]);
    await waitFor('late lines', async () => got.some((l) => l.text === 'late 2'));
    await annotatePod(ns.conn, 'step-late', { 'kwok.cellpipe.dev/exit-code': '0' });
    await stream.done;
    const texts = got.filter((l) => l.stream !== 'system').map((l) => l.text);
    assert.equal(texts.length, before + 2);
    assert.deepEqual(texts.slice(-2), ['late 1', 'late 2']);
  });
});

describe('restarted containers', { skip: cluster ? false : SKIP_NO_CLUSTER, timeout: 120_000 }, () => {
  test("a restarted container's previous log is finished before the new attempt's log", async () => {
    const c = cluster!;
    const ns = await freshNamespace(c, 'restart');
    try {
      const first = await newLogFile(c, 'attempt0');
      const second = await newLogFile(c, 'attempt1');
      await appendLines(first, [{ text: 'attempt 0: start' }, { text: 'attempt 0: working' }]);
      const logs = { group: 'kwok.x-k8s.io', version: 'v1alpha1', namespace: ns.name, plural: 'logs' };
      const custom = customObjects(c);
      await custom.createNamespacedCustomObject({
        ...logs,
        body: { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Logs', metadata: { name: 'step-flaky' }, spec: { logs: [{ logsFile: first, follow: true }] } },
      });
      await new Promise((r) => setTimeout(r, 300));
      await createPod(ns.conn, c, 'step-flaky', { labels: { run: 'r5', step: 'flaky' } });
      const got: LogLine[] = [];
      const stream = streamPodLogs({
        conn: ns.conn,
        selector: 'run=r5',
        stepOf: (p) => p.metadata?.labels?.step,
        sink: async (_s, l) => void got.push(l),
        stopWhenDone: true,
      });
      await waitFor('attempt 0 lines', async () => got.length >= 2);
      // The container crashes: its last words land in the (now previous) log; the new attempt logs elsewhere.
      await appendLines(first, [{ text: 'attempt 0: Traceback (most recent call last)' }]);
      await appendLines(second, [{ text: 'attempt 1: start' }]);
      const current = await custom.getNamespacedCustomObject({ ...logs, name: 'step-flaky' });
      await custom.replaceNamespacedCustomObject({
        ...logs,
        name: 'step-flaky',
        body: { ...current, spec: { logs: [{ logsFile: second, previousLogsFile: first, follow: true }] } },
      });
      await new Promise((r) => setTimeout(r, 500));
      await annotatePod(ns.conn, 'step-flaky', { 'kwok.cellpipe.dev/restart': 'once' });
      await waitFor('attempt 1 line', async () => got.some((l) => l.text === 'attempt 1: start'));
      await appendLines(second, [{ text: 'attempt 1: done' }]);
      await waitFor('attempt 1 end', async () => got.some((l) => l.text === 'attempt 1: done'));
      await annotatePod(ns.conn, 'step-flaky', { 'kwok.cellpipe.dev/exit-code': '0' });
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
    } finally {
      await ns.dispose();
    }
  });
});

describe('logs outlive pods and stay bounded', { skip: cluster ? false : SKIP_NO_CLUSTER, timeout: 120_000 }, () => {
  const c = cluster!;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  before(async () => {
    ns = await freshNamespace(c, 'store');
  });
  after(async () => {
    await ns?.dispose();
  });

  test("a deleted pod's log is still readable from the sink's store", async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `epoch ${i} loss=${(1 / (i + 1)).toFixed(4)}`);
    const file = await newLogFile(c, 'deleted');
    await appendLines(file, lines.map((text) => ({ text })));
    await serveLogsFromFile(c, ns.name, file, ['step-gc']);
    const store = await newLogFile(c, 'store'); // a JSON-lines run store stand-in
    await createPod(ns.conn, c, 'step-gc', { labels: { run: 'r3', step: 'evaluate' }, annotations: { 'kwok.cellpipe.dev/exit-code': '0', 'kwok.cellpipe.dev/run-for': '1s' } });
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

  test('100k lines stream with bounded memory', async () => {
    const file = await newLogFile(c, 'big');
    const total = 100_000;
    const pad = 'x'.repeat(120);
    let base = nowNs();
    for (let start = 0; start < total; start += 10_000) {
      await appendLines(file, Array.from({ length: 10_000 }, (_, i) => ({ text: `row ${start + i} ${pad}`, ns: (base += 1000n) })));
    }
    const ns2 = await freshNamespace(c, 'big');
    try {
      await serveLogsFromFile(c, ns2.name, file);
      await createPod(ns2.conn, c, 'step-big', { labels: { run: 'r4', step: 'big' }, annotations: { 'kwok.cellpipe.dev/exit-code': '0' } });
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
      assert.ok(ordered, 'lines arrive in file order');
      const grownMiB = (peak - heap0) / 1048576;
      // The file is ~13 MiB (~26 MiB as JS strings); holding it would show. Streaming keeps a few chunks.
      assert.ok(grownMiB < 24, `heap grew ${grownMiB.toFixed(1)} MiB while streaming 100k lines`);
      console.log(`# 100k lines: ${(total / seconds).toFixed(0)} lines/s, heap growth ${grownMiB.toFixed(1)} MiB`);
    } finally {
      await ns2.dispose();
    }
  });
});
