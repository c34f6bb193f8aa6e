/**
 * What `cellpipe doctor` checks, one target at a time: a profile (kubeconfig and context, API server, namespace,
 * permissions through SelfSubjectAccessReview so nothing is created, registry), or — when no profile is configured —
 * the kubeconfig's current context. Cluster problems become failed checks with a fix, never exceptions. Each target
 * ends with what to do next. This machine as a container target is one more report, of the tools it needs.
 */
import type { Check, DoctorReport, TargetReport } from '../core/doctor-report.js';
import type { KubeConnection } from '../kube/connect.js';

export type { Check, DoctorReport, TargetReport };

/** The permissions a Kubeflow run and an in-cluster build need, as SelfSubjectAccessReview attributes. */
const PERMISSIONS: { verb: string; resource: string; group?: string; subresource?: string; why: string }[] = [
  { verb: 'create', resource: 'jobs', group: 'batch', why: 'image builds run as Jobs' },
  { verb: 'watch', resource: 'jobs', group: 'batch', why: 'build progress' },
  { verb: 'delete', resource: 'jobs', group: 'batch', why: 'build cleanup' },
  { verb: 'list', resource: 'pods', why: 'finding the pods of a run' },
  { verb: 'watch', resource: 'pods', why: 'following the pods of a run' },
  { verb: 'get', resource: 'pods', subresource: 'log', why: 'streaming step logs' },
  { verb: 'create', resource: 'secrets', why: 'registry credentials of a build' },
  { verb: 'delete', resource: 'secrets', why: 'removing registry credentials after a build' },
  { verb: 'create', resource: 'configmaps', why: 'sending the build context' },
];

/** Network error codes in words. */
const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be looked up',
  ETIMEDOUT: 'no answer (timed out)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'the connection was closed',
  ERR_STREAM_PREMATURE_CLOSE: 'the connection was closed',
};

function failure(name: string, err: unknown, fallbackFix: string): Check {
  const e = err as Error & { hint?: string };
  return { name, ok: false, detail: e.message, fix: e.hint ?? fallbackFix };
}

function skipped(names: string[], why: string): Check[] {
  return names.map((name) => ({ name, ok: false, skipped: true, detail: `not checked: ${why}` }));
}

/** Every check of a configured profile. */
export async function checkProfile(profileName: string, env: NodeJS.ProcessEnv): Promise<TargetReport> {
  const { loadProfile, profilesPath } = await import('../kube/profile.js');
  const { connect } = await import('../kube/connect.js');
  const checks: Check[] = [];
  const report = (): TargetReport => {
    const ok = checks.every((c) => c.ok || c.warning);
    return {
      profile: profileName, ok, checks,
      next: ok
        ? `cellpipe submit NOTEBOOK --profile ${profileName} builds the steps' images and runs the notebook there`
        : `fix what failed above, then run cellpipe doctor --profile ${profileName} again`,
    };
  };

  const { kfpSettings, profileNeedsCluster } = await import('../kfp/endpoint.js');
  let profile;
  let settings: ReturnType<typeof kfpSettings> | undefined;
  try {
    profile = await loadProfile(profileName, env);
    const { describeNotebookPodProfile } = await import('../kube/notebook-pod.js');
    const from = profile.implicit ? describeNotebookPodProfile(profile) : profilesPath(env);
    checks.push({ name: 'profile', ok: true, detail: `'${profileName}' from ${from}` });
    // A mistake in the profile's kfp: section (a misspelt key, an auth without its token) is named with its field.
    try {
      settings = kfpSettings(profile, env);
    } catch (err) {
      checks.push(failure('KFP settings', err, `fix the 'kfp:' section of profile '${profileName}' in ${profilesPath(env)}`));
    }
  } catch (err) {
    checks.push(failure('profile', err, `add a profile '${profileName}' to ${profilesPath(env)} (cellpipe doctor --help shows the format)`));
    return report();
  }

  let conn: KubeConnection;
  try {
    conn = connect(profile, env);
    const ctx = profile.inCluster ? 'in-cluster service account' : `context '${conn.kc.getCurrentContext()}'`;
    checks.push({ name: 'kubeconfig', ok: true, detail: `${ctx}, server ${conn.server}` });
  } catch (err) {
    // Settings with a mistake were named above; the cluster is then assumed needed.
    if (settings && !profileNeedsCluster(profile, env, settings)) {
      // KFP by URL: the run goes without the cluster's API, as the sidebar's picker offers it; what is lost is said.
      checks.push({
        name: 'kubeconfig',
        ok: false,
        warning: true,
        detail: `${(err as Error).message} — runs go to KFP by URL without it, but the steps' pod logs and why a pod waits are out of reach`,
        fix: `to follow them, set 'kubeconfig' (and 'context') of profile '${profileName}' to the cluster's`,
      });
      checks.push(...skipped(['API server', 'namespace', 'permissions'], 'no kubeconfig').map((c) => ({ ...c, warning: true })));
      return report();
    }
    checks.push(failure('kubeconfig', err, 'fix the profile\'s kubeconfig / context'));
    checks.push(...skipped(['API server', 'namespace', 'permissions'], 'no kubeconfig'));
    return report();
  }
  const kubectl = profile.inCluster ? 'kubectl' : kubectlFor(profile.kubeconfig, profile.context);
  checks.push(...(await clusterChecks(conn, kubectl, `set 'namespace' of profile '${profileName}' to an existing namespace`)));
  if (profile.registry) checks.push(await registryCheck(profile.registry, profile.insecureRegistry === true));
  return report();
}

