/**
 * `cellpipe doctor [--profile NAME]`: checks what a Kubeflow run needs — of one profile, of every configured profile,
 * or (with none configured) of the kubeconfig's current context — and says for each target what to do next.
 * Without --profile it also reports whether this machine can run steps in containers (`--in-images`): a missing
 * container tool is a warning there, as most users of a cluster never run in containers; `--containers` asks about
 * that alone and fails when steps cannot run in containers.
 * Exit code 0 when everything passed, 1 when something failed, 2 on usage errors.
 */
import type { Command, CommandIO } from '../main.js';
import type { TargetReport } from '../doctor-checks.js';

export type { Check } from '../doctor-checks.js';

const HELP = `usage: cellpipe doctor [--profile NAME] [--containers] [--json]

Checks what running on Kubeflow needs: kubeconfig and context, API server, namespace,
permissions (create jobs, read pods and their logs, create/delete secrets and configmaps
for image builds), and whether the registry answers.

With --profile, checks that profile. Without, checks every profile in the profiles file;
with no file, inside a Kubeflow notebook pod, the profile 'kubeflow' the pod implies (its
namespace, the in-cluster KFP API, the projected KFP token, the notebook's image as base);
when there is none, the kubeconfig's current context ($KUBECONFIG, else ~/.kube/config);
and then this machine, in containers (cellpipe run --in-images): root, runc, skopeo, tar,
docker-registry, and buildah for requirements: steps — a missing one is a warning, with
the Debian package to install.

With --containers (alone), checks only this machine, in containers: the exit code is 1
when steps cannot run in containers here (a missing buildah stays a warning).

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

interface DoctorArgs { profile?: string; containers: boolean; json: boolean; help: boolean; error?: string }

function parseArgs(args: string[]): DoctorArgs {
  const out: DoctorArgs = { containers: false, json: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--json') out.json = true;
    else if (a === '--containers') out.containers = true;
    else if (a === '--profile' || a === '-p') {
      out.profile = args[++i];
      if (!out.profile) out.error = '--profile needs a name';
    } else if (a.startsWith('--profile=')) {
      out.profile = a.slice('--profile='.length);
      if (!out.profile) out.error = '--profile needs a name';
    } else out.error = `unknown option '${a}'`;
  }
  if (out.containers && out.profile !== undefined && !out.error) out.error = '--containers checks this machine only; use it without --profile';
  return out;
}

function title(r: TargetReport): string {
  if (r.machine === 'containers') return 'This machine, in containers';
  if (r.profile !== undefined) return `profile '${r.profile}'`;
  if (r.context !== undefined) return `kubeconfig context '${r.context}' (no cellpipe profile configured)`;
  return 'cluster set-up';
}

function printReport(r: TargetReport, io: CommandIO): void {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  io.stdout.write(`cellpipe doctor — ${title(r)}\n`);
  for (const c of r.checks) {
    const mark = c.ok ? 'ok  ' : c.skipped ? 'skip' : c.warning ? 'warn' : 'FAIL';
    io.stdout.write(`  ${mark}  ${c.name.padEnd(width)}  ${c.detail}\n`);
    if (c.fix) io.stdout.write(`        ${' '.repeat(width)}  fix: ${c.fix}\n`);
  }
  const failed = r.checks.filter((c) => !c.ok && !c.warning);
  const skipped = failed.filter((c) => c.skipped).length;
  const warned = r.checks.filter((c) => !c.ok && c.warning).length;
  const warnings = warned ? `${warned} warning(s)` : '';
  io.stdout.write(
    failed.length === 0
      ? `  ${warned ? (r.ok ? `everything needed works; ${warnings}` : warnings) : 'everything needed works'}\n`
      : `  ${failed.length - skipped} check(s) failed${skipped ? `, ${skipped} not checked` : ''}${warned ? `, ${warnings}` : ''}\n`,
  );
  io.stdout.write(`  next: ${r.next.replace(/\n/g, '\n  ')}\n`);
}

const doctor: Command = async (args, io) => {
  const opts = parseArgs(args);
  if (opts.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (opts.error) {
    io.stderr.write(`cellpipe doctor: ${opts.error}\n\n${HELP}`);
    return 2;
  }
  const { allTargets, checkProfile, checkContainers } = await import('../doctor-checks.js');
  if (opts.containers) {
    const r = await checkContainers(io.env, true);
    if (opts.json) io.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else printReport(r, io);
    return r.ok ? 0 : 1;
  }
  const reports = opts.profile !== undefined ? [await checkProfile(opts.profile, io.env)] : await allTargets(io.env);
  // Only the Kubeflow targets decide the exit code: the machine's container tools are reported as warnings.
  const containers = opts.profile === undefined ? await checkContainers(io.env, false) : undefined;
  const ok = reports.every((r) => r.ok);
  if (opts.json) {
    const body = opts.profile !== undefined ? reports[0] : { ok, targets: reports, containers };
    io.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return ok ? 0 : 1;
  }
  reports.forEach((r, i) => {
    if (i) io.stdout.write('\n');
    printReport(r, io);
  });
  if (containers) {
    io.stdout.write('\n');
    printReport(containers, io);
  }
  if (reports.length > 1) {
    const bad = reports.filter((r) => !r.ok).map((r) => `'${r.profile}'`);
    io.stdout.write(`\n${reports.length} profiles checked: ${bad.length ? `${bad.join(', ')} ${bad.length === 1 ? 'needs' : 'need'} fixing` : 'all work'}\n`);
  }
  return ok ? 0 : 1;
};

export default doctor;
