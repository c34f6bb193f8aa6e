/**
 * Helpers for tests and benchmarks against the real test cluster (scripts/k8s/cluster.sh): connections from the
 * exported kubeconfigs, throw-away namespaces, CRI log files that KWOK serves, and a TCP proxy that can cut every
 * connection (a real network drop between cellpipe and the API server).
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { connect, type KubeConnection } from './connect.js';

export interface TestCluster {
  kubeconfig: string;
  restrictedKubeconfig: string;
  namespace: string;
  node: string;
  logDir: string;
}

/** The running test cluster from the environment, or undefined (tests then skip). */
export function testCluster(env: NodeJS.ProcessEnv = process.env): TestCluster | undefined {
  if (!env.CELLPIPE_K8S_KUBECONFIG || !env.CELLPIPE_K8S_LOG_DIR) return undefined;
  return {
    kubeconfig: env.CELLPIPE_K8S_KUBECONFIG,
    restrictedKubeconfig: env.CELLPIPE_K8S_RESTRICTED_KUBECONFIG ?? '',
    namespace: env.CELLPIPE_K8S_NAMESPACE ?? 'cellpipe-test',
    node: env.CELLPIPE_K8S_NODE ?? 'kwok-node-0',
    logDir: env.CELLPIPE_K8S_LOG_DIR,
  };
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
      await new Promise((r) => setTimeout(r, 100));
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
  await new Promise((r) => setTimeout(r, 300));
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

/** A bare pod on the KWOK node (no scheduler needed) with annotations that drive its KWOK stages. */
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
        nodeName: o.gated ? undefined : c.node,
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
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A TCP proxy on 127.0.0.1 in front of `target`; `cut()` destroys every open connection, as a network drop would. */
export async function tcpProxy(target: { host: string; port: number }): Promise<{ port: number; cut(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
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
