/**
 * Helpers for tests and benchmarks against the real test cluster (scripts/k8s/cluster.sh): connections from the
 * exported kubeconfigs, throw-away namespaces, pods on the real node (busybox containers whose output the test
 * feeds through a file), pods on the KWOK node with CRI log files it serves (for what a real node cannot do here),
 * and a TCP proxy that can cut every connection (a real network drop between cellpipe and the API server).
 */
import { appendFile, chmod, mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { connect, type KubeConnection } from './connect.js';
import { sleep } from '../runs/sleep.js';

export interface TestCluster {
  kubeconfig: string;
  restrictedKubeconfig: string;
  namespace: string;
  /** The node pods run on: the real one when there is one (nodeKind 'real'), else KWOK's. */
  node: string;
  nodeKind: 'real' | 'kwok';
  /** KWOK's node (tainted cellpipe.dev/kwok:NoSchedule: only pods that tolerate it land there). */
  kwokNode: string;
  /** A host directory that KWOK and the real node's pods (mounted at /input) can read. */
  logDir: string;
  /** The real node's containerd registry config (certs.d), when there is a real node. */
  registryConfig?: string;
  /** kaniko's executor binary build.sh made (tests put it in an image), when there is one. */
  kanikoExecutor?: string;
}

/** The running test cluster from the environment, or undefined (tests then skip). */
export function testCluster(env: NodeJS.ProcessEnv = process.env): TestCluster | undefined {
  if (!env.CELLPIPE_K8S_KUBECONFIG || !env.CELLPIPE_K8S_LOG_DIR) return undefined;
  return {
    kubeconfig: env.CELLPIPE_K8S_KUBECONFIG,
    restrictedKubeconfig: env.CELLPIPE_K8S_RESTRICTED_KUBECONFIG ?? '',
    namespace: env.CELLPIPE_K8S_NAMESPACE ?? 'cellpipe-test',
    node: env.CELLPIPE_K8S_NODE ?? 'kwok-node-0',
    nodeKind: env.CELLPIPE_K8S_NODE_KIND === 'real' ? 'real' : 'kwok',
    kwokNode: env.CELLPIPE_K8S_KWOK_NODE ?? 'kwok-node-0',
    logDir: env.CELLPIPE_K8S_LOG_DIR,
    registryConfig: env.CELLPIPE_K8S_REGISTRY_CONFIG || undefined,
    kanikoExecutor: env.CELLPIPE_K8S_KANIKO_EXECUTOR || undefined,
  };
}

export const SKIP_NO_REAL_NODE = 'the test cluster has no real node (CELLPIPE_K8S_NODE_KIND is not "real"): run `bash scripts/test-k8s.sh` as root';

/** The busybox image cluster.sh imports into the real node (Debian's busybox-static: sh, sleep, seq, wc, sed…). */
export const BUSYBOX = 'cellpipe.local/busybox:1';

/** Lets the real node pull from a registry on 127.0.0.1 over plain HTTP (a hosts.toml in its containerd config). */
export async function trustRegistry(c: TestCluster, host: string): Promise<void> {
  if (!c.registryConfig) return;
  await mkdir(join(c.registryConfig, host), { recursive: true });
  await writeFile(join(c.registryConfig, host, 'hosts.toml'),
    `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n`);
}

/**
 * A shell script for a real container that prints the lines of /input/FILE as the test appends them, and ends at a
 * line `__exit N__` with status N: the test decides what the container logs and when, as with KWOK's log files, but
 * the log a kubelet serves is a real container's stdout.
 */
export function echoFileScript(file: string): string {
  return [
    'i=0',
    'while :; do',
    `  n=$(wc -l < /input/${file})`,
    '  while [ "$i" -lt "$n" ]; do',
    '    i=$((i + 1))',
    `    line=$(sed -n "\${i}p" /input/${file})`,
    '    case "$line" in "__exit "*__) code=${line#__exit }; exit "${code%__}" ;; esac',
    '    printf \'%s\\n\' "$line"',
    '  done',
    '  sleep 0.05',
    'done',
  ].join('\n');
}

/** A file in the cluster's shared directory that echoFileScript pods read as /input/NAME; returns its host path and name. */
export async function newInputFile(c: TestCluster, name: string): Promise<{ path: string; name: string }> {
  await mkdir(c.logDir, { recursive: true });
  const base = `${name}-${randomBytes(3).toString('hex')}.txt`;
  const path = join(c.logDir, base);
  await writeFile(path, '');
  await chmod(path, 0o644);
  return { path, name: base };
}

/** Appends plain lines to an input file (what an echoFileScript pod prints next). */
export async function feedLines(path: string, lines: string[]): Promise<void> {
  await appendFile(path, lines.map((l) => `${l}\n`).join(''));
}

/** A pod on the real node: one busybox container `main` running `script` with the shared directory at /input. */
export async function createRealPod(
  conn: KubeConnection,
  c: TestCluster,
  name: string,
  o: {
    script: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    restartPolicy?: 'Never' | 'OnFailure';
    gated?: boolean;
    emptyDir?: string;
    /** A memory limit, e.g. `32Mi` (the kubelet enforces it through the container's cgroup). */
    memoryLimit?: string;
    /** More limits, e.g. `{'nvidia.com/gpu': '1'}`. */
    limits?: Record<string, string>;
    /** Placed by kube-scheduler (as KFP's pods are), not bound to the node by name. */
    scheduled?: boolean;
    /** Another image than the test busybox (pulled if not present). */
    image?: string;
  } = { script: 'true' },
): Promise<void> {
  await conn.core.createNamespacedPod({
    namespace: conn.namespace,
    body: {
      metadata: { name, labels: o.labels, annotations: o.annotations },
      spec: {
        nodeName: o.gated || o.scheduled ? undefined : c.node,
        schedulingGates: o.gated ? [{ name: 'cellpipe.dev/test-gate' }] : undefined,
        automountServiceAccountToken: false,
        restartPolicy: o.restartPolicy ?? 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: 'main',
          image: o.image ?? BUSYBOX,
          imagePullPolicy: o.image ? 'IfNotPresent' : 'Never',
          command: ['sh', '-c', o.script],
          resources: o.memoryLimit || o.limits ? { limits: { ...(o.memoryLimit ? { memory: o.memoryLimit } : {}), ...o.limits } } : undefined,
          volumeMounts: [{ name: 'input', mountPath: '/input', readOnly: true }, ...(o.emptyDir ? [{ name: 'scratch', mountPath: o.emptyDir }] : [])],
        }],
        volumes: [{ name: 'input', hostPath: { path: c.logDir, type: 'Directory' } }, ...(o.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : [])],
      },
    },
  });
}