/**
 * The kubeconfig's current context, as `kubectl` would use it ($KUBECONFIG, else ~/.kube/config), with the
 * context's namespace (else `default`): what a first profile would most likely describe.
 */
export async function checkCurrentContext(env: NodeJS.ProcessEnv): Promise<TargetReport> {
  const { loadKubeConfig, connect } = await import('../kube/connect.js');
  const { profilesPath } = await import('../kube/profile.js');
  const checks: Check[] = [];
  const files = env.KUBECONFIG ? env.KUBECONFIG.split(':').filter(Boolean).join(':') : '~/.kube/config';
  const setUp = `put the cluster's kubeconfig at ~/.kube/config (or point KUBECONFIG at it), or describe the cluster in a profile in ${profilesPath(env)} (cellpipe doctor --help shows the format)`;

  let context: string;
  let namespace: string;
  try {
    const kc = loadKubeConfig({ namespace: 'default' }, env);
    context = kc.getCurrentContext();
    const named = kc.getContextObject(context)?.namespace;
    namespace = named || 'default';
    checks.push({
      name: 'kubeconfig',
      ok: true,
      detail: `current context '${context}' of ${files}, server ${kc.getCurrentCluster()!.server}, namespace '${namespace}'${named ? '' : ' (the context names none)'}`,
    });
  } catch (err) {
    const message = (err as Error).message;
    const none = /^no kubeconfig found/.test(message);
    checks.push({
      name: 'kubeconfig',
      ok: false,
      detail: none ? `no cellpipe profile (${profilesPath(env)}) and ${message}` : message,
      fix: none ? setUp : `fix ${files} (kubectl config view shows it), or ${setUp}`,
    });
    checks.push(...skipped(['API server', 'namespace', 'permissions'], 'no kubeconfig context'));
    return {
      ok: false, checks,
      next: 'to run on a cluster, configure one as above and run cellpipe doctor again; cellpipe run NOTEBOOK runs notebooks on this machine without any cluster',
    };
  }

  const conn = connect({ namespace }, env);
  const kubectl = 'kubectl';
  checks.push(...(await clusterChecks(conn, kubectl,
    `set the context's namespace to an existing one (kubectl config set-context --current --namespace=NAME), or name it in a profile`)));
  const ok = checks.every((c) => c.ok);
  const profileName = /^[A-Za-z][A-Za-z0-9_-]*$/.test(context) ? context : 'cluster';
  return {
    context, ok, checks,
    next: ok
      ? [
          `save this as a profile (it also names the registry step images go to) — add to ${profilesPath(env)}:`,
          `  profiles:`,
          `    ${profileName}:`,
          `      context: ${context}`,
          `      namespace: ${namespace}`,
          `      registry: registry.example.com/team   # where step images are pushed`,
          `then: cellpipe doctor --profile ${profileName}`,
        ].join('\n')
      : 'fix what failed above and run cellpipe doctor again, or describe the cluster in a profile (cellpipe doctor --help shows the format)',
  };
}

