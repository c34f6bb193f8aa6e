/**
 * What Argo and KFP's driver and launcher do for the fake KFP server, on the real test cluster: every run the fake
 * holds is executed by real pods on the cluster's kubelet node. Each task, once its upstream tasks succeeded, gets
 * an executor pod labelled and annotated the way KFP's Argo workflows label theirs (`pipeline/runid=<run id>`,
 * `workflows.argoproj.io/node-name=<wf>.root.<task>.executor`, container `main`) that runs the task's image with
 * the spec's command and args, KFP's placeholders resolved as the launcher resolves them (launcherArgv, shared with
 * the containers runtime). Artifacts live on a host directory shared by the run's pods, mounted where the launcher
 * maps `minio://` URIs (`/minio/…`), so values pass from step to step as they do through KFP's object store.
 * The fake's task and run states follow the pods: Succeeded → SUCCEEDED, Failed → FAILED (and the run fails, its
 * downstream tasks never start). Used by the browser e2e test (test/e2e/kubeflow-services.mjs).
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { waitFor, type TestCluster } from '../../kube/testing.js';
import { sleep } from '../../runs/sleep.js';
import type { KubeConnection } from '../../kube/connect.js';
import type { JsonValue } from '../../core/model.js';
import { executorInputFor, launcherArgv } from '../placeholders.js';
import { specTasks, type SpecDoc, type SpecTask } from '../tasks.js';
import type { FakeKfpServer, StoredRun } from './fake-server.js';

export interface ExecutorOptions {
  fake: FakeKfpServer;
  cluster: TestCluster;
  /** Connection to the namespace the pods go to (the profile's namespace). */
  conn: KubeConnection;
  /** Host directory for the runs' artifacts (default: `<cluster log dir>/kfp-artifacts`). */
  artifactsDir?: string;
  /** How long one executor pod may take (default 5 min). */
  taskTimeoutMs?: number;
  onError?: (err: Error) => void;
}

/** Where KFP's launcher puts `minio://<bucket>/<key>`: the pods mount the run's folder there. */
const BUCKET = 'cellpipe';

type TaskState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

interface PlatformExecutor {
  secretAsEnv?: { secretName: string; keyToEnv: { secretKey: string; envVar: string }[] }[];
}

/** The spec's tasks by their key in `root.dag.tasks` (what the fake orders and reports). */
function tasksByKey(spec: SpecDoc): Map<string, SpecTask> {
  return new Map([...specTasks(spec).values()].map((t) => [t.task, t]));
}

/** Secrets the platform document asks to pass as environment variables, as KFP's Kubernetes driver passes them. */
function secretEnv(r: StoredRun, spec: SpecDoc, task: SpecTask): V1EnvVar[] {
  const label = (spec.components as Record<string, { executorLabel?: string }>)[(spec.root.dag.tasks[task.task] as { componentRef: { name: string } }).componentRef.name]?.executorLabel;
  const platform = (r.platform as { platforms?: { kubernetes?: { deploymentSpec?: { executors?: Record<string, PlatformExecutor> } } } } | undefined)
    ?.platforms?.kubernetes?.deploymentSpec?.executors?.[label ?? ''];
  return (platform?.secretAsEnv ?? []).flatMap((s) => s.keyToEnv.map((k) => ({
    name: k.envVar,
    valueFrom: { secretKeyRef: { name: s.secretName, key: k.secretKey } },
  })));
}

/** Container limits as KFP's driver sets them from the spec's `resourceCpuLimit` / `resourceMemoryLimit`. */
function limitsOf(container: { resources?: Record<string, unknown> }): { limits: Record<string, string> } | undefined {
  const r = container.resources ?? {};
  const limits: Record<string, string> = {};
  if (typeof r.resourceCpuLimit === 'string') limits.cpu = r.resourceCpuLimit;
  if (typeof r.resourceMemoryLimit === 'string') limits.memory = r.resourceMemoryLimit;
  return Object.keys(limits).length ? { limits } : undefined;
}

