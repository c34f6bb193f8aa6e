/**
 * The pipeline sidebar (left): for the active notebook, its name and description, editable parameters, the step
 * graph with run states, the diagnostics list, the target, Run/Cancel, and the run history; on a Kubeflow profile
 * also "Schedule…" and the notebook's schedules (./schedules.tsx).
 */
import React, { useEffect, useRef, useState } from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Signal, type ISignal } from '@lumino/signaling';
import type { Parameter } from '../../core/model.js';
import { cellLabel } from '../../core/notebook.js';
import type { RunRecord, StepState } from '../../runs/types.js';
import type { PipelineModel } from '../pipeline.js';
import { DagView } from './dag.js';
import { readParameterInput, showParameter, textMeans } from '../model/params.js';
import { formatDuration, isTerminal, stateClass } from '../model/runs.js';
import { LOCAL_TARGET, runButtonLabel, showsSubmitStages, submitStages, unavailableTargets, validTarget, type TargetOption } from '../model/targets.js';
import { SchedulesModel } from '../schedules.js';
import { ScheduleForm, ScheduleList, useSchedulesVersion } from './schedules.js';
import { PartialMark, PartOfMark, RunDetails, RunHistory, type HistoryActions } from './history.js';
import { RunWithoutCacheButton, StepActions } from './stepActions.js';
import { ExecutedCopyNote } from './executedCopy.js';
import type { ProfilesResponse } from '../model/targets.js';
import { ProfileForm } from './profileForm.js';
import { DoctorPanel } from './doctor.js';
import { RunNote } from './runNote.js';
import { ErrorNote } from './errorNote.js';

/** Actions the sidebar asks the plugin to do. */
export interface SidebarActions extends HistoryActions {
  goToStep(model: PipelineModel, step: string): void;
  goToCell(model: PipelineModel, cell: number, line?: number): void;
  /** Opens a notebook this one references (`notebook:` cells; its path relative to this notebook's folder). */
  openReferenced(model: PipelineModel, notebook: string): void;
  /** Writes the run's executed notebook and opens it. */
  exportRun(model: PipelineModel, run: RunRecord): Promise<void>;
  /** Opens a notebook (server-relative path). */
  openNotebook(path: string): void;
}

/** Re-renders on any of the model's signals. */
function useModelVersion(model: PipelineModel | null): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (!model) return;
    const bump = () => setVersion((v) => v + 1);
    const signals: ISignal<PipelineModel, unknown>[] = [model.compiled, model.runChanged];
    signals.forEach((s) => s.connect(bump));
    const timer = setInterval(() => model.busy && bump(), 1000);
    return () => {
      signals.forEach((s) => s.disconnect(bump));
      clearInterval(timer);
    };
  }, [model]);
  return version;
}

