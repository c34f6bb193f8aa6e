/**
 * Inside a Kubeflow notebook pod, the steps' default base image is the notebook's own image, so every library the
 * user has in the notebook is in every step. The image is read from the pod itself (its service account may read
 * its own pod in a Kubeflow profile namespace) and taken by digest, as the kubelet resolved it when it pulled it.
 *
 * Which container is the notebook: the one named like the notebook (Kubeflow's notebook controller names the
 * container after the Notebook, whose path is in `NB_PREFIX=/notebook/<namespace>/<name>`), else the one container
 * that is not a known sidecar (istio-proxy …).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeConnection } from './connect.js';
import { SERVICE_ACCOUNT_DIR } from './service-account.js';

const SIDECARS = new Set(['istio-proxy', 'istio-init', 'linkerd-proxy', 'oauth2-proxy', 'kube-rbac-proxy']);
const DIGEST_REF = /^[^\s@]+@sha256:[0-9a-f]{64}$/;

export interface OwnImage {
  /** `repo@sha256:…` when the kubelet reported the pulled digest; the pod spec's reference otherwise. */
  image: string;
  byDigest: boolean;
  container: string;
}

/** The pod this process runs in, from the environment: undefined outside Kubernetes. */
export function ownPod(env: NodeJS.ProcessEnv = process.env, serviceAccountDir = SERVICE_ACCOUNT_DIR): { name: string; namespace: string } | undefined {
  const nsFile = `${serviceAccountDir}/namespace`;
  if (!env.KUBERNETES_SERVICE_HOST || !env.HOSTNAME || !existsSync(nsFile)) return undefined;
  const namespace = readFileSync(nsFile, 'utf8').trim();
  return namespace ? { name: env.HOSTNAME, namespace } : undefined;
}

/** The notebook's container of `pod` and its image (pure). */
export function notebookImage(pod: V1Pod, env: NodeJS.ProcessEnv = process.env): OwnImage | undefined {
  const containers = pod.spec?.containers ?? [];
  const fromPrefix = env.NB_PREFIX?.replace(/\/+$/, '').split('/').pop();
  const notSidecars = containers.filter((c) => !SIDECARS.has(c.name));
  const chosen =
    containers.find((c) => fromPrefix && c.name === fromPrefix) ??
    (notSidecars.length === 1 ? notSidecars[0] : undefined) ??
    (containers.length === 1 ? containers[0] : undefined);
  if (!chosen?.image) return undefined;
  const status = pod.status?.containerStatuses?.find((s) => s.name === chosen.name);
  // Docker reports `docker-pullable://repo@sha256:…`; containerd and CRI-O `repo@sha256:…`. A bare `sha256:…` is the
  // image's local id (its config digest), which no registry serves: then the spec's reference is all there is.
  const id = (status?.imageID ?? '').replace(/^docker-pullable:\/\//, '').replace(/^docker:\/\//, '');
  if (DIGEST_REF.test(id)) return { image: id, byDigest: true, container: chosen.name };
  return { image: chosen.image, byDigest: false, container: chosen.name };
}

/**
 * The image of the notebook this process runs in, or undefined (not in a pod, or the pod cannot be read; `why`
 * tells which). `conn` reaches the pod's namespace with the pod's own service account.
 */
export async function readOwnImage(conn: KubeConnection, podName: string, env: NodeJS.ProcessEnv = process.env): Promise<{ image?: OwnImage; why?: string }> {
  try {
    const pod = await conn.call({ verb: 'get', resource: 'pods', namespace: conn.namespace, name: podName }, () =>
      conn.core.readNamespacedPod({ name: podName, namespace: conn.namespace }),
    );
    const image = notebookImage(pod, env);
    return image ? { image } : { why: `pod ${podName} has no container that looks like the notebook's` };
  } catch (err) {
    return { why: `cannot read this notebook's pod ${conn.namespace}/${podName}: ${(err as Error).message}` };
  }
}
