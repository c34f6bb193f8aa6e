/**
 * The sidebar's schedules (Kubeflow profile targets): the "Schedule…" form — a cron with presets, the parameters
 * from the parameter panel, the next three run times computed in the page — and the notebook's schedules on the
 * profile with pause/resume/delete.
 */
import React, { useEffect, useState } from 'react';
import { formatRunTime } from '../../core/cron.js';
import { DEFAULT_PRESET, WEEKDAYS, describeParameters, presetCron, presetOf, previewCron, scheduleState, type PresetChoice, type PresetKind } from '../model/schedule.js';
import type { PipelineModel } from '../pipeline.js';
import type { SchedulesModel } from '../schedules.js';

/** Re-renders on every change of the schedules model. */
export function useSchedulesVersion(schedules: SchedulesModel | null): void {
  const [, setVersion] = useState(0);
  useEffect(() => {
    if (!schedules) return;
    const bump = () => setVersion((v) => v + 1);
    schedules.changed.connect(bump);
    return () => {
      schedules.changed.disconnect(bump);
    };
  }, [schedules]);
}

export function ScheduleForm(props: { model: PipelineModel; schedules: SchedulesModel; onDone: () => void }) {
  const [preset, setPreset] = useState<PresetChoice>(DEFAULT_PRESET);
  const [cron, setCron] = useState(presetCron(DEFAULT_PRESET)!);
  // The preview moves on with the clock (a "next run" in the past would mislead).
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), 30_000);
    return () => clearInterval(t);
  }, []);
  const choose = (p: PresetChoice) => {
    setPreset(p);
    const c = presetCron(p);
    if (c) setCron(c);
  };
  const preview = previewCron(cron, now);
  const parameters = props.model.parameterValues();
  const creating = props.schedules.creating;
  return (
    <div className="cp-schedule-form" aria-label="new schedule">
      <div className="cp-schedule-row">
        <label>
          Repeat{' '}
          <select className="jp-mod-styled" name="schedule-preset" value={preset.kind} onChange={(e) => choose({ ...preset, kind: e.target.value as PresetKind })}>
            <option value="hourly">hourly</option>
            <option value="daily">daily</option>
            <option value="weekly">weekly</option>
            <option value="custom">custom cron</option>
          </select>
        </label>
        {preset.kind === 'weekly' ? (
          <select className="jp-mod-styled" name="schedule-weekday" value={preset.weekday} onChange={(e) => choose({ ...preset, weekday: Number(e.target.value) })}>
            {WEEKDAYS.map((d, i) => (
              <option key={d} value={i}>on {d}</option>
            ))}
          </select>
        ) : null}
        {preset.kind === 'daily' || preset.kind === 'weekly' ? (
          <label>
            at <input className="jp-mod-styled" type="time" name="schedule-time" value={preset.time} onChange={(e) => choose({ ...preset, time: e.target.value })} /> UTC
          </label>
        ) : null}
      </div>
      <div className="cp-schedule-row">
        <label title="minute hour day-of-month month day-of-week, in UTC">
          Cron{' '}
          <input className="jp-mod-styled cp-input cp-schedule-cron-input" name="schedule-cron" value={cron} spellCheck={false}
            onChange={(e) => {
              setCron(e.target.value);
              setPreset(presetOf(e.target.value, preset));
            }} />
        </label>
        {preview.ok ? <span className="cp-schedule-kfp" title="what Kubeflow Pipelines stores: its cron has a seconds field first">KFP: <code>{preview.kfp}</code></span> : null}
      </div>
      {preview.ok ? (
        <div className="cp-schedule-preview">
          Next runs:
          <ol className="cp-schedule-next">
            {preview.lines.map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ol>
        </div>
      ) : (
        <div className="cp-schedule-invalid" role="alert">
          {preview.error}
          {preview.hint ? <div className="cp-hint">{preview.hint}</div> : null}
        </div>
      )}
      <div className="cp-schedule-params">Parameters (from the panel below): {describeParameters(parameters)}</div>
      <div className="cp-hint">The step images are built and the pipeline version uploaded now; the schedule runs that version, so later edits do not change it.</div>
      <div className="cp-schedule-row">
        <button className="jp-mod-styled jp-mod-accept cp-schedule-create" disabled={!preview.ok || creating}
          onClick={() => void props.schedules.create(cron, parameters).then((ok) => ok && props.onDone())}>
          {creating ? 'Creating…' : 'Create schedule'}
        </button>
        <button className="jp-mod-styled cp-schedule-close" disabled={creating} onClick={props.onDone}>
          Close
        </button>
      </div>
    </div>
  );
}

export function ScheduleList(props: { schedules: SchedulesModel }) {
  const { schedules } = props;
  const list = schedules.schedules;
  if (!list.length) return <div className="cp-empty">No schedules of this notebook on {schedules.profile}.</div>;
  return (
    <ul className="cp-schedules">
      {list.map((s) => {
        const busy = schedules.pending.has(s.id);
        return (
          <li key={s.id} className="cp-schedule-item" data-schedule-id={s.id} data-state={s.paused ? 'paused' : 'enabled'} title={`${s.name} (${s.id})`}>
            <div className="cp-schedule-row">
              <code className="cp-schedule-cron">{s.cron}</code>
              <span className={`cp-schedule-state ${s.paused ? 'cp-schedule-paused' : ''}`}>{scheduleState(s)}</span>
            </div>
            {!s.paused && s.next.length ? (
              <ol className="cp-schedule-next">
                {s.next.map((t) => (
                  <li key={t}>{formatRunTime(new Date(t))}</li>
                ))}
              </ol>
            ) : null}
            <div className="cp-schedule-params">{describeParameters(s.parameters)}</div>
            <div className="cp-schedule-row">
              <button className="jp-mod-styled cp-schedule-toggle" disabled={busy} onClick={() => void schedules.change(s.id, s.paused ? 'resume' : 'pause')}>
                {s.paused ? 'Resume' : 'Pause'}
              </button>
              <button className="jp-mod-styled jp-mod-warn cp-schedule-delete" disabled={busy} onClick={() => void schedules.change(s.id, 'delete')}>
                Delete
              </button>
              {s.url ? (
                <a className="cp-kfp-link" href={s.url} target="_blank" rel="noopener noreferrer">open in Kubeflow</a>
              ) : null}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