function Parameters(props: { model: PipelineModel }) {
  const params = props.model.result?.graph?.parameters ?? [];
  const values = props.model.parameterValues();
  // What the user typed, kept while it means the value in force (so "1." or "2.50" is not rewritten mid-edit) or
  // while it is no value at all (it stays, with what is wrong under it).
  const [typed, setTyped] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  if (!params.length) return <div className="cp-empty">No pipeline parameters (tag a cell <code>pipeline-parameters</code>).</div>;
  const onType = (p: Parameter, text: string) => {
    setTyped({ ...typed, [p.name]: text });
    const got = readParameterInput(p, text);
    const { [p.name]: _, ...rest } = errors;
    if ('value' in got) {
      setErrors(rest);
      props.model.setParameter(p.name, got.value);
    } else {
      setErrors({ ...rest, [p.name]: got.error });
      props.model.setParameterError(p.name, got.error);
    }
  };
  return (
    <table className="cp-params">
      <tbody>
        {params.map((p) => (
          <tr key={p.name}>
            <td className="cp-param-name" title={`${p.type}, default ${showParameter(p.default, p.type)}`}>{p.name}</td>
            <td>
              {p.type === 'bool' ? (
                <input type="checkbox" name={`param-${p.name}`} checked={values[p.name] === true} onChange={(e) => props.model.setParameter(p.name, e.target.checked)} />
              ) : (
                <>
                  <input className={`jp-mod-styled cp-input${errors[p.name] ? ' cp-input-invalid' : ''}`} name={`param-${p.name}`} aria-invalid={!!errors[p.name]}
                    value={typed[p.name] !== undefined && (errors[p.name] || textMeans(p, typed[p.name], values[p.name])) ? typed[p.name] : showParameter(values[p.name], p.type)}
                    onChange={(e) => onType(p, e.target.value)} />
                  {errors[p.name] ? <div className="cp-param-error" role="alert">{errors[p.name]}</div> : null}
                </>
              )}
            </td>
            <td className="cp-param-type">{p.type}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * What a step of a live run waits for, with the time so far: "running the imports cells: pandas … 3.2 s", or — on
 * Kubeflow, where KFP calls the step running while its pod waits — "waiting for a node: … Insufficient nvidia.com/gpu".
 */
function Preparing(props: { step: RunRecord['steps'][number]; run: RunRecord }) {
  const p = props.step.preparing;
  if (!p || !waitsToStart(props.step) || isTerminal(props.run.state)) return null;
  return <span className="cp-run-preparing" data-step={props.step.name}>{p.what} … {formatDuration(p.since)}</span>;
}

const waitsToStart = (s: RunRecord['steps'][number]) => s.state === 'pending' || s.state === 'running';

function RunSteps(props: { run: RunRecord; model: PipelineModel; actions: SidebarActions }) {
  return (
    <ul className="cp-run-steps">
      {props.run.steps.map((s) => (
        <li key={s.name} onClick={() => props.actions.goToStep(props.model, s.name)}>
          <span className={`cp-run-state ${stateClass(s.state)}`}>{s.state}</span> {s.name}{' '}
          <span className="cp-run-duration">{formatDuration(s.startedAt, s.finishedAt)}</span>
          <Preparing step={s} run={props.run} />
        </li>
      ))}
    </ul>
  );
}

/** The targets that cannot be used here, folded under the picker: each with why and what to do. */
function Unavailable(props: { targets: TargetOption[] }) {
  const list = unavailableTargets(props.targets);
  if (!list.length) return null;
  return (
    <details className="cp-unavailable">
      <summary>{list.length} target{list.length === 1 ? '' : 's'} unavailable: why</summary>
      <ul>
        {list.map((t) => (
          <li key={t.name} data-target={t.name}>
            <code>{t.name}</code>: {t.why}
            {t.fix ? <div className="cp-hint">fix: {t.fix}</div> : null}
          </li>
        ))}
      </ul>
    </details>
  );
}

function Panel(props: { model: PipelineModel | null; schedules: SchedulesModel | null; actions: SidebarActions; status: { text: string; hint?: string } | null; targets: TargetOption[]; clearStatus: () => void;
  picked: string; pick: (target: string) => void; profileSaved: (name: string, resp: ProfilesResponse) => void }) {
  const { model, actions, schedules, picked } = props;
  useModelVersion(model);
  useSchedulesVersion(schedules);
  const setTarget = props.pick;
  const [scheduling, setScheduling] = useState(false);
  // The set-up panels under the picker: one at a time.
  const [setUp, setSetUp] = useState<'profile' | 'doctor' | null>(null);
  const [debugStep, setDebugStep] = useState<string | undefined>(undefined);
  const target = validTarget(props.targets, picked);
  const onProfile = target !== LOCAL_TARGET;
  // A banner is about the target it came from: another target (picked, or Local after the profile went) clears it.
  const shownTarget = useRef(target);
  useEffect(() => {
    if (shownTarget.current === target) return;
    shownTarget.current = target;
    props.clearStatus();
  }, [target]);
  // The schedules shown are those of the picked profile; none (and no polling) for Local or a closed panel.
  useEffect(() => {
    schedules?.show(onProfile ? target : undefined);
    return () => schedules?.show(undefined);
  }, [schedules, target, onProfile]);
  if (!model) return <div className="cp-sidebar cp-empty">Open a notebook to see its pipeline.</div>;
  const result = model.result;
  const graph = result?.graph;
  const run = model.run;
  const states: Record<string, StepState> = {};
  for (const s of run?.steps ?? []) states[s.name] = s.state;
  const diagnostics = result?.diagnostics ?? [];
  // Errors in the notebook, or a parameter typed that is no value of its type: nothing can start.
  const errors = diagnostics.filter((d) => d.severity === 'error').length + model.parameterErrors().length;
  // An executed copy (an exported run) is a record of that run: its pipeline runs from the notebook it copies.
  const copy = model.executedCopy;
  const blockedWhy = copy ? `this is an executed copy of ${copy.notebook ?? 'a notebook'}: run the pipeline from that notebook` : model.parameterErrors()[0] ?? 'fix the errors below first';
  const cannotRun = model.busy || errors > 0 || !graph || !!copy;
  return (
    <div className="cp-sidebar">
      <header className="cp-section">
        <h2 className="cp-title">{graph?.pipeline.name || model.path.split('/').pop()}</h2>
        {graph?.pipeline.description ? <p className="cp-description">{graph.pipeline.description}</p> : null}
        {copy ? <ExecutedCopyNote copy={copy} path={model.path} onOpen={(p) => actions.openNotebook(p)} /> : null}
        {props.status ? (
          <ErrorNote error={props.status} />
        ) : null}
      </header>
      <section className="cp-section">
        <div className="cp-run-bar">
          <label>
            Target{' '}
            <select className="jp-mod-styled" name="target" value={target} onChange={(e) => setTarget(e.target.value)}>
              {props.targets.map((t) => (
                <option key={t.value} value={t.value} disabled={t.disabled} title={t.title}>
                  {t.label}
                </option>
              ))}
            </select>
          </label>
          <button className="jp-mod-styled jp-mod-accept cp-run-button" disabled={cannotRun} title={errors || copy ? blockedWhy : 'save the notebook and run its pipeline'}
            onClick={() => void model.start(target)}>
            {runButtonLabel(target)}
          </button>
          <RunWithoutCacheButton model={model} target={target} disabled={cannotRun} />
          {onProfile ? (
            <button className="jp-mod-styled cp-schedule-button" disabled={errors > 0 || !graph} aria-expanded={scheduling}
              title={errors ? blockedWhy : `run this pipeline on ${target} on a schedule`} onClick={() => setScheduling(!scheduling)}>
              Schedule…
            </button>
          ) : null}
          <button className="jp-mod-styled jp-mod-warn cp-cancel-button" disabled={!run || isTerminal(run.state)} onClick={() => void model.cancel()}>
            Cancel
          </button>
        </div>
        <Unavailable targets={props.targets} />
        <div className="cp-setup-bar">
          <button className="cp-link-button cp-add-profile" aria-expanded={setUp === 'profile'} onClick={() => setSetUp(setUp === 'profile' ? null : 'profile')}
            title="describe a Kubeflow cluster to run on; saved into the profiles file">Add a Kubeflow profile…</button>
          <button className="cp-link-button cp-check-setup" aria-expanded={setUp === 'doctor'} onClick={() => setSetUp(setUp === 'doctor' ? null : 'doctor')}
            title="what cellpipe doctor checks: each profile's cluster, namespace, permissions and registry, and this machine">Check set-up</button>
        </div>
        {setUp === 'profile' ? (
          <ProfileForm api={model.api} onCancel={() => setSetUp(null)} onSaved={(name, resp) => (setSetUp(null), props.profileSaved(name, resp))} />
        ) : setUp === 'doctor' ? (
          <DoctorPanel api={model.api} onClose={() => setSetUp(null)} />
        ) : null}
        {onProfile && scheduling && schedules ? <ScheduleForm model={model} schedules={schedules} onDone={() => setScheduling(false)} /> : null}
        {run ? (
          <div className="cp-current-run" data-run-id={run.id} data-state={run.state}>
            run <code>{run.id}</code> <span className={`cp-run-state ${stateClass(run.state)}`}>{run.state}</span>{' '}
            <PartialMark run={run} graph={graph} /> <PartOfMark model={model} run={run} />{' '}
            {formatDuration(run.startedAt ?? run.createdAt, run.finishedAt)}
            {run.reason ? ` (${run.reason})` : ''}
            <RunNote key={run.id} model={model} run={run} />
            {(() => {
              const waiting = run.steps.find((s) => waitsToStart(s) && s.preparing);
              return waiting ? <div><Preparing step={waiting} run={run} /></div> : null;
            })()}
            {run.url && run.runtime === 'kubeflow' ? (
              <>
                {' '}
                <a className="cp-kfp-link" href={run.url} target="_blank" rel="noopener noreferrer">open in Kubeflow</a>
              </>
            ) : null}
          </div>
        ) : null}
        {run ? <RunDetails model={model} run={run} onExport={(r) => actions.exportRun(model, r)} /> : null}
        {run && showsSubmitStages(run) ? (
          <ol className="cp-submit-stages">
            {submitStages(run).map((s) => (
              <li key={s.name} className={`cp-stage cp-stage-${s.state}`} data-state={s.state}>
                {s.name}
                {s.detail ? <span className="cp-stage-detail"> {s.detail}</span> : null}
              </li>
            ))}
          </ol>
        ) : null}
      </section>
      {onProfile && schedules ? (
        <section className="cp-section cp-schedules-section">
          <h3>Schedules · {target}</h3>
          <ScheduleList schedules={schedules} />
        </section>
      ) : null}
      <section className="cp-section">
        <h3>Parameters</h3>
        <Parameters model={model} />
      </section>
      <section className="cp-section">
        <h3>Steps</h3>
        {graph ? <DagView graph={graph} states={states} onSelect={(s) => (setDebugStep(s), actions.goToStep(model, s))} color={(s) => model.stepColor(s)}
          onOpenNotebook={(nb) => actions.openReferenced(model, nb)} /> : <div className="cp-empty">The pipeline has errors; see below.</div>}
      </section>
      <section className="cp-section cp-debug-section">
        <h3>Debug a step</h3>
        <StepActions model={model} target={target} disabled={cannotRun} goToCell={(cell) => actions.goToCell(model, cell)}
          picked={debugStep} onPick={setDebugStep} />
      </section>
      <section className="cp-section">
        <h3>Diagnostics {diagnostics.length ? `(${diagnostics.length})` : ''}</h3>
        {diagnostics.length ? (
          <ul className="cp-diagnostics">
            {diagnostics.map((d, i) => (
              <li key={i} className={`cp-diag-item cp-diag-${d.severity}`} onClick={() => d.cell !== undefined && actions.goToCell(model, d.cell, d.line)}
                title={d.hint ?? ''}>
                <span className="cp-diag-where">{d.cell !== undefined ? cellLabel(d.cell, d.line) : 'notebook'}</span> {d.message}
                {d.hint ? <div className="cp-hint">{d.hint}</div> : null}
              </li>
            ))}
          </ul>
        ) : (
          <div className="cp-empty">No problems found.</div>
        )}
      </section>
      <section className="cp-section">
        <h3>Runs</h3>
        {run ? <RunSteps run={run} model={model} actions={actions} /> : null}
        <RunHistory model={model} actions={actions} />
      </section>
    </div>
  );
}

/** The Lumino widget the shell holds; `setModel` follows the active notebook. */
export class PipelineSidebar extends ReactWidget {
  constructor(
    private actions: SidebarActions,
    private targets: () => TargetOption[],
  ) {
    super();
    this.id = 'cellpipe-sidebar';
    this.addClass('cp-sidebar-widget');
  }

  setModel(model: PipelineModel | null): void {
    if (this.model === model) return;
    this.model?.message.disconnect(this.onMessage, this);
    this.schedules?.message.disconnect(this.onMessage, this);
    this.model = model;
    this.schedules = model ? this.schedulesOf(model) : null;
    this.status = null;
    model?.message.connect(this.onMessage, this);
    this.schedules?.message.connect(this.onMessage, this);
    this.update();
    this._modelChanged.emit(model);
  }

  get modelChanged(): ISignal<this, PipelineModel | null> {
    return this._modelChanged;
  }

  /** Shows a problem at the top of the panel (e.g. "server part not installed"). */
  setStatus(status: { text: string; hint?: string } | null): void {
    this.status = status;
    this.update();
  }

  render() {
    return <Panel key={this.model?.path ?? ''} model={this.model} schedules={this.schedules} actions={this.actions} status={this.status} targets={this.targets()}
      clearStatus={() => this.status && this.setStatus(null)} picked={this.picked} pick={(t) => this.pickTarget(t)}
      profileSaved={(name, resp) => {
        // The target list first (the plugin keeps it), then the new profile picked: Local stays if it is unusable.
        this._profilesChanged.emit(resp);
        this.pickTarget(name);
      }} />;
  }

  pickTarget(target: string): void {
    this.picked = target;
    this.update();
    this._targetChanged.emit(this.target);
  }

  /** Emitted with the backend's target list after a profile was added here. */
  get profilesChanged(): ISignal<this, ProfilesResponse> {
    return this._profilesChanged;
  }

  /** Emitted when another target is picked. */
  get targetChanged(): ISignal<this, string> {
    return this._targetChanged;
  }

  /** Where Run sends the pipeline: the target picked here if it is still usable, else Local (the Run command uses it too). */
  get target(): string {
    return validTarget(this.targets(), this.picked);
  }

  private onMessage(_: unknown, msg: { text: string; hint?: string }): void {
    this.setStatus(msg);
  }

  /** One schedules model per notebook model, made when its panel is first shown. */
  private schedulesOf(model: PipelineModel): SchedulesModel {
    let s = this.schedulesByModel.get(model);
    if (!s) {
      s = new SchedulesModel(model);
      this.schedulesByModel.set(model, s);
    }
    return s;
  }

  private model: PipelineModel | null = null;
  private schedules: SchedulesModel | null = null;
  private readonly schedulesByModel = new WeakMap<PipelineModel, SchedulesModel>();
  private status: { text: string; hint?: string } | null = null;
  private picked = LOCAL_TARGET;
  private _targetChanged = new Signal<this, string>(this);
  private _profilesChanged = new Signal<this, ProfilesResponse>(this);
  private _modelChanged = new Signal<this, PipelineModel | null>(this);
}
