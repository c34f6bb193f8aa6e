/** Pure logic for run targets (Local, this machine in containers, Kubeflow profiles) and the Kubeflow submit stages. */

export interface ProfileInfo {
  name: string;
  kind: string;
  namespace?: string;
  registry?: string;
  kfpUi?: string;
  error?: string;
  /** How to fix `error` (the backend's own hint). */
  hint?: string;
  /** `settings` when defined in JupyterLab's settings, `file` in the profiles file, `notebook-pod` when implied by
   *  the Kubeflow notebook pod JupyterLab runs in (written nowhere). */
  source?: string;
}

export interface ProfilesResponse {
  profiles?: ProfileInfo[];
  file?: string;
  error?: string;
  /** The backend can run steps in their images on its machine; `error` says why not here. Absent: not offered. */
  containers?: { error?: string };
}

export interface TargetOption {
  /** value sent as `target` in POST /api/runs; 'local' for this machine */
  value: string;
  label: string;
  disabled: boolean;
  /** why it is disabled (shown as tooltip), or a description */
  title: string;
  /** For a disabled target: what to do to make it usable. */
  fix?: string;
}

export const LOCAL_TARGET = 'local';
export const CONTAINERS_TARGET = 'containers';

/** Builds the picker entries: Local first, then every profile; profiles with an error are disabled with it as tooltip. */
export function targetOptions(resp: ProfilesResponse | undefined): TargetOption[] {
  const out: TargetOption[] = [{ value: LOCAL_TARGET, label: 'Local (this machine)', disabled: false, title: 'run on the machine where Jupyter runs' }];
  if (resp?.containers) {
    const error = resp.containers.error;
    out.push({
      value: CONTAINERS_TARGET,
      label: error ? 'This machine, in containers (unavailable)' : 'This machine, in containers',
      disabled: Boolean(error),
      title: error ?? "build each step's image and run the steps in them here, as Kubeflow would (runc, no daemon)",
    });
  }
  for (const p of resp?.profiles ?? []) {
    if (!p || typeof p.name !== 'string' || !p.name || p.name === LOCAL_TARGET || p.name === CONTAINERS_TARGET) continue;
    const where = p.namespace ? ` · ${p.namespace}` : '';
    if (p.error) {
      out.push({ value: p.name, label: `${p.name} (Kubeflow, unavailable)`, disabled: true, title: p.hint ? `${p.error}\nfix: ${p.hint}` : p.error, ...(p.hint ? { fix: p.hint } : {}) });
    } else {
      if (p.source === 'notebook-pod') {
        out.push({
          value: p.name,
          label: `${p.name} (this notebook's namespace${where})`,
          disabled: false,
          title: `submit to this Kubeflow's Pipelines in this notebook's namespace${where}, with this notebook's image as the steps' base${p.registry ? ` (step images into ${p.registry})` : ''} — found from the notebook pod, no profile written`,
        });
        continue;
      }
      const from = p.source === 'settings' ? ' (profile from JupyterLab settings)' : p.source === 'file' ? ' (profile from the profiles file)' : '';
      out.push({ value: p.name, label: `${p.name} (Kubeflow${where})`, disabled: false, title: `build images${p.registry ? ` into ${p.registry}` : ''} and submit to Kubeflow${where}${from}` });
    }
  }
  return out;
}

/** The targets offered but unusable, each with why and the fix: listed under the picker, not only in tooltips. */
export function unavailableTargets(options: TargetOption[]): { name: string; why: string; fix?: string }[] {
  return options.filter((o) => o.disabled).map((o) => ({ name: o.value, why: o.title.split('\nfix: ')[0], ...(o.fix ? { fix: o.fix } : {}) }));
}

/** The selected target if it is still offered and enabled, otherwise Local. */
export function validTarget(options: TargetOption[], selected: string | undefined): string {
  const o = options.find((x) => x.value === selected);
  return o && !o.disabled ? o.value : LOCAL_TARGET;
}

export function runButtonLabel(target: string): string {
  return target === LOCAL_TARGET ? 'Run' : target === CONTAINERS_TARGET ? 'Build & Run' : 'Build & Submit';
}

export const KUBEFLOW_STAGES = ['validate', 'build', 'upload', 'run'] as const;
export type StageState = 'done' | 'current' | 'failed' | 'pending';

interface RunLike {
  runtime?: string;
  state?: string;
  stage?: string;
  stageDetail?: string;
  reason?: string;
  url?: string;
  external?: { kfpRunId?: string; [k: string]: unknown };
}

/** True while a Kubeflow run is still being prepared (no KFP run id yet): show the stage strip instead of steps. */
export function showsSubmitStages(run: RunLike | undefined): boolean {
  return !!run && run.runtime === 'kubeflow' && !run.external?.kfpRunId;
}

/** State of each submit stage; the current one fails when the run ended without reaching KFP. */
export function submitStages(run: RunLike): { name: string; state: StageState; detail?: string }[] {
  const idx = KUBEFLOW_STAGES.indexOf((run.stage ?? 'validate') as (typeof KUBEFLOW_STAGES)[number]);
  const cur = idx < 0 ? 0 : idx;
  const failed = run.state === 'failed' || run.state === 'cancelled';
  return KUBEFLOW_STAGES.map((name, i) => {
    if (i < cur) return { name, state: 'done' as StageState };
    if (i > cur) return { name, state: 'pending' as StageState };
    return { name, state: (failed ? 'failed' : 'current') as StageState, detail: run.stageDetail };
  });
}

/** Label for a run-history entry: "local" or "kubeflow · <profile>". */
export function runtimeLabel(run: RunLike & { target?: string; profile?: string }): string {
  const runtime = run.runtime ?? 'local';
  const profile = run.profile ?? (run.target && run.target !== LOCAL_TARGET ? run.target : undefined);
  return profile && runtime !== 'local' ? `${runtime} · ${profile}` : runtime;
}