export const SKIP_NO_CLUSTER = 'no test cluster: run `bash scripts/test-k8s.sh` (or eval "$(bash scripts/k8s/cluster.sh env)")';

/** A new namespace with its default service account ready; `dispose()` deletes it. */
export async function freshNamespace(c: TestCluster, prefix: string): Promise<{ conn: KubeConnection; name: string; dispose(): Promise<void> }> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const conn = connect({ kubeconfig: c.kubeconfig, namespace: name });
  await conn.core.createNamespace({ body: { metadata: { name } } });
  for (let i = 0; i < 100; i++) {
    try {
      await conn.core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      break;
    } catch {
      await sleep(100);
    }
  }
  return {
    conn,
    name,
    async dispose() {
      await conn.core.deleteNamespace({ name }).catch(() => undefined);
      await customObjects(c)
        .deleteCollectionClusterCustomObject({ group: 'kwok.x-k8s.io', version: 'v1alpha1', plural: 'clusterlogs', labelSelector: `cellpipe.dev/test-namespace=${name}` })
        .catch(() => undefined);
    },
  };
}

/** KWOK's Logs / ClusterLogs objects and other custom resources, as admin. */
export function customObjects(c: TestCluster): CustomObjectsApi {
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfig);
  return kc.makeApiClient(CustomObjectsApi);
}

/** Makes KWOK serve `file` as the log of the containers of `pods` (default: every pod) in `namespace` (a ClusterLogs object). */
export async function serveLogsFromFile(c: TestCluster, namespace: string, file: string, pods?: string[]): Promise<void> {
  await customObjects(c).createClusterCustomObject({
    group: 'kwok.x-k8s.io',
    version: 'v1alpha1',
    plural: 'clusterlogs',
    body: {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterLogs',
      metadata: { name: `${namespace}-${randomBytes(3).toString('hex')}`, labels: { 'cellpipe.dev/test-namespace': namespace } },
      spec: { selector: { matchNamespaces: [namespace], matchNames: pods }, logs: [{ logsFile: file, follow: true }] },
    },
  });
  // KWOK picks the object up through its informer; give it a moment.
  await sleep(300);
}

/** Nanosecond clock for CRI timestamps (strictly increasing per process). */
let lastNs = 0n;
export function nowNs(): bigint {
  let ns = BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000);
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  return ns;
}

