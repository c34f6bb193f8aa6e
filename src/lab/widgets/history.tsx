/**
 * The sidebar's run history: per run its state, start, duration, target, cached steps, the parameters that differ
 * from the notebook's defaults and its metrics; tick two or more to compare them; the selected run's parameter
 * values and "Export executed notebook" (runs/compare.ts summarises, ./compare.tsx compares).
 */
import React, { useState } from 'react';
import type { RunRecord } from '../../runs/types.js';
import type { PipelineModel } from '../pipeline.js';
import { showValue, summarizeRun } from '../../runs/compare.js';
import { formatMs, formatWhen, partialLabel, stateClass } from '../model/runs.js';
import { runtimeLabel } from '../model/targets.js';
import { partOfLabel } from '../model/partOf.js';

/** "only train_forest · 2 reused" for a partial run (nothing for a full one), so it does not pass for a full run. */
export function PartialMark(props: { run: RunRecord; graph?: { edges: [string, string][] } }) {
  const label = partialLabel(props.run, props.graph);
  return label ? <span className="cp-run-partial" title="a partial run: the other steps were reused from an earlier run or left out">{label}</span> : null;
}

/** "part of run X of pipeline.ipynb" for a run of a notebook that composed this one (nothing for its own runs). */
export function PartOfMark(props: { model: PipelineModel; run: RunRecord }) {
  const part = props.model.partOf(props.run.id);
  return part ? <span className="cp-run-part-of" title={`this notebook's steps ran as ${part.units.map((u) => `notebook:${u}`).join(', ')} of ${part.notebook}`}>{partOfLabel({ id: props.run.id, notebook: part.notebook })}</span> : null;
}

/** Runs listed; older ones stay in the store (`cellpipe runs`). */
export const HISTORY_SHOWN = 30;

export interface HistoryActions {
  compare(model: PipelineModel, runIds: string[]): void;
}

export function RunHistory(props: { model: PipelineModel; actions: HistoryActions }) {
  const { model } = props;
  const typeOf = (name: string) => model.result?.graph?.parameters.find((p) => p.name === name)?.type;
  const [picked, setPicked] = useState<string[]>([]);
  const runs = [...model.runs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).slice(0, HISTORY_SHOWN);
  if (!runs.length) return <div className="cp-empty">No runs yet.</div>;
  const defaults = model.result?.graph?.parameters;
  const shown = picked.filter((id) => runs.some((r) => r.id === id));
  const toggle = (id: string, on: boolean) => setPicked(on ? [...shown.filter((x) => x !== id), id] : shown.filter((x) => x !== id));
  return (
    <>
      <div className="cp-history-bar">
        <button className="jp-mod-styled cp-compare-button" disabled={shown.length < 2} onClick={() => props.actions.compare(model, shown)}
          title={shown.length < 2 ? 'tick two or more runs below to compare them' : `compare ${shown.length} runs side by side`}>
          Compare{shown.length ? ` (${shown.length})` : ''}
        </button>
        {shown.length ? <button className="cp-link-button" onClick={() => setPicked([])}>clear</button> : null}
      </div>
      <ul className="cp-history">
        {runs.map((r: RunRecord) => {
          const s = summarizeRun(r, defaults);
          const metrics = Object.entries(s.metrics);
          return (
            <li key={r.id} className={`cp-history-item ${model.run?.id === r.id ? 'cp-selected' : ''}`} data-run-id={r.id} onClick={() => void model.select(r.id)}
              title={`run ${r.id} — click to show its logs and outputs under the cells`}>
              <div className="cp-history-line">
                <input type="checkbox" className="cp-compare-pick" name={`compare-${r.id}`} checked={shown.includes(r.id)} aria-label={`compare run ${r.id}`}
                  onClick={(e) => e.stopPropagation()} onChange={(e) => toggle(r.id, e.target.checked)} />
                <span className={`cp-run-state ${stateClass(r.state)}`}>{r.state}</span>
                <span className="cp-run-start" title={new Date(r.startedAt ?? r.createdAt).toLocaleString()}>{formatWhen(r.startedAt ?? r.createdAt)}</span>
                <span className="cp-run-duration">{s.durationMs !== undefined ? formatMs(s.durationMs) : ''}</span>
                <span className="cp-run-runtime">{runtimeLabel(r)}</span>
                <PartialMark run={r} graph={model.result?.graph} />
                <PartOfMark model={model} run={r} />
                {s.cached && !partialLabel(r, model.result?.graph) ? <span className="cp-run-cached" title={`${s.cached} of ${s.steps} steps took an earlier run's outputs`}>{s.cached}/{s.steps} cached</span> : null}
              </div>
              {r.note ? <div className="cp-history-note" title="this run's note">{r.note}</div> : null}
              {s.changed.length || metrics.length ? (
                <div className="cp-history-detail">
                  {s.changed.map((p) => (
                    <span key={p.name} className="cp-run-param" title={p.default !== undefined ? `default ${showValue(p.default, typeOf(p.name))}` : 'no default in the notebook now'}>
                      {p.name}={showValue(p.value, typeOf(p.name))}
                    </span>
                  ))}
                  {metrics.map(([name, value]) => (
                    <span key={name} className="cp-run-metric" title="metric">
                      {name}: {showValue(value)}
                    </span>
                  ))}
                </div>
              ) : null}
            </li>
          );
        })}
      </ul>
    </>
  );
}

/** The shown run's parameter values (all of them, the changed ones marked) and its export button. */
export function RunDetails(props: { model: PipelineModel; run: RunRecord; onExport: (run: RunRecord) => Promise<void> }) {
  const { run } = props;
  const [exporting, setExporting] = useState(false);
  const defaults = new Map((props.model.result?.graph?.parameters ?? []).map((p) => [p.name, p.default]));
  const types = new Map((props.model.result?.graph?.parameters ?? []).map((p) => [p.name, p.type]));
  const changed = new Set(summarizeRun(run, props.model.result?.graph?.parameters).changed.map((c) => c.name));
  const params = Object.entries(run.parameters ?? {});
  const done = run.steps.some((s) => s.cellOutputs);
  // A composing notebook's run holds every notebook's cells: it is exported from that notebook, not from this one.
  const part = props.model.partOf(run.id);
  return (
    <div className="cp-run-details">
      {params.length ? (
        <div className="cp-run-params" aria-label="parameters of this run">
          {params.map(([name, value]) => (
            <span key={name} className={`cp-run-param ${changed.has(name) ? 'cp-changed' : ''}`} data-param={name}
              title={changed.has(name) && defaults.has(name) ? `default ${showValue(defaults.get(name), types.get(name))}` : 'the default'}>
              {name}={showValue(value, types.get(name))}
            </span>
          ))}
          <button className="cp-link-button cp-use-params" title="put these values into the parameters above, for the next run"
            onClick={() => params.forEach(([name, value]) => props.model.setParameter(name, value))}>
            use these values
          </button>
        </div>
      ) : null}
      <button className="jp-mod-styled cp-export-button" disabled={!done || exporting || !!part}
        title={part ? `this run is ${part.notebook}'s: export it from that notebook` : done ? 'write this notebook with every cell\'s outputs from this run beside it, and open it' : 'no step of this run has recorded outputs yet'}
        onClick={() => {
          setExporting(true);
          void props.onExport(run).finally(() => setExporting(false));
        }}>
        {exporting ? 'Exporting…' : 'Export executed notebook'}
      </button>
    </div>
  );
}
