/**
 * Image builds in the cluster with kaniko, for steps whose requirements need `pip install` (the default builder only
 * appends a layer). No object storage: the gzipped build context travels in ConfigMaps (binaryData, ≤ 900 KiB each)
 * that an init container concatenates into the pod's emptyDir, and kaniko reads it with `tar://`.
 *
 * Order of operations, chosen so nothing sensitive is left behind:
 *   1. create the Job (if this is denied, nothing else was created);
 *   2. create the context ConfigMaps and the registry Secret (dockerconfigjson) owned by the Job, so the garbage
 *      collector removes them with the Job even if this process dies; the pod waits for them to exist;
 *   3. watch the Job (re-watching on expiry) while the kaniko container's log streams to `onProgress`;
 *   4. always delete the Secret; delete the Job, its pods and ConfigMaps unless `cleanup` says to keep them.
 */
import { randomBytes } from 'node:crypto';
import type { V1Job, V1OwnerReference, V1Pod, V1Toleration } from '@kubernetes/client-node';
import type { LogLine } from '../runs/types.js';
import type { KubeConnection } from './connect.js';
import { KubeError } from './errors.js';
import { streamPodLogs } from './logs.js';
import { watchObjects } from './watch.js';
import { CellpipeError } from '../core/errors.js';

export const DEFAULT_KANIKO_IMAGE = 'gcr.io/kaniko-project/executor:v1.23.2-debug';
const CHUNK = 900 * 1024;
const MAX_CHUNKS = 8;

export interface RegistryCredentials {
  /** Registry host as it appears in image references, e.g. `registry.example.com` or `localhost:5000`. */
  registry: string;
  username: string;
  password: string;
}

export interface KanikoBuildOptions {
  conn: KubeConnection;
  /** The build context as a gzipped tar (Dockerfile inside, see `dockerfile`). */
  context: Uint8Array;
  /** Image references to push, e.g. `registry.example.com/team/step:abc123`. */
  destinations: string[];
  /** Dockerfile path inside the context (default `Dockerfile`). */
  dockerfile?: string;
  credentials?: RegistryCredentials[];
  /** Push to plain-HTTP / self-signed registries. */
  insecureRegistry?: boolean;
  /** Executor image (must be a `-debug` variant: the init container uses its busybox). */
  image?: string;
  /**
   * Run the build pod in the node's network namespace: for a registry or package index that only the node reaches,
   * e.g. on its loopback (the test cluster's). Off by default.
   */
  hostNetwork?: boolean;
  /** Where the build pod may run (e.g. build nodes with a taint). */
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  /** More executor flags, e.g. `--cache=true`. */
  extraArgs?: string[];
  /** Extra pod labels / annotations (e.g. for admission controllers). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** `always` (default): delete Job, pods and ConfigMaps when done; `on-success`: keep failed builds for inspection; `never`. */
  cleanup?: 'always' | 'on-success' | 'never';
  /** Give up after this many seconds (activeDeadlineSeconds; default 1800). */
  timeoutSeconds?: number;
  /** Every line of the build log, as it arrives. */
  onProgress?: (line: LogLine) => void | Promise<void>;
  /** How many last log lines a failure reports (default 20). */
  tailLines?: number;
  signal?: AbortSignal;
}

export interface KanikoResult {
  job: string;
  pod?: string;
  /** Image digest, when kaniko reported it (written to the termination message). */
  digest?: string;
  /** Number of log lines streamed. */
  logLines: number;
}

/** A failed build: the message ends with the build's last log lines. */
export class BuildFailedError extends CellpipeError {
  constructor(
    message: string,
    readonly job: string,
    readonly logTail: string[],
  ) {
    super(message);
    this.name = 'BuildFailedError';
  }
}