/** The executor pod of one task: the task's image, the resolved command, the run's artifact folder. */
export function executorPod(o: {
  r: StoredRun;
  spec: SpecDoc;
  task: SpecTask;
  podName: string;
  workflow: string;
  node: string;
  runDir: string;
}): V1Pod {
  const runId = o.r.run.run_id;
  const params = (o.r.run.runtime_config?.parameters ?? {}) as Record<string, JsonValue>;
  const inputUris: Record<string, string> = {};
  for (const [name, src] of Object.entries(o.task.artifactSources)) inputUris[name] = `minio://${BUCKET}/${runId}/${src.task}/${src.output}`;
  const taskRoot = `/minio/${BUCKET}/${runId}/${o.task.task}`;
  const input = executorInputFor(o.task.component, {
    parameters: o.task.parameters(params),
    inputUris,
    outputRoot: `minio://${BUCKET}/${runId}/${o.task.task}`,
    outputFilesDir: `${taskRoot}/parameters`,
    outputFile: `${taskRoot}/executor_output.json`,
  });
  const context = { pipelineTaskName: o.task.task, pipelineJobName: o.workflow, pipelineJobUuid: runId };
  const { command, args } = launcherArgv(o.task.container, input, context);
  return {
    metadata: {
      name: o.podName,
      labels: { 'pipeline/runid': runId, 'workflows.argoproj.io/workflow': o.workflow },
      annotations: { 'workflows.argoproj.io/node-name': `${o.workflow}.root.${o.task.task}.executor` },
    },
    spec: {
      nodeName: o.node,
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 2,
      containers: [{
        name: 'main',
        image: o.task.container.image,
        command,
        args,
        env: [...(o.task.container.env ?? []), ...secretEnv(o.r, o.spec, o.task)],
        resources: limitsOf(o.task.container as { resources?: Record<string, unknown> }),
        volumeMounts: [{ name: 'artifacts', mountPath: `/minio/${BUCKET}/${runId}` }],
      }],
      volumes: [{ name: 'artifacts', hostPath: { path: o.runDir, type: 'Directory' } }],
    },
  };
}

/** Starts executing the fake's runs with real pods; `stop()` ends the loop and waits for the runs in flight. */
export function runExecutors(o: ExecutorOptions): { stop(): Promise<void> } {
  const handled = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const artifactsDir = o.artifactsDir ?? join(o.cluster.logDir, 'kfp-artifacts');
  const timeoutMs = o.taskTimeoutMs ?? 300_000;
  const ns = o.conn.namespace;

  const podPhase = async (name: string): Promise<string | undefined> => {
    const pod = await o.conn.core.readNamespacedPod({ name, namespace: ns });
    return pod.status?.phase;
  };

  const runTask = async (r: StoredRun, spec: SpecDoc, task: SpecTask, index: number, workflow: string, runDir: string): Promise<boolean> => {
    const podName = `${workflow}-system-container-impl-${index}`;
    await o.conn.core.createNamespacedPod({ namespace: ns, body: executorPod({ r, spec, task, podName, workflow, node: o.cluster.node, runDir }) });
    const phase = await waitFor(`executor pod ${podName} to finish`, async () => {
      if (r.terminating || stopped) return 'Terminated';
      const p = await podPhase(podName);
      return p === 'Succeeded' || p === 'Failed' ? p : undefined;
    }, timeoutMs);
    if (phase === 'Terminated') await o.conn.core.deleteNamespacedPod({ name: podName, namespace: ns, gracePeriodSeconds: 0 }).catch(() => undefined);
    return phase === 'Succeeded';
  };

  const drive = async (runId: string) => {
    const r = o.fake.runs.get(runId)!;
    const spec = r.spec as unknown as SpecDoc;
    const tasks = tasksByKey(spec);
    const workflow = `wf-${runId.slice(0, 8)}`;
    const runDir = join(artifactsDir, runId);
    mkdirSync(runDir, { recursive: true });
    // The step images may run as any user: like a volume a pod may write, the folder is open to all.
    chmodSync(runDir, 0o777);
    o.fake.setRunState(runId, 'RUNNING');
    const state: Record<string, TaskState> = Object.fromEntries(r.order.map((t) => [t, 'PENDING' as TaskState]));
    const running = new Map<string, Promise<void>>();
    let failed = false;
    for (;;) {
      if (!failed && !stopped && !r.terminating) {
        for (const t of r.order) {
          if (state[t] !== 'PENDING' || !r.deps[t].every((d) => state[d] === 'SUCCEEDED')) continue;
          const task = tasks.get(t);
          if (!task) throw new Error(`run ${runId}: task '${t}' is not in the spec`);
          state[t] = 'RUNNING';
          o.fake.setRunState(runId, 'RUNNING', { [t]: 'RUNNING' });
          const p = runTask(r, spec, task, r.order.indexOf(t), workflow, runDir).then((ok) => {
            state[t] = ok ? 'SUCCEEDED' : 'FAILED';
            if (!ok) failed = true;
            if (!r.terminating) o.fake.setRunState(runId, 'RUNNING', { [t]: state[t] });
          }).finally(() => running.delete(t));
          running.set(t, p);
        }
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
    if (r.terminating || stopped) return;
    o.fake.setRunState(runId, failed ? 'FAILED' : 'SUCCEEDED');
  };

  const loop = (async () => {
    while (!stopped) {
      for (const [runId, r] of o.fake.runs) {
        if (handled.has(runId) || r.run.state !== 'PENDING') continue;
        handled.add(runId);
        const p = drive(runId).catch((err: unknown) => {
          o.onError?.(err as Error);
          // A run the executors could not start is a failed run, as a workflow that cannot start is in KFP.
          if (o.fake.runs.get(runId)?.run.state === 'RUNNING') o.fake.setRunState(runId, 'FAILED');
        });
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