/** RFC 3339 with nanoseconds, as container runtimes write it. */
export function criTime(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // …:SS.mmmZ
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** One line in the CRI log format (`<time> <stream> F <text>`). */
export function criLine(text: string, ns: bigint = nowNs(), stream: 'stdout' | 'stderr' = 'stdout'): string {
  return `${criTime(ns)} ${stream} F ${text}\n`;
}

export async function newLogFile(c: TestCluster, name: string, content = ''): Promise<string> {
  await mkdir(c.logDir, { recursive: true });
  const file = join(c.logDir, `${name}-${randomBytes(3).toString('hex')}.log`);
  await writeFile(file, content);
  return file;
}

export async function appendLines(file: string, lines: { text: string; ns?: bigint }[]): Promise<void> {
  await appendFile(file, lines.map((l) => criLine(l.text, l.ns)).join(''));
}

/** A bare pod on the KWOK node (no scheduler needed) with annotations that drive its KWOK stages; nothing runs. */
export async function createPod(
  conn: KubeConnection,
  c: TestCluster,
  name: string,
  o: { labels?: Record<string, string>; annotations?: Record<string, string>; gated?: boolean } = {},
): Promise<void> {
  await conn.core.createNamespacedPod({
    namespace: conn.namespace,
    body: {
      metadata: { name, labels: o.labels, annotations: o.annotations },
      spec: {
        nodeName: o.gated ? undefined : c.kwokNode,
        // A gated pod is bound by the scheduler once released: only to KWOK's node, which its taint otherwise guards.
        nodeSelector: o.gated ? { 'kubernetes.io/hostname': c.kwokNode } : undefined,
        schedulingGates: o.gated ? [{ name: 'cellpipe.dev/test-gate' }] : undefined,
        automountServiceAccountToken: false,
        containers: [{ name: 'main', image: 'python:3.12-slim' }],
        tolerations: [{ operator: 'Exists' }],
      },
    },
  });
}

/** Sets pod annotations (e.g. `kwok.cellpipe.dev/exit-code` to end a running pod). */
export async function annotatePod(conn: KubeConnection, name: string, annotations: Record<string, string>): Promise<void> {
  const pod = await conn.core.readNamespacedPod({ name, namespace: conn.namespace });
  pod.metadata!.annotations = { ...pod.metadata!.annotations, ...annotations };
  await conn.core.replaceNamespacedPod({ name, namespace: conn.namespace, body: pod });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Waits until pod `name` (in the connection's namespace) is in `phase`; returns the pod. */
export async function waitForPhase(conn: KubeConnection, name: string, phase: 'Running' | 'Succeeded' | 'Failed', timeoutMs = 30000): Promise<V1Pod> {
  return waitFor(`pod ${name} ${phase}`, async () => {
    const p = await conn.core.readNamespacedPod({ name, namespace: conn.namespace });
    return p.status?.phase === phase ? p : undefined;
  }, timeoutMs);
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`; `cut()` destroys every open connection, as a network drop would;
 * `stall()` stops moving bytes either way (open and new connections) until `resume()`, as an API server or kubelet
 * too loaded to answer would.
 */
export async function tcpProxy(target: { host: string; port: number }): Promise<{ port: number; cut(): number; stall(): void; resume(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let stalled = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    if (stalled) {
      client.pause();
      upstream.pause();
    }
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    // pipe() resumes its sources (on start, after back-pressure): while stalled they are paused again.
    for (const s of [client, upstream]) s.on('resume', () => stalled && s.pause());
    if (stalled) {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      const n = sockets.size / 2;
      for (const s of [...sockets]) s.destroy();
      sockets.clear();
      return n;
    },
    stall() {
      stalled = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      stalled = false;
      for (const s of sockets) s.resume();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A connection to the test cluster through `proxyPort` instead of the API server's own port. */
export function connectThrough(c: TestCluster, namespace: string, proxyPort: number): KubeConnection {
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfig);
  const cluster = kc.getCurrentCluster()!;
  const url = new URL(cluster.server);
  url.port = String(proxyPort);
  const patched = new KubeConfig();
  patched.loadFromOptions({
    clusters: kc.getClusters().map((cl) => (cl.name === cluster.name ? { ...cl, server: url.toString().replace(/\/$/, '') } : cl)),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  const conn = connect({ kubeconfig: c.kubeconfig, namespace });
  return { ...conn, kc: patched, server: url.toString() };
}

/** The API server's address from a kubeconfig. */
export function apiAddress(c: TestCluster): { host: string; port: number } {
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfig);
  const url = new URL(kc.getCurrentCluster()!.server);
  return { host: url.hostname, port: Number(url.port) };
}