/** The `.dockerconfigjson` for a set of registry credentials. */
export function dockerConfigJson(creds: RegistryCredentials[]): string {
  const auths: Record<string, { auth: string }> = {};
  for (const c of creds) auths[c.registry] = { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') };
  return JSON.stringify({ auths });
}

/** The Job that runs the build (exported for inspection and tests; `buildWithKaniko` creates it). */
export function kanikoJob(name: string, o: KanikoBuildOptions, parts: number, withSecret: boolean): V1Job {
  const image = o.image ?? DEFAULT_KANIKO_IMAGE;
  const labels = { ...o.labels, 'app.kubernetes.io/managed-by': 'cellpipe', 'cellpipe.dev/build': name };
  const args = [
    '--context=tar:///workspace/context.tar.gz',
    `--dockerfile=${o.dockerfile ?? 'Dockerfile'}`,
    ...o.destinations.map((d) => `--destination=${d}`),
    '--digest-file=/dev/termination-log',
    ...(o.insecureRegistry ? ['--insecure', '--skip-tls-verify'] : []),
    ...(o.extraArgs ?? []),
  ];
  const partVolumes = Array.from({ length: parts }, (_, i) => ({
    name: `context-${i}`,
    configMap: { name: `${name}-context-${i}` },
  }));
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: o.timeoutSeconds ?? 1800,
      template: {
        metadata: {
          labels,
          // An Istio sidecar would keep the pod (and the Job) running after kaniko exits.
          annotations: { 'sidecar.istio.io/inject': 'false', ...o.annotations },
        },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          ...(o.hostNetwork ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } : {}),
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          ...(o.tolerations ? { tolerations: o.tolerations } : {}),
          initContainers: [
            {
              name: 'context',
              image,
              command: ['/busybox/sh', '-c', 'cat /cellpipe/context/*/part > /workspace/context.tar.gz'],
              volumeMounts: [
                { name: 'workspace', mountPath: '/workspace' },
                ...partVolumes.map((v, i) => ({ name: v.name, mountPath: `/cellpipe/context/${String(i).padStart(3, '0')}` })),
              ],
            },
          ],
          containers: [
            {
              name: 'kaniko',
              image,
              args,
              terminationMessagePolicy: 'File',
              volumeMounts: [
                { name: 'workspace', mountPath: '/workspace' },
                ...(withSecret ? [{ name: 'registry-auth', mountPath: '/kaniko/.docker', readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'workspace', emptyDir: {} },
            ...partVolumes,
            ...(withSecret
              ? [{ name: 'registry-auth', secret: { secretName: `${name}-registry`, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } }]
              : []),
          ],
        },
      },
    },
  };
}

function jobOutcome(job: V1Job): 'succeeded' | 'failed' | undefined {
  for (const c of job.status?.conditions ?? []) {
    if (c.status !== 'True') continue;
    if (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') return 'succeeded';
    if (c.type === 'Failed' || c.type === 'FailureTarget') return 'failed';
  }
  return undefined;
}

function jobFailureReason(job: V1Job): string {
  const c = (job.status?.conditions ?? []).find((x) => (x.type === 'Failed' || x.type === 'FailureTarget') && x.status === 'True');
  return [c?.reason, c?.message].filter(Boolean).join(': ') || 'the build container failed';
}

/** Builds and pushes an image with kaniko in the profile's namespace (see the module comment). */
export async function buildWithKaniko(o: KanikoBuildOptions): Promise<KanikoResult> {
  const { conn } = o;
  const ns = conn.namespace;
  if (o.destinations.length === 0) throw new Error('kaniko build: no destination image given');
  const parts = Math.max(1, Math.ceil(o.context.byteLength / CHUNK));
  if (parts > MAX_CHUNKS) {
    throw new Error(
      `build context is ${(o.context.byteLength / 1048576).toFixed(1)} MiB; in-cluster builds take at most ${(MAX_CHUNKS * CHUNK / 1048576).toFixed(1)} MiB ` +
        '(move data files out of the step\'s declared dependencies, or build locally)',
    );
  }
  const name = `cellpipe-build-${randomBytes(4).toString('hex')}`;
  const withSecret = (o.credentials?.length ?? 0) > 0;
  const tailMax = o.tailLines ?? 20;
  const tail: string[] = [];
  let logLines = 0;
  let outcome: 'succeeded' | 'failed' | undefined;
  let finalJob: V1Job | undefined;
  let pod: V1Pod | undefined;

  const job = await conn.call({ verb: 'create', resource: 'jobs.batch', namespace: ns, name }, () =>
    conn.batch.createNamespacedJob({ namespace: ns, body: kanikoJob(name, o, parts, withSecret) }),
  );
  const owner: V1OwnerReference = { apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata!.uid!, blockOwnerDeletion: false };
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (withSecret) {
      await conn.call({ verb: 'create', resource: 'secrets', namespace: ns, name: `${name}-registry` }, () =>
        conn.core.createNamespacedSecret({
          namespace: ns,
          body: {
            metadata: { name: `${name}-registry`, labels: { 'cellpipe.dev/build': name }, ownerReferences: [owner] },
            type: 'kubernetes.io/dockerconfigjson',
            stringData: { '.dockerconfigjson': dockerConfigJson(o.credentials!) },
          },
        }),
      );
    }
    for (let i = 0; i < parts; i++) {
      const chunk = Buffer.from(o.context.buffer, o.context.byteOffset + i * CHUNK, Math.min(CHUNK, o.context.byteLength - i * CHUNK));
      await conn.call({ verb: 'create', resource: 'configmaps', namespace: ns, name: `${name}-context-${i}` }, () =>
        conn.core.createNamespacedConfigMap({
          namespace: ns,
          body: {
            metadata: { name: `${name}-context-${i}`, labels: { 'cellpipe.dev/build': name }, ownerReferences: [owner] },
            binaryData: { part: chunk.toString('base64') },
          },
        }),
      );
    }

    const logs = streamPodLogs({
      conn,
      selector: `cellpipe.dev/build=${name}`,
      stepOf: (p) => {
        pod = p;
        return 'build';
      },
      containersOf: () => ['kaniko'],
      stopWhenDone: true,
      sink: async (_step, line) => {
        logLines++;
        if (line.stream !== 'system') {
          tail.push(line.text);
          if (tail.length > tailMax) tail.shift();
        }
        await o.onProgress?.(line);
      },
    });
    // Watch the Job itself until it finishes; a watch that expires is re-opened by watchObjects.
    const jobDone = new Promise<V1Job>((resolve, reject) => {
      watchObjects<V1Job>({
        conn,
        path: `/apis/batch/v1/namespaces/${encodeURIComponent(ns)}/jobs`,
        resource: 'jobs.batch',
        fieldSelector: `metadata.name=${name}`,
        signal: controller.signal,
        onEvent: (type, j) => {
          if (type === 'DELETED') reject(new KubeError('not-found', `build job '${name}' was deleted before it finished`, 'run the build again'));
          else if (jobOutcome(j)) resolve(j);
        },
      }).then(() => reject(new Error(`build '${name}' cancelled`)), reject);
    });
    try {
      finalJob = await jobDone;
      outcome = jobOutcome(finalJob);
      // Let the log catch up with the finished pod, but never hang on it.
      const grace = new Promise<void>((r) => setTimeout(r, 15000).unref());
      await Promise.race([logs.done, grace]);
    } finally {
      logs.stop();
      await logs.done.catch(() => undefined);
    }
  } finally {
    controller.abort();
    o.signal?.removeEventListener('abort', onAbort);
    const keep = o.cleanup === 'never' || (o.cleanup === 'on-success' && outcome !== 'succeeded');
    if (withSecret) {
      // Never leave credentials behind, whatever happened.
      await conn.core.deleteNamespacedSecret({ namespace: ns, name: `${name}-registry` }).catch(() => undefined);
    }
    if (!keep) {
      await conn.batch.deleteNamespacedJob({ namespace: ns, name, propagationPolicy: 'Background' }).catch(() => undefined);
      for (let i = 0; i < parts; i++) {
        await conn.core.deleteNamespacedConfigMap({ namespace: ns, name: `${name}-context-${i}` }).catch(() => undefined);
      }
    }
  }

  const podName = pod?.metadata?.name;
  if (outcome !== 'succeeded') {
    const reason = finalJob ? jobFailureReason(finalJob) : 'unknown';
    throw new BuildFailedError(
      `image build failed (job ${name}${podName ? `, pod ${podName}` : ''}: ${reason})` +
        (tail.length ? `; last ${tail.length} log lines:\n${tail.join('\n')}` : '; the build printed no log'),
      name,
      [...tail],
    );
  }
  const message = pod?.status?.containerStatuses?.find((c) => c.name === 'kaniko')?.state?.terminated?.message;
  const digest = message && /sha256:[0-9a-f]{64}/.exec(message)?.[0];
  return { job: name, pod: podName, digest: digest || undefined, logLines };
}
