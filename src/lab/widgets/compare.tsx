/**
 * "Compare runs": a main-area tab with two or more runs side by side — state, target, duration, cached steps, every
 * parameter and metric, and each step's state and duration; rows whose values differ are highlighted
 * (runs/compare.ts makes the table); below it, one cell's outputs from each run side by side (./compareCell.tsx).
 */
import React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { PipelineModel } from '../pipeline.js';
import type { RunRecord } from '../../runs/types.js';
import { compareRuns, showValue, type CompareRow } from '../../runs/compare.js';
import { formatMs, stateClass } from '../model/runs.js';
import { CompareCell } from './compareCell.js';

const SECTIONS: { section: CompareRow['section']; title: string }[] = [
  { section: 'run', title: 'Run' },
  { section: 'parameter', title: 'Parameters' },
  { section: 'metric', title: 'Metrics' },
  { section: 'step', title: 'Steps' },
];

function Cell(props: { row: CompareRow; i: number }) {
  const { row, i } = props;
  const v = row.values[i];
  const ms = row.durations?.[i];
  if (row.section === 'run' && row.name === 'duration') return <td>{ms !== undefined ? formatMs(ms) : '—'}</td>;
  if (row.section === 'step' || (row.section === 'run' && row.name === 'state')) {
    return (
      <td>
        {v === undefined ? '—' : <span className={`cp-run-state ${stateClass(String(v) as never)}`}>{String(v)}</span>}
        {ms !== undefined ? <span className="cp-compare-ms"> {formatMs(ms)}</span> : null}
      </td>
    );
  }
  return <td>{showValue(v)}</td>;
}

export function CompareTable(props: { runs: RunRecord[] }) {
  const c = compareRuns(props.runs);
  const differing = c.rows.filter((r) => r.differs).length;
  return (
    <div className="cp-compare">
      <p className="cp-compare-summary">
        {c.runs.length} runs, {differing ? `${differing} row${differing === 1 ? '' : 's'} differ (highlighted)` : 'no differences in parameters, metrics or step states'}
      </p>
      <table className="cp-compare-table">
        <thead>
          <tr>
            <th />
            {c.runs.map((r) => (
              <th key={r.id} data-run-id={r.id}>
                <code>{r.id}</code>
                <div className="cp-compare-created">{new Date(r.createdAt).toLocaleString()}</div>
              </th>
            ))}
          </tr>
        </thead>
        {SECTIONS.map(({ section, title }) => {
          const rows = c.rows.filter((r) => r.section === section);
          if (!rows.length) return null;
          return (
            <tbody key={section} data-section={section}>
              <tr className="cp-compare-section">
                <th colSpan={c.runs.length + 1}>{title}</th>
              </tr>
              {rows.map((row) => (
                <tr key={row.name} className={row.differs ? 'cp-differs' : ''} data-row={`${section}:${row.name}`}>
                  <th scope="row">{row.name}</th>
                  {c.runs.map((r, i) => (
                    <Cell key={r.id} row={row} i={i} />
                  ))}
                </tr>
              ))}
            </tbody>
          );
        })}
      </table>
    </div>
  );
}

/** The runs by id as the notebook's model has them now (a run still going changes while the tab is open). */
function LiveCompare(props: { model: PipelineModel; runIds: string[] }) {
  const pick = () => props.runIds.map((id) => props.model.runs.find((r) => r.id === id)).filter((r): r is RunRecord => !!r);
  return (
    <UseSignal signal={props.model.runChanged}>
      {() => (
        <>
          <CompareTable runs={pick()} />
          <CompareCell model={props.model} runs={pick()} />
        </>
      )}
    </UseSignal>
  );
}

/** The tab; its id is made of the runs', so comparing the same runs again shows the open tab. */
export function createCompareTab(model: PipelineModel, runIds: string[]): MainAreaWidget<ReactWidget> {
  const runs = runIds.map((id) => model.runs.find((r) => r.id === id)).filter((r): r is RunRecord => !!r);
  const notebook = model.path;
  const content = ReactWidget.create(<LiveCompare model={model} runIds={runs.map((r) => r.id)} />);
  content.addClass('cp-compare-widget');
  const widget = new MainAreaWidget({ content });
  widget.id = compareTabId(runs.map((r) => r.id));
  widget.title.label = `Compare ${runs.length} runs`;
  widget.title.caption = `${notebook}: ${runs.map((r) => r.id).join(', ')}`;
  widget.title.closable = true;
  return widget;
}

export function compareTabId(runIds: string[]): string {
  return `cellpipe-compare-${runIds.join('-')}`;
}
