/**
 * How to reach Kubeflow Pipelines for a profile: the `kfp:` section of a cellpipe profile (see ../kube/profile.ts)
 * turned into a base URL, TLS options and an `Authorization` source.
 *
 * ```yaml
 * profiles:
 *   kf:
 *     namespace: team-a                  # the Kubeflow profile namespace (experiments, runs, pods live here)
 *     registry: registry.example.com/team
 *     kfp:
 *       host: https://kubeflow.example.com/pipeline   # omit to go through the Kubernetes API service proxy
 *       auth: token-file                 # none | token-file | token | kube (default: see below)
 *       tokenFile: /var/run/secrets/kubeflow/pipelines/token
 *       tokenEnv: CELLPIPE_KFP_TOKEN     # the env var holding a user token (auth: token)
 *       kfpNamespace: kubeflow           # where KFP is installed (service proxy path)
 *       service: ml-pipeline:8888        # the API service and port (service proxy path)
 *       uiUrl: https://kubeflow.example.com/pipeline  # for links to runs (default: host)
 *       experiment: my-experiment        # default: the notebook's experiment setting, else 'Default'
 *       pipelineRoot: minio://mlpipeline/v2/artifacts
 *       serviceAccount: default-editor
 *       insecureSkipTlsVerify: false
 *       caFile: /path/ca.pem
 *       objectStore:                     # optional: read the steps' logs back from KFP's object store (below)
 *         endpoint: http://seaweedfs.kubeflow:9000
 *         secret: mlpipeline-minio-artifact   # the namespace's Secret with keys accesskey, secretkey (KFP's)
 *         region: minio
 * ```
 * Inside a Kubeflow notebook pod (a Kubernetes pod with the projected KFP token file) without `host`, the API service
 * `http://ml-pipeline.<kfpNamespace>.svc.cluster.local:8888` is used with that token.
 * Default auth: `kube` without `host`; with `host`, `token` when the token variable is set, else `token-file` when
 * the token file exists (inside a Kubeflow notebook pod), else `none`. Tokens are read on every request (projected
 * tokens rotate) and are never written anywhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Agent } from 'node:https';
import type { Profile } from '../kube/profile.js';
import { KfpError } from './errors.js';

export const DEFAULT_TOKEN_FILE = '/var/run/secrets/kubeflow/pipelines/token';
export const DEFAULT_TOKEN_ENV = 'CELLPIPE_KFP_TOKEN';

export type KfpAuth = 'none' | 'token-file' | 'token' | 'kube';

export interface KfpSettings {
  host?: string;
  auth: KfpAuth;
  tokenFile: string;
  tokenEnv: string;
  kfpNamespace: string;
  service: string;
  uiUrl?: string;
  experiment?: string;
  pipelineRoot?: string;
  serviceAccount?: string;
  insecureSkipTlsVerify: boolean;
  caFile?: string;
  /** Where KFP's launcher uploads each step's log; unset: the logs are read from the step pods only. */
  objectStore?: ObjectStoreSettings;
}

/**
 * KFP's object store as cellpipe reads it back (./object-store.ts): its S3 endpoint, and the namespace's Secret
 * holding the access key KFP's own UI and launcher use. The bucket and prefix are the run's pipeline root.
 */
export interface ObjectStoreSettings {
  endpoint: string;
  secret: string;
  region: string;
}

/** TLS and auth for one request. */
export interface RequestAuth {
  headers: Record<string, string>;
  tls: { ca?: string | Buffer | (string | Buffer)[]; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean; agent?: Agent };
}

/** A resolved KFP endpoint: where, how to authenticate, and how to describe it in messages (without secrets). */
export interface KfpEndpoint {
  /** Base URL ending before `/apis/v2beta1/…`. */
  baseUrl: string;
  /** `host` or `Kubernetes API <server> → <ns>/<service>`. */
  describe: string;
  /** Auth mode description for messages: never the token. */
  authLabel: string;
  viaKube: boolean;
  profile?: string;
  /** The user's namespace (experiments and runs). */
  namespace?: string;
  /** Base URL of the KFP UI for run links, when known. */
  uiUrl?: string;
  auth(): Promise<RequestAuth>;
}

function settingError(profile: string, key: string, what: string): KfpError {
  return new KfpError('config', `profile '${profile}': kfp.${key} ${what}`, `fix 'kfp.${key}' in the profiles file`);
}

