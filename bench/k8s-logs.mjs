// Pod-log figures against the real test cluster (scripts/test-k8s.sh runs it after the tests):
//   cluster start time (from scripts/test-k8s.sh), log throughput (100k lines of a finished pod, lines/s),
//   and end-to-end lag from appending a line to the file KWOK serves to the line reaching the sink (p50/p95/max)
//   while the pod runs and the stream follows.
// Usage: eval "$(bash scripts/k8s/cluster.sh env)"; node bench/k8s-logs.mjs [--lines N] [--rate LINES_PER_S]
import { appendFile } from 'node:fs/promises';
import { streamPodLogs } from '../lib/kube/logs.js';
import { annotatePod, appendLines, createPod, criLine, freshNamespace, newLogFile, nowNs, serveLogsFromFile, testCluster, waitFor } from '../lib/kube/testing.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const c = testCluster();
if (!c) {
  console.log('k8s-logs bench: skipped (no test cluster; run scripts/test-k8s.sh)');
  process.exit(0);
}
const total = opt('--lines', 100_000);
const lagLines = opt('--lag-lines', 2000);
const rate = opt('--rate', 500);

const ns = await freshNamespace(c, 'bench');
try {
  // Throughput: a finished pod's whole log.
  const big = await newLogFile(c, 'bench-big');
  let base = nowNs();
  const pad = 'x'.repeat(100);
  for (let s = 0; s < total; s += 10_000) {
    await appendLines(big, Array.from({ length: Math.min(10_000, total - s) }, (_, i) => ({ text: `row ${s + i} ${pad}`, ns: (base += 1000n) })));
  }
  await serveLogsFromFile(c, ns.name, big, ['bench-big']);
  await createPod(ns.conn, c, 'bench-big', { labels: { bench: 'big', step: 'big' }, annotations: { 'kwok.cellpipe.dev/exit-code': '0' } });
  let count = 0;
  const t0 = performance.now();
  const s1 = streamPodLogs({ conn: ns.conn, selector: 'bench=big', stepOf: (p) => p.metadata.labels.step, stopWhenDone: true, sink: async (_s, l) => { if (l.stream !== 'system') count++; } });
  await s1.done;
  const secs = (performance.now() - t0) / 1000;
  if (count !== total) throw new Error(`throughput run got ${count} of ${total} lines`);

  // Lag: lines appended one by one while the stream follows.
  const live = await newLogFile(c, 'bench-live');
  await serveLogsFromFile(c, ns.name, live, ['bench-live']);
  await createPod(ns.conn, c, 'bench-live', { labels: { bench: 'live', step: 'live' } });
  const appended = new Map();
  const lags = [];
  const s2 = streamPodLogs({
    conn: ns.conn, selector: 'bench=live', stepOf: (p) => p.metadata.labels.step, stopWhenDone: true,
    sink: async (_s, l) => {
      const t = appended.get(l.text);
      if (t !== undefined) lags.push(performance.now() - t);
    },
  });
  await waitFor('live pod running', async () => (await ns.conn.core.readNamespacedPod({ name: 'bench-live', namespace: ns.name })).status?.phase === 'Running');
  await new Promise((r) => setTimeout(r, 500));
  const interval = 1000 / rate;
  const start = performance.now();
  for (let i = 0; i < lagLines; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const text = `tick ${i}`;
    appended.set(text, performance.now());
    await appendFile(live, criLine(text));
  }
  await waitFor('all live lines', async () => lags.length >= lagLines, 60_000);
  await annotatePod(ns.conn, 'bench-live', { 'kwok.cellpipe.dev/exit-code': '0' });
  await s2.done;
  lags.sort((a, b) => a - b);
  const pct = (p) => lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))].toFixed(1);
  const result = {
    clusterStartSeconds: process.env.CELLPIPE_K8S_START_SECONDS ? Number(process.env.CELLPIPE_K8S_START_SECONDS) : null,
    throughputLinesPerSecond: Math.round(total / secs),
    throughputLines: total,
    lagMs: { p50: Number(pct(50)), p95: Number(pct(95)), max: Number(lags.at(-1).toFixed(1)), lines: lags.length, rate },
  };
  console.log(`k8s-logs bench: cluster start ${result.clusterStartSeconds ?? '?'} s; throughput ${result.throughputLinesPerSecond} lines/s (${total} lines); ` +
    `append→sink lag p50 ${result.lagMs.p50} ms, p95 ${result.lagMs.p95} ms, max ${result.lagMs.max} ms (${lagLines} lines at ${rate}/s)`);
  console.log(JSON.stringify(result));
} finally {
  await ns.dispose();
}
