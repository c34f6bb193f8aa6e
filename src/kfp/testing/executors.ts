/**
 * What Argo does for the fake KFP server, on the real test cluster: for every run the fake holds, each task in DAG
 * order gets an executor pod (KWOK) labelled and annotated the way KFP's Argo workflows label theirs
 * (`pipeline/runid=<run id>`, `workflows.argoproj.io/node-name=<wf>.root.<task>.executor`, container `main`),
 * whose log KWOK serves from a file this module writes; the fake's task and run states follow the pods.
 *
 * No container runs here (no Docker, KWOK pods are simulated), so the log lines are the executor's own, saying which
 * pod and image the step would run in: the point is the path pod → Kubernetes log API → cellpipe → store → page.
 * Used by the browser e2e test (test/e2e/kubeflow-services.mjs).
 */
import { annotatePod, appendLines, createPod, newLogFile, serveLogsFromFile, waitFor, type TestCluster } from '../../kube/testing.js';
import type { KubeConnection } from '../../kube/connect.js';
import type { FakeKfpServer } from './fake-server.js';

export interface ExecutorOptions {
  fake: FakeKfpServer;
  cluster: TestCluster;
  /** Connection to the namespace the pods go to (the profile's namespace). */
  conn: KubeConnection;
  /** How long each task's pod runs (default 600 ms). */
  taskMs?: number;
  onError?: (err: Error) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts driving the fake's runs; `stop()` ends the loop (runs in flight finish their current task). */
export function simulateExecutors(o: ExecutorOptions): { stop(): Promise<void> } {
  const handled = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const taskMs = o.taskMs ?? 600;

  const drive = async (runId: string) => {
    const r = o.fake.runs.get(runId)!;
    const wf = `wf-${runId.slice(0, 8)}`;
    o.fake.setRunState(runId, 'RUNNING');
    for (const [i, task] of r.order.entries()) {
      if (stopped || r.terminating) return;
      const pod = `${wf}-system-container-impl-${i}`;
      const file = await newLogFile(o.cluster, task);
      await serveLogsFromFile(o.cluster, o.conn.namespace, file, [pod]);
      await createPod(o.conn, o.cluster, pod, {
        labels: { 'pipeline/runid': runId },
        annotations: { 'workflows.argoproj.io/node-name': `${wf}.root.${task}.executor` },
      });
      o.fake.setRunState(runId, 'RUNNING', { [task]: 'RUNNING' });
      await appendLines(file, [{ text: `${task}: executor pod ${pod} started (simulated by KWOK)` }]);
      // KWOK takes a moment to pick up a new ClusterLogs object (longer on a fresh cluster); a kubelet serves a
      // container's log from its first line, so go on only once the API serves this one.
      await waitFor(`KWOK serving the log of ${pod}`, async () => {
        const text = await o.conn.core.readNamespacedPodLog({ name: pod, namespace: o.conn.namespace, container: 'main' }).catch(() => '');
        return text.includes(`${task}: executor pod`);
      }, 20_000);
      await sleep(taskMs);
      await appendLines(file, [{ text: `${task}: finished` }]);
      await annotatePod(o.conn, pod, { 'kwok.cellpipe.dev/exit-code': '0' });
      o.fake.setRunState(runId, 'RUNNING', { [task]: 'SUCCEEDED' });
    }
    o.fake.setRunState(runId, 'SUCCEEDED');
  };

  const loop = (async () => {
    while (!stopped) {
      for (const [runId, r] of o.fake.runs) {
        if (handled.has(runId) || r.run.state !== 'PENDING') continue;
        handled.add(runId);
        const p = drive(runId).catch((err: unknown) => o.onError?.(err as Error));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await sleep(100);
    }
  })();

  return {
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
    },
  };
}
