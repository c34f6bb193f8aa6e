/**
 * The "Add a Kubeflow profile" form's fields and their checks, shared by the page (a message under each field as it
 * is typed) and the backend (which checks again before writing the profiles file). The result is a profile in the
 * profiles file's own format (README "Kubeflow profiles and auth"). Secrets are never asked for: a KFP token is
 * named by reference — the file it is in (`kfp.tokenFile`) or the environment variable holding it (`kfp.tokenEnv`).
 */

/** What the form holds: every field as typed (text), the registry's plain-HTTP switch as a tick. */
export interface ProfileFormValues {
  name: string;
  namespace: string;
  kubeconfig: string;
  context: string;
  registry: string;
  insecureRegistry: boolean;
  baseImage: string;
  build: string;
  kfpHost: string;
  kfpAuth: string;
  kfpTokenFile: string;
  kfpTokenEnv: string;
  kfpObjectStore: string;
}

export type ProfileField = keyof ProfileFormValues;

/** Each field: its label (the word messages use), what it is, an example, and where it goes in the profiles file. */
export const PROFILE_FIELDS: { key: ProfileField; label: string; help: string; example?: string; file: string; choices?: string[] }[] = [
  { key: 'name', label: 'Name', help: 'how the target picker and `--profile` call it', example: 'team-a', file: 'profiles.<name>' },
  { key: 'namespace', label: 'Namespace', help: 'your Kubeflow profile namespace (required)', example: 'kubeflow-user-example-com', file: 'namespace' },
  { key: 'kubeconfig', label: 'Kubeconfig', help: 'optional; default $KUBECONFIG, then ~/.kube/config (in a pod: its service account)', example: '~/.kube/config', file: 'kubeconfig' },
  { key: 'context', label: 'Context', help: "optional; default the kubeconfig's current context", example: 'my-cluster', file: 'context' },
  { key: 'registry', label: 'Registry', help: 'where step images are pushed (no https://)', example: 'registry.example.com/team-a/steps', file: 'registry' },
  { key: 'insecureRegistry', label: 'Plain-HTTP registry', help: 'the registry speaks plain HTTP or has a self-signed certificate', file: 'insecureRegistry' },
  { key: 'baseImage', label: 'Base image', help: 'default base image of the steps', example: 'python:3.11-slim', file: 'baseImage' },
  { key: 'build', label: 'Requirements builds', help: 'buildah (here), kaniko (a Job in the namespace) or auto', file: 'build', choices: ['', 'auto', 'buildah', 'kaniko'] },
  { key: 'kfpHost', label: 'KFP host', help: 'Kubeflow Pipelines URL; leave empty to go through the Kubernetes API service proxy', example: 'https://kubeflow.example.com/pipeline', file: 'kfp.host' },
  { key: 'kfpAuth', label: 'KFP auth', help: 'none, token-file, token ($CELLPIPE_KFP_TOKEN or the variable below) or kube (the cluster credentials; no host)', file: 'kfp.auth', choices: ['', 'none', 'token-file', 'token', 'kube'] },
  { key: 'kfpTokenFile', label: 'KFP token file', help: 'the file holding the token (auth token-file); the token itself is never stored', example: '/var/run/secrets/kubeflow/pipelines/token', file: 'kfp.tokenFile' },
  { key: 'kfpTokenEnv', label: 'KFP token variable', help: 'the environment variable holding the token (auth token); its value is never stored', example: 'CELLPIPE_KFP_TOKEN', file: 'kfp.tokenEnv' },
  { key: 'kfpObjectStore', label: 'KFP object store', help: "optional: KFP's S3 endpoint, to read a step's log back once its pod is gone (the access key comes from the namespace's mlpipeline-minio-artifact Secret)", example: 'http://seaweedfs.kubeflow:9000', file: 'kfp.objectStore.endpoint' },
];

export const EMPTY_PROFILE_FORM: ProfileFormValues = {
  name: '', namespace: '', kubeconfig: '', context: '', registry: '', insecureRegistry: false, baseImage: '', build: '',
  kfpHost: '', kfpAuth: '', kfpTokenFile: '', kfpTokenEnv: '', kfpObjectStore: '',
};

/** Target names the picker keeps for itself. */
const RESERVED = new Set(['local', 'containers']);

function label(key: ProfileField): string {
  return PROFILE_FIELDS.find((f) => f.key === key)!.label;
}

/** A path the backend can read: absolute or from the home folder. */
function pathProblem(text: string): string | undefined {
  if (!text.startsWith('/') && text !== '~' && !text.startsWith('~/')) return `'${text}' must be an absolute path or start with ~/`;
  return undefined;
}