/**
 * This machine as the target "in containers": root, runc, skopeo, tar, docker-registry, and buildah for
 * `requirements:` steps, each missing piece with its Debian package; `ok` when steps can run in containers here.
 * `strict` (the user asked about containers only) marks a missing required piece as failed; otherwise every miss is
 * a warning (the caller leaves this report out of the exit code). A missing buildah is always a warning: steps
 * without requirements run without it.
 */
export async function checkContainers(env: NodeJS.ProcessEnv, strict: boolean, uid?: number): Promise<TargetReport> {
  const { containerPrerequisites } = await import('../runtimes/containers/prerequisites.js');
  const pieces = containerPrerequisites(env, uid);
  const checks: Check[] = pieces.map((p) => ({
    name: p.name, ok: p.ok, detail: p.detail,
    ...(p.fix ? { fix: p.fix } : {}),
    ...(!p.ok && (!strict || !p.required) ? { warning: true } : {}),
  }));
  const canRun = pieces.every((p) => p.ok || !p.required);
  const packages = pieces.filter((p) => !p.ok && p.fix?.startsWith('apt-get install ')).map((p) => p.fix!.slice('apt-get install '.length));
  const rootMissing = pieces.some((p) => p.name === 'root' && !p.ok);
  const steps = [
    ...(packages.length ? [`apt-get install ${packages.join(' ')}`] : []),
    ...(rootMissing ? ['run as root'] : []),
  ].join(', and ');
  return {
    machine: 'containers',
    ok: canRun,
    checks,
    next: canRun
      ? `cellpipe run NOTEBOOK --in-images runs each step in its own image on this machine${packages.length ? ` (for requirements: steps, first ${steps})` : ''}`
      : `to run steps in containers here: ${steps}; meanwhile cellpipe run NOTEBOOK runs them as local processes`,
  };
}

/** API server, namespace and permissions, through an existing connection; each failure with its fix. */
async function clusterChecks(conn: KubeConnection, kubectl: string, namespaceFix: string): Promise<Check[]> {
  const { checkNamespace, canI } = await import('../kube/connect.js');
  const { KubeError, networkCode } = await import('../kube/errors.js');
  const checks: Check[] = [];
  try {
    const { VersionApi } = await import('@kubernetes/client-node');
    const v = await conn.call({ verb: 'get', resource: 'version' }, () => conn.kc.makeApiClient(VersionApi).getCode());
    checks.push({ name: 'API server', ok: true, detail: `${conn.server} answers (Kubernetes ${v.gitVersion})` });
  } catch (err) {
    if (err instanceof KubeError && err.kind === 'unreachable') {
      const code = networkCode(err.cause ?? err);
      const cause = (err.cause as Error | undefined)?.message ?? err.message;
      const tls = !code && /certificate|TLS|SSL/i.test(cause);
      checks.push(tls
        ? {
            name: 'API server',
            ok: false,
            detail: `the Kubernetes API at ${conn.server} answered with a certificate the kubeconfig does not trust (${cause.replace(/^.*reason: /, '')})`,
            fix: `the kubeconfig's certificate-authority does not match the server (or something in between answers instead): get a fresh kubeconfig for the cluster and check \`${kubectl} cluster-info\``,
          }
        : {
            name: 'API server',
            ok: false,
            detail: `cannot reach the Kubernetes API at ${conn.server}: ${(code && NETWORK_WORDS[code]) ?? cause}`,
            fix: `is the cluster running? check \`${kubectl} cluster-info\`; if it is running, fix the server address in the kubeconfig`,
          });
    } else checks.push(failure('API server', err, 'check the cluster and the kubeconfig\'s server URL'));
    checks.push(...skipped(['namespace', 'permissions'], 'API server not reachable'));
    return checks;
  }

  try {
    const state = await checkNamespace(conn);
    checks.push({
      name: 'namespace',
      ok: true,
      detail: state === 'exists' ? `'${conn.namespace}' exists` : `'${conn.namespace}' (this account may not read Namespace objects; assumed to exist)`,
    });
  } catch (err) {
    const missing = err instanceof KubeError && err.kind === 'namespace-not-found';
    checks.push(missing ? { name: 'namespace', ok: false, detail: err.message, fix: namespaceFix } : failure('namespace', err, namespaceFix));
    checks.push(...skipped(['permissions'], 'namespace missing'));
    return checks;
  }

  for (const p of PERMISSIONS) {
    const what = `${p.verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ''}${p.group ? `.${p.group}` : ''}`;
    try {
      const r = await canI(conn, p.verb, p.resource, { group: p.group, subresource: p.subresource });
      checks.push(
        r.allowed
          ? { name: `can ${what}`, ok: true, detail: p.why }
          : {
              name: `can ${what}`,
              ok: false,
              detail: `denied in namespace '${conn.namespace}' (needed for ${p.why})${r.reason ? `: ${r.reason}` : ''}`,
              fix: `ask a cluster admin for a Role in '${conn.namespace}' granting '${p.verb}' on '${p.resource}${p.subresource ? `/${p.subresource}` : ''}'${p.group ? ` (apiGroup '${p.group}')` : ''} and a RoleBinding to this account`,
            },
      );
    } catch (err) {
      checks.push(failure(`can ${what}`, err, 'check the account\'s permissions'));
    }
  }
  return checks;
}

