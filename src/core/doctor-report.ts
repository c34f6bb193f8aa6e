/**
 * What `cellpipe doctor` reports, as `cellpipe doctor --json` prints it and `GET /api/doctor` sends it to the page:
 * one shape for the CLI's checks (cli/doctor-checks.ts) and the page's Check set-up panel. Types only.
 */

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** A check that could not run because an earlier one failed. */
  skipped?: boolean;
  /** Not passed, but what it concerns is optional here: reported, never a failure (nor the exit code). */
  warning?: boolean;
}

/** One checked target: a named profile, the kubeconfig's current context, or this machine in containers. */
export interface TargetReport {
  profile?: string;
  /** The kubeconfig context checked when no profile is configured. */
  context?: string;
  /** This machine as a run target rather than a cluster: `containers`. */
  machine?: 'containers';
  ok: boolean;
  checks: Check[];
  /** What to do next, in a sentence or a short snippet. */
  next: string;
}

/** Every target; only the Kubeflow targets decide `ok` (the machine's container tools are reported as warnings). */
export interface DoctorReport {
  ok: boolean;
  targets: TargetReport[];
  containers: TargetReport;
}