/** What is wrong with one field (the others as context), or undefined. Messages start with the field's label. */
function fieldProblem(key: ProfileField, v: ProfileFormValues): string | undefined {
  const raw = v[key];
  if (typeof raw === 'boolean') return undefined;
  const text = raw.trim();
  if (/[\r\n\t]/.test(raw)) return 'must be one line';
  switch (key) {
    case 'name':
      if (!text) return 'missing: name the profile (the target picker lists it by this name)';
      if (RESERVED.has(text)) return `'${text}' is a built-in target's name; choose another`;
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(text)) return `'${text}' may hold letters, digits, '-', '_' and '.' (up to 63, starting with a letter or digit)`;
      return undefined;
    case 'namespace':
      if (!text) return 'missing: set the Kubernetes namespace cellpipe works in (your Kubeflow profile namespace)';
      if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text)) return `'${text}' is not a Kubernetes namespace name (lower-case letters, digits and '-', up to 63)`;
      return undefined;
    case 'kubeconfig':
    case 'kfpTokenFile':
      return text ? pathProblem(text) : undefined;
    case 'context':
      return undefined;
    case 'registry':
      if (!text) return undefined;
      if (/^[a-z]+:\/\//i.test(text)) return `'${text}': leave out the scheme (write ${text.replace(/^[a-z]+:\/\//i, '')}); tick "Plain-HTTP registry" for http`;
      if (text.includes('@')) return 'no credentials here: registries log in through your container credentials (~/.docker/config.json)';
      if (!/^[A-Za-z0-9.-]+(:\d{1,5})?(\/[a-z0-9._/-]+)?$/.test(text) || /\/$/.test(text)) return `'${text}' is not a registry repository (host[:port]/path, path in lower case)`;
      return undefined;
    case 'baseImage':
      if (text && /\s/.test(text)) return `'${text}' is not an image reference (no spaces)`;
      return undefined;
    case 'build':
      if (text && !['auto', 'buildah', 'kaniko'].includes(text)) return `'${text}' is not one of auto, buildah, kaniko`;
      return undefined;
    case 'kfpObjectStore': {
      if (!text) return undefined;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return `'${text}' is not a URL (e.g. http://seaweedfs.kubeflow:9000)`;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return `'${text}' must be an http:// or https:// URL`;
      if (url.username || url.password) return "no credentials in the URL: the access key is read from the namespace's Secret";
      if (url.pathname.replace(/\/+$/, '') !== '' || url.search) return `'${text}': the S3 endpoint only, without a path (the bucket comes from the pipeline root)`;
      return undefined;
    }
    case 'kfpHost': {
      if (!text) return undefined;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return `'${text}' is not a URL (e.g. https://kubeflow.example.com/pipeline)`;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return `'${text}' must be an http:// or https:// URL`;
      if (url.username || url.password) return 'no credentials in the URL: set KFP auth and name the token file or variable';
      return undefined;
    }
    case 'kfpAuth':
      if (text && !['none', 'token-file', 'token', 'kube'].includes(text)) return `'${text}' is not one of none, token-file, token, kube`;
      if (text === 'kube' && v.kfpHost.trim()) return "'kube' goes through the Kubernetes API service proxy, which takes no KFP host: empty one of them";
      return undefined;
    case 'kfpTokenEnv':
      if (text && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(text)) return `'${text}' is not an environment variable's name (the token itself is never stored here)`;
      return undefined;
  }
  return undefined;
}

/** Every field's problem, by field, each message starting with the field's label ("Namespace: missing: …"). */
export function profileFormErrors(v: ProfileFormValues): Partial<Record<ProfileField, string>> {
  const out: Partial<Record<ProfileField, string>> = {};
  for (const { key } of PROFILE_FIELDS) {
    const problem = fieldProblem(key, v);
    if (problem) out[key] = `${label(key)}: ${problem}`;
  }
  return out;
}

/** The profile in the profiles file's format (name → settings), leaving out what was left empty. */
export function profileSettings(v: ProfileFormValues): { name: string; settings: Record<string, unknown> } {
  const t = (s: string) => s.trim();
  const settings: Record<string, unknown> = { namespace: t(v.namespace) };
  const put = (key: string, value: string) => void (t(value) && (settings[key] = t(value)));
  put('kubeconfig', v.kubeconfig);
  put('context', v.context);
  put('registry', v.registry);
  if (v.insecureRegistry) settings.insecureRegistry = true;
  put('baseImage', v.baseImage);
  put('build', v.build);
  const kfp: Record<string, unknown> = {};
  if (t(v.kfpHost)) kfp.host = t(v.kfpHost).replace(/\/+$/, '');
  if (t(v.kfpAuth)) kfp.auth = t(v.kfpAuth);
  if (t(v.kfpTokenFile)) kfp.tokenFile = t(v.kfpTokenFile);
  if (t(v.kfpTokenEnv)) kfp.tokenEnv = t(v.kfpTokenEnv);
  if (t(v.kfpObjectStore)) kfp.objectStore = { endpoint: t(v.kfpObjectStore).replace(/\/+$/, '') };
  if (Object.keys(kfp).length) settings.kfp = kfp;
  return { name: t(v.name), settings };
}

/** Reads a request body into form values: every known field as text (the tick as a boolean); unknown keys refused. */
export function readProfileForm(body: Record<string, unknown>): { values?: ProfileFormValues; error?: string } {
  const values: ProfileFormValues = { ...EMPTY_PROFILE_FORM };
  for (const [key, value] of Object.entries(body)) {
    if (!(key in EMPTY_PROFILE_FORM)) return { error: `unknown field '${key}' (known: ${Object.keys(EMPTY_PROFILE_FORM).join(', ')})` };
    const k = key as ProfileField;
    if (k === 'insecureRegistry') {
      if (typeof value !== 'boolean') return { error: `'${key}' must be true or false` };
      values.insecureRegistry = value;
    } else {
      if (value !== undefined && value !== null && typeof value !== 'string') return { error: `'${key}' must be text` };
      values[k] = (value ?? '') as string;
    }
  }
  return { values };
}