/** `kubectl` with the profile's kubeconfig and context, for the user to type. */
function kubectlFor(kubeconfig?: string, context?: string): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return ['kubectl', ...(kubeconfig ? ['--kubeconfig', quote(kubeconfig)] : []), ...(context ? ['--context', quote(context)] : [])].join(' ');
}

/** Does the registry speak the OCI distribution API? (401 is fine: it wants credentials, push rights are not tested.) */
async function registryCheck(registry: string, insecure: boolean): Promise<Check> {
  const host = registry.split('/')[0];
  const schemes = insecure ? ['https', 'http'] : ['https'];
  let last = '';
  for (const scheme of schemes) {
    try {
      const res = await fetch(`${scheme}://${host}/v2/`, { signal: AbortSignal.timeout(5000) });
      if (res.status === 200 || res.status === 401) {
        return {
          name: 'registry',
          ok: true,
          detail: `${scheme}://${host}/v2/ answers (${res.status === 401 ? 'needs credentials' : 'open'}); push rights are checked by the first build`,
        };
      }
      last = `${scheme}://${host}/v2/ answered HTTP ${res.status}`;
    } catch (err) {
      last = `${scheme}://${host}/v2/: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`;
    }
  }
  return {
    name: 'registry',
    ok: false,
    detail: `registry '${host}' does not answer as an OCI registry (${last})`,
    fix: insecure ? 'check the registry address in the profile' : 'check the registry address; for a plain-HTTP or self-signed registry set insecureRegistry: true',
  };
}

/** The targets of `cellpipe doctor` without --profile: every configured profile, else the current context. */
export async function allTargets(env: NodeJS.ProcessEnv): Promise<TargetReport[]> {
  const { profileNames, profilesPath } = await import('../kube/profile.js');
  let names: string[] | undefined;
  try {
    names = await profileNames(env);
  } catch (err) {
    // A broken profiles file is the user's configuration: report it rather than check something else.
    return [{
      ok: false,
      checks: [{ name: 'profiles file', ok: false, detail: (err as Error).message, fix: 'fix the file (cellpipe doctor --help shows the format)' }],
      next: `fix ${profilesPath(env)}, then run cellpipe doctor again`,
    }];
  }
  if (!names?.length) return [await checkCurrentContext(env)];
  const reports: TargetReport[] = [];
  for (const name of names) reports.push(await checkProfile(name, env));
  return reports;
}

/** Everything `cellpipe doctor` (no options) checks, as `--json` prints it and the page's "Check set-up" shows it. */
export async function doctorReport(env: NodeJS.ProcessEnv): Promise<DoctorReport> {
  const targets = await allTargets(env);
  // Only the Kubeflow targets decide `ok`: the machine's container tools are reported as warnings.
  const containers = await checkContainers(env, false);
  return { ok: targets.every((r) => r.ok), targets, containers };
}
