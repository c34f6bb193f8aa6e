/**
 * Inside a Kubeflow notebook pod, Kubeflow has already said where to run: the profile namespace the pod runs in
 * (its service account's namespace file), Kubeflow Pipelines' in-cluster API service, and a KFP token projected
 * into the pod (the PodDefault "access-ml-pipeline"). So when there is no profiles file, cellpipe offers the profile
 * this implies — named `kubeflow` — and a user who installed cellpipe into their notebook image writes nothing.
 *
 * What makes a pod a Kubeflow notebook's: the Kubernetes service host and the service account's namespace file
 * (every pod), `NB_PREFIX` (set by Kubeflow's notebook controller: the base URL `/notebook/<namespace>/<name>`) and
 * the projected KFP token file. The token is read at each request (it rotates: see ../kfp/endpoint.ts); the steps'
 * base image is the notebook's own (../runtimes/kubeflow/runtime.ts, baseImage()), so every library of the notebook
 * is in every step. Where step images go is the platform team's choice, not Kubeflow's: `$CELLPIPE_REGISTRY` (set in
 * the notebook image, or by a PodDefault), else every step runs on the notebook's image with its program in the spec.
 */
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULT_TOKEN_FILE } from '../kfp/endpoint.js';
import type { Profile } from './profile.js';
import { SERVICE_ACCOUNT_DIR } from './service-account.js';

/** The name of the profile a Kubeflow notebook pod implies. */
export const NOTEBOOK_POD_PROFILE = 'kubeflow';

/** Kubeflow Pipelines' API service as a notebook pod reaches it (what `kfp.Client()` uses in a pod). */
export const IN_CLUSTER_KFP = 'http://ml-pipeline.kubeflow.svc.cluster.local:8888';

/** Where the pod's files are (tests point it elsewhere). */
export interface PodFiles {
  serviceAccountDir?: string;
}

/** The token file Kubeflow projects (the KFP SDK's `KF_PIPELINES_SA_TOKEN_PATH` moves it, as for `kfp.Client`). */
export function kfpTokenFile(env: NodeJS.ProcessEnv): string {
  return env.KF_PIPELINES_SA_TOKEN_PATH || DEFAULT_TOKEN_FILE;
}

/**
 * The profile of the Kubeflow notebook pod this process runs in, or undefined when it is not in one. The namespace
 * is read now; the token only when a request needs it.
 */
export function notebookPodProfile(env: NodeJS.ProcessEnv = process.env, files: PodFiles = {}): Profile | undefined {
  if (!env.KUBERNETES_SERVICE_HOST || !env.NB_PREFIX) return undefined;
  const tokenFile = kfpTokenFile(env);
  if (!existsSync(tokenFile)) return undefined;
  let namespace: string;
  try {
    namespace = readFileSync(`${files.serviceAccountDir ?? SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!namespace) return undefined;
  const registry = env.CELLPIPE_REGISTRY?.trim();
  return {
    name: NOTEBOOK_POD_PROFILE,
    implicit: 'notebook-pod',
    inCluster: true,
    namespace,
    ...(registry ? { registry } : {}),
    ...(registry && /^(1|true|yes)$/i.test(env.CELLPIPE_INSECURE_REGISTRY ?? '') ? { insecureRegistry: true } : {}),
    // KF_PIPELINES_ENDPOINT: the KFP SDK's own override of the in-cluster service, honoured the same way.
    // The UI link: Kubeflow serves the Pipelines UI at /pipeline on the host the notebook's page comes from.
    kfp: { host: env.KF_PIPELINES_ENDPOINT?.trim() || IN_CLUSTER_KFP, auth: 'token-file', tokenFile, uiUrl: '/pipeline' },
  };
}

/** How messages name where the implicit profile comes from. */
export function describeNotebookPodProfile(p: Profile): string {
  return `this Kubeflow notebook pod (namespace '${p.namespace}' from its service account, the KFP token projected at ${String(p.kfp?.tokenFile)})`;
}