/** Reads and checks a profile's `kfp:` section. */
export function kfpSettings(profile: Pick<Profile, 'name' | 'kfp'>, env: NodeJS.ProcessEnv = process.env): KfpSettings {
  const raw = profile.kfp ?? {};
  const known = ['host', 'auth', 'tokenFile', 'tokenEnv', 'kfpNamespace', 'service', 'uiUrl', 'experiment', 'pipelineRoot', 'serviceAccount', 'insecureSkipTlsVerify', 'caFile', 'objectStore'];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw settingError(profile.name, key, `is not a known setting (known: ${known.join(', ')})`);
  }
  const str = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !v) throw settingError(profile.name, key, 'must be a non-empty string');
    return v;
  };
  let host = str('host')?.replace(/\/+$/, '');
  if (host && !/^https?:\/\/[^/]+/.test(host)) throw settingError(profile.name, 'host', `'${host}' must be an http:// or https:// URL`);
  const tokenFile = str('tokenFile') ?? env.KF_PIPELINES_SA_TOKEN_PATH ?? DEFAULT_TOKEN_FILE;
  const tokenEnv = str('tokenEnv') ?? DEFAULT_TOKEN_ENV;
  let auth = str('auth') as KfpAuth | undefined;
  if (auth && !['none', 'token-file', 'token', 'kube'].includes(auth)) {
    throw settingError(profile.name, 'auth', `'${auth}' is not one of none, token-file, token, kube`);
  }
  const kfpNamespace = str('kfpNamespace') ?? 'kubeflow';
  if (!host && !auth && env.KUBERNETES_SERVICE_HOST && existsSync(tokenFile)) {
    // Inside a Kubeflow notebook pod: the API service directly, with the projected token (what kfp.Client does).
    host = `http://ml-pipeline.${kfpNamespace}.svc.cluster.local:8888`;
  }
  if (!auth) auth = !host ? 'kube' : env[tokenEnv] ? 'token' : existsSync(tokenFile) ? 'token-file' : 'none';
  if (auth === 'kube' && host) throw settingError(profile.name, 'auth', "is 'kube' (the Kubernetes API service proxy), which takes no 'host': remove one of them");
  const skip = raw.insecureSkipTlsVerify;
  if (skip !== undefined && typeof skip !== 'boolean') throw settingError(profile.name, 'insecureSkipTlsVerify', 'must be true or false');
  return {
    host,
    auth,
    tokenFile,
    tokenEnv,
    kfpNamespace,
    service: str('service') ?? 'ml-pipeline:8888',
    uiUrl: str('uiUrl')?.replace(/\/+$/, '') ?? host,
    experiment: str('experiment'),
    pipelineRoot: str('pipelineRoot'),
    serviceAccount: str('serviceAccount'),
    insecureSkipTlsVerify: skip === true,
    caFile: str('caFile'),
    // Off unless set: no request, no delay for profiles without it.
    ...(raw.objectStore !== undefined && raw.objectStore !== null ? { objectStore: objectStoreSettings(profile.name, raw.objectStore) } : {}),
  };
}

/** Reads and checks `kfp.objectStore` (see ObjectStoreSettings). */
function objectStoreSettings(profile: string, raw: unknown): ObjectStoreSettings {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw settingError(profile, 'objectStore', 'must be a mapping, e.g. { endpoint: http://seaweedfs.kubeflow:9000 }');
  }
  const m = raw as Record<string, unknown>;
  const known = ['endpoint', 'secret', 'region'];
  for (const key of Object.keys(m)) {
    if (!known.includes(key)) throw settingError(profile, `objectStore.${key}`, `is not a known setting (known: ${known.join(', ')})`);
  }
  const str = (key: string): string | undefined => {
    const v = m[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !v) throw settingError(profile, `objectStore.${key}`, 'must be a non-empty string');
    return v;
  };
  const endpoint = str('endpoint')?.replace(/\/+$/, '');
  if (!endpoint) throw settingError(profile, 'objectStore.endpoint', "is missing: set the object store's S3 URL, e.g. http://seaweedfs.kubeflow:9000");
  if (/^https?:\/\/[^/]*@/.test(endpoint)) throw settingError(profile, 'objectStore.endpoint', "must not hold credentials: they are read from the namespace's Secret ('objectStore.secret')");
  if (!/^https?:\/\/[^/]+$/.test(endpoint)) throw settingError(profile, 'objectStore.endpoint', `'${endpoint}' must be an http:// or https:// URL of the S3 API, without a path (the bucket comes from the pipeline root)`);
  return { endpoint, secret: str('secret') ?? 'mlpipeline-minio-artifact', region: str('region') ?? 'minio' };
}

