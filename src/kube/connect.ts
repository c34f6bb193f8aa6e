/**
 * A connection to a cluster from a profile: the loaded kubeconfig, the namespace and typed API clients, with the
 * usual failures (no kubeconfig, unknown context, unreachable API, bad credentials, missing namespace) turned into
 * `KubeError`s that say what to fix.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AuthorizationV1Api, BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KubeError, namespaceNotFound, toKubeError, type RequestContext } from './errors.js';
import { SERVICE_ACCOUNT_DIR } from './service-account.js';

/** The part of a profile that says how to reach the cluster (see ./profile.ts). */
export interface ClusterProfile {
  name?: string;
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
  namespace: string;
}

export interface KubeConnection {
  kc: KubeConfig;
  namespace: string;
  /** API server URL. */
  server: string;
  profile: string;
  core: CoreV1Api;
  batch: BatchV1Api;
  authz: AuthorizationV1Api;
  /** Runs an API call, turning failures into `KubeError`s phrased with `ctx`. */
  call<T>(ctx: Omit<RequestContext, 'server' | 'profile'>, fn: () => Promise<T>): Promise<T>;
}


/** Loads the kubeconfig a profile names (no network yet). */
export function loadKubeConfig(profile: ClusterProfile, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  const label = profile.name ? `profile '${profile.name}'` : 'the cellpipe profile';
  if (profile.inCluster) {
    if (!existsSync(join(SERVICE_ACCOUNT_DIR, 'token')) || !env.KUBERNETES_SERVICE_HOST) {
      throw new KubeError(
        'no-kubeconfig',
        `${label} says inCluster, but this process is not running in a Kubernetes pod with a service account`,
        `set 'inCluster: false' and give 'kubeconfig' (and 'context') in ${label}`,
      );
    }
    kc.loadFromCluster();
  } else {
    const candidates = profile.kubeconfig
      ? [profile.kubeconfig]
      : env.KUBECONFIG
        ? env.KUBECONFIG.split(':').filter(Boolean)
        : [join(env.HOME || homedir(), '.kube', 'config')];
    const found = candidates.filter((p) => existsSync(p));
    if (found.length === 0) {
      throw new KubeError(
        'no-kubeconfig',
        `no kubeconfig found (looked at ${candidates.join(', ')})`,
        profile.kubeconfig
          ? `fix 'kubeconfig' in ${label}: the file does not exist`
          : `set 'kubeconfig' in ${label}, or KUBECONFIG, or put the cluster's kubeconfig at ~/.kube/config`,
      );
    }
    try {
      if (found.length === 1) kc.loadFromFile(found[0]);
      else {
        kc.loadFromFile(found[0]);
        for (const extra of found.slice(1)) {
          const more = new KubeConfig();
          more.loadFromFile(extra);
          kc.mergeConfig(more, true);
        }
      }
    } catch (err) {
      throw new KubeError('no-kubeconfig', `cannot read kubeconfig ${found.join(':')}: ${(err as Error).message}`, 'fix or replace the file', { cause: err });
    }
    if (profile.context) {
      if (!kc.getContextObject(profile.context)) {
        const known = kc.getContexts().map((c) => c.name);
        throw new KubeError(
          'no-context',
          `context '${profile.context}' is not in kubeconfig ${found.join(':')}${known.length ? ` (it has: ${known.join(', ')})` : ''}`,
          `set 'context' of ${label} to one of the contexts above`,
        );
      }
      kc.setCurrentContext(profile.context);
    } else if (!kc.getCurrentContext() || !kc.getContextObject(kc.getCurrentContext())) {
      throw new KubeError('no-context', `kubeconfig ${found.join(':')} has no current context`, `set 'context' in ${label}`);
    }
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeError('no-context', `the kubeconfig's context '${kc.getCurrentContext()}' names no cluster`, 'fix the kubeconfig');
  }
  return kc;
}

/** Connects (without a network round trip): use `checkNamespace` or any call to find out whether it works. */
export function connect(profile: ClusterProfile, env: NodeJS.ProcessEnv = process.env): KubeConnection {
  const kc = loadKubeConfig(profile, env);
  const server = kc.getCurrentCluster()!.server;
  const name = profile.name ?? '';
  return {
    kc,
    namespace: profile.namespace,
    server,
    profile: name,
    core: kc.makeApiClient(CoreV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    authz: kc.makeApiClient(AuthorizationV1Api),
    async call(ctx, fn) {
      try {
        return await fn();
      } catch (err) {
        throw toKubeError(err, { ...ctx, server, profile: name || undefined });
      }
    },
  };
}

/**
 * Checks that the namespace exists. A 403 on reading it is not fatal (many namespaced accounts may not read
 * Namespace objects): then the namespace is assumed to exist and later calls report what they lack.
 */
export async function checkNamespace(conn: KubeConnection): Promise<'exists' | 'unknown'> {
  try {
    await conn.call({ verb: 'get', resource: 'namespaces', name: conn.namespace }, () =>
      conn.core.readNamespace({ name: conn.namespace }),
    );
    return 'exists';
  } catch (err) {
    if (err instanceof KubeError && err.kind === 'not-found') {
      throw namespaceNotFound(conn.namespace, conn.profile ? `profile '${conn.profile}'` : 'the cellpipe profile', err);
    }
    if (err instanceof KubeError && err.kind === 'forbidden') return 'unknown';
    throw err;
  }
}

/** May the connection's account do `verb` on `resource` in its namespace? (SelfSubjectAccessReview) */
export async function canI(
  conn: KubeConnection,
  verb: string,
  resource: string,
  opts: { group?: string; subresource?: string } = {},
): Promise<{ allowed: boolean; reason?: string }> {
  const review = await conn.call({ verb: 'create', resource: 'selfsubjectaccessreviews.authorization.k8s.io' }, () =>
    conn.authz.createSelfSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {
          resourceAttributes: {
            namespace: conn.namespace,
            verb,
            resource,
            group: opts.group ?? '',
            subresource: opts.subresource,
          },
        },
      },
    }),
  );
  return { allowed: review.status?.allowed === true, reason: review.status?.reason || undefined };
}
