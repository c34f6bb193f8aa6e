/**
 * `cellpipe doctor --profile NAME`: checks, one by one, what a Kubeflow run needs from a profile — kubeconfig and
 * context, API server reachable, namespace, permissions for jobs / pods / pod logs / secrets / configmaps (through
 * SelfSubjectAccessReview, so nothing is created), registry reachable — and prints a fix for each failure.
 * Exit code 0 when everything passed, 1 when something failed, 2 on usage errors.
 */
import type { Command } from '../main.js';

const HELP = `usage: cellpipe doctor --profile NAME [--json]

Checks a cellpipe profile: kubeconfig and context, API server, namespace, permissions
(create jobs, read pods and their logs, create/delete secrets and configmaps for image builds),
and whether the registry answers.

Profiles are read from $CELLPIPE_PROFILES, else ~/.config/cellpipe/profiles.yaml:

  profiles:
    NAME:
      kubeconfig: ~/.kube/config    # optional ($KUBECONFIG, then ~/.kube/config)
      context: my-cluster           # optional (the kubeconfig's current context)
      inCluster: false              # true inside a pod: the pod's service account
      namespace: my-namespace       # required
      registry: registry.example.com/team
      insecureRegistry: false
      baseImage: python:3.12-slim
      kfp: { host: https://kubeflow.example.com/pipeline }
`;

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** A check that could not run because an earlier one failed. */
  skipped?: boolean;
}

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

function parseArgs(args: string[]): { profile?: string; json: boolean; help: boolean; error?: string } {
  const out: { profile?: string; json: boolean; help: boolean; error?: string } = { json: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--json') out.json = true;
    else if (a === '--profile' || a === '-p') {
      out.profile = args[++i];
      if (!out.profile) out.error = '--profile needs a name';
    } else if (a.startsWith('--profile=')) out.profile = a.slice('--profile='.length);
    else out.error = `unknown option '${a}'`;
  }
  return out;
}

/** Runs every check against a profile; never throws for cluster problems (they become failed checks). */
export async function runChecks(profileName: string, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const checks: Check[] = [];
  const { loadProfile, profilesPath } = await import('../../kube/profile.js');
  const { connect, checkNamespace, canI } = await import('../../kube/connect.js');
  const { KubeError } = await import('../../kube/errors.js');
  const fail = (name: string, err: unknown, fallbackFix: string): Check => {
    const e = err as Error & { hint?: string };
    return { name, ok: false, detail: e.message, fix: err instanceof KubeError ? err.hint : e.hint ?? fallbackFix };
  };
  const skip = (name: string, why: string) => checks.push({ name, ok: false, skipped: true, detail: `not checked: ${why}` });

  let profile;
  try {
    profile = await loadProfile(profileName, env);
    checks.push({ name: 'profile', ok: true, detail: `'${profileName}' from ${profilesPath(env)}` });
  } catch (err) {
    checks.push(fail('profile', err, `add a profile '${profileName}' to ${profilesPath(env)} (cellpipe doctor --help shows the format)`));
    return checks;
  }

  let conn;
  try {
    conn = connect(profile, env);
    const ctx = profile.inCluster ? 'in-cluster service account' : `context '${conn.kc.getCurrentContext()}'`;
    checks.push({ name: 'kubeconfig', ok: true, detail: `${ctx}, server ${conn.server}` });
  } catch (err) {
    checks.push(fail('kubeconfig', err, 'fix the profile\'s kubeconfig / context'));
    for (const n of ['API server', 'namespace', 'permissions']) skip(n, 'no kubeconfig');
    return checks;
  }

  try {
    const { VersionApi } = await import('@kubernetes/client-node');
    const v = await conn.call({ verb: 'get', resource: 'version' }, () => conn.kc.makeApiClient(VersionApi).getCode());
    checks.push({ name: 'API server', ok: true, detail: `${conn.server} answers (Kubernetes ${v.gitVersion})` });
  } catch (err) {
    checks.push(fail('API server', err, 'check the cluster and the kubeconfig\'s server URL'));
    for (const n of ['namespace', 'permissions']) skip(n, 'API server not reachable');
    return checks;
  }

  let nsOk = true;
  try {
    const state = await checkNamespace(conn);
    checks.push({
      name: 'namespace',
      ok: true,
      detail: state === 'exists' ? `'${conn.namespace}' exists` : `'${conn.namespace}' (this account may not read Namespace objects; assumed to exist)`,
    });
  } catch (err) {
    nsOk = false;
    checks.push(fail('namespace', err, 'fix the profile\'s namespace'));
  }

  if (nsOk) {
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
        checks.push(fail(`can ${what}`, err, 'check the account\'s permissions'));
      }
    }
  } else skip('permissions', 'namespace missing');

  if (profile.registry) checks.push(await registryCheck(profile.registry, profile.insecureRegistry === true));
  return checks;
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

const doctor: Command = async (args, io) => {
  const opts = parseArgs(args);
  if (opts.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (opts.error || !opts.profile) {
    io.stderr.write(`cellpipe doctor: ${opts.error ?? 'missing --profile NAME'}\n\n${HELP}`);
    return 2;
  }
  const checks = await runChecks(opts.profile, io.env);
  const failed = checks.filter((c) => !c.ok);
  if (opts.json) {
    io.stdout.write(JSON.stringify({ profile: opts.profile, ok: failed.length === 0, checks }, null, 2) + '\n');
  } else {
    const width = Math.max(...checks.map((c) => c.name.length));
    io.stdout.write(`cellpipe doctor — profile '${opts.profile}'\n`);
    for (const c of checks) {
      const mark = c.ok ? 'ok  ' : c.skipped ? 'skip' : 'FAIL';
      io.stdout.write(`  ${mark}  ${c.name.padEnd(width)}  ${c.detail}\n`);
      if (c.fix) io.stdout.write(`        ${' '.repeat(width)}  fix: ${c.fix}\n`);
    }
    const skipped = failed.filter((c) => c.skipped).length;
    io.stdout.write(
      failed.length === 0
        ? 'everything needed works\n'
        : `${failed.length - skipped} check(s) failed${skipped ? `, ${skipped} not checked` : ''}\n`,
    );
  }
  return failed.length === 0 ? 0 : 1;
};

export default doctor;