function readToken(path: string, profile: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new KfpError(
      'config',
      `cannot read the Kubeflow Pipelines token file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      `inside a Kubeflow notebook the file is mounted by the PodDefault "access-ml-pipeline"; elsewhere set 'kfp.tokenFile' of profile '${profile}' or use auth: token with $${DEFAULT_TOKEN_ENV}`,
    );
  }
  if (!token) throw new KfpError('config', `the token file ${path} is empty`, `put a valid token into it, or fix 'kfp.tokenFile' of profile '${profile}'`);
  return token;
}

/**
 * Resolves a profile into a KFP endpoint (no network yet). The Kubernetes client is loaded only for `auth: kube`
 * (importing it costs seconds), so a submit to a KFP URL never pays for it.
 */
export async function kfpEndpoint(profile: Profile, env: NodeJS.ProcessEnv = process.env): Promise<KfpEndpoint> {
  const s = kfpSettings(profile, env);
  const ca = s.caFile ? readFileSync(s.caFile) : undefined;
  if (s.auth === 'kube') {
    const { loadKubeConfig } = await import('../kube/connect.js');
    const kc = loadKubeConfig(profile, env);
    const server = kc.getCurrentCluster()!.server.replace(/\/+$/, '');
    const baseUrl = `${server}/api/v1/namespaces/${encodeURIComponent(s.kfpNamespace)}/services/${encodeURIComponent(s.service).replace(/%3A/gi, ':')}/proxy`;
    return {
      baseUrl,
      describe: `the Kubernetes API ${server} (service ${s.kfpNamespace}/${s.service})`,
      authLabel: 'kubeconfig credentials',
      viaKube: true,
      profile: profile.name,
      namespace: profile.namespace,
      uiUrl: s.uiUrl,
      async auth() {
        const opts: import('node:https').RequestOptions = { headers: {} };
        await kc.applyToHTTPSOptions(opts);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
        return {
          headers,
          tls: {
            ca: opts.ca as string | Buffer | undefined,
            cert: opts.cert as string | Buffer | undefined,
            key: opts.key as string | Buffer | undefined,
            rejectUnauthorized: opts.rejectUnauthorized,
          },
        };
      },
    };
  }
  const tls = { ca, rejectUnauthorized: !s.insecureSkipTlsVerify };
  const authLabel = s.auth === 'none' ? 'none' : s.auth === 'token-file' ? `bearer token from ${s.tokenFile}` : `bearer token from $${s.tokenEnv}`;
  return {
    baseUrl: s.host!,
    describe: s.host!,
    authLabel,
    viaKube: false,
    profile: profile.name,
    namespace: profile.namespace,
    uiUrl: s.uiUrl,
    async auth(): Promise<RequestAuth> {
      if (s.auth === 'none') return { headers: {}, tls };
      let token: string;
      if (s.auth === 'token-file') token = readToken(s.tokenFile, profile.name);
      else {
        token = (env[s.tokenEnv] ?? '').trim();
        if (!token) {
          throw new KfpError('config', `profile '${profile.name}' uses auth: token, but $${s.tokenEnv} is empty`, `export ${s.tokenEnv}=<your token> (it is never stored by cellpipe)`);
        }
      }
      return { headers: { Authorization: `Bearer ${token}` }, tls };
    },
  };
}

/** A plain endpoint (tests, the bench): a URL and optional fixed token. */
export function staticEndpoint(baseUrl: string, options: { token?: string; namespace?: string; uiUrl?: string; profile?: string } = {}): KfpEndpoint {
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    describe: baseUrl,
    authLabel: options.token ? 'bearer token' : 'none',
    viaKube: false,
    namespace: options.namespace,
    uiUrl: options.uiUrl ?? baseUrl.replace(/\/+$/, ''),
    profile: options.profile,
    async auth(): Promise<RequestAuth> {
      return { headers: options.token ? { Authorization: `Bearer ${options.token}` } : {}, tls: {} };
    },
  };
}

/**
 * Whether a profile reaches Kubeflow through the cluster's API (KFP through the API server's service proxy, or
 * builds in the cluster): then it needs a working kubeconfig. A profile that reaches KFP by URL runs without one —
 * only the steps' pod logs and why a pod waits are then out of reach. The picker and `cellpipe doctor` both ask this.
 * A `kfp:` section with a mistake is said where the settings are read (kfpSettings); here the cluster is assumed.
 */
export function profileNeedsCluster(profile: Profile, env: NodeJS.ProcessEnv = process.env, settings?: Pick<KfpSettings, 'auth'>): boolean {
  let auth: string;
  try {
    // The caller that has just read the settings passes them; they are read here otherwise.
    auth = (settings ?? kfpSettings(profile, env)).auth;
  } catch {
    return true;
  }
  return auth === 'kube' || profile.build === 'kaniko' || profile.kubeconfig !== undefined || profile.context !== undefined;
}
