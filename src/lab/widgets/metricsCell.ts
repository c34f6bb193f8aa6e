/**
 * Under the `pipeline-metrics` cell: the metrics the run's steps recorded, one row each (name, value, the step
 * that recorded it and its state), so the cell that names them shows what they came out as.
 */
import type { Cell } from '@jupyterlab/cells';
import type { RunRecord } from '../../runs/types.js';
import { formatMetric, type MetricRow } from '../model/metrics.js';

const AREA = 'cp-run-metrics';

/** Shows `rows` from `run` under the cell (replacing what it showed), or removes the area (`run` undefined). */
export function showMetrics(cell: Cell, run: RunRecord | undefined, rows: readonly MetricRow[]): void {
  let area = cell.node.querySelector<HTMLElement>(`:scope > .${AREA}`);
  if (!run || !rows.length) {
    area?.remove();
    return;
  }
  const key = JSON.stringify([run.id, run.state, rows]);
  if (area?.dataset.key === key) return;
  if (!area) {
    area = document.createElement('div');
    area.className = AREA;
    const after = cell.node.querySelector(':scope > .jp-Cell-outputWrapper') ?? cell.node.querySelector(':scope > .jp-Cell-inputWrapper');
    cell.node.insertBefore(area, after?.nextSibling ?? null);
  }
  area.dataset.key = key;
  area.dataset.runId = run.id;
  const header = document.createElement('div');
  header.className = 'cp-run-metrics-header';
  header.textContent = `metrics of run ${run.id}`;
  const table = document.createElement('table');
  for (const row of rows) {
    const tr = document.createElement('tr');
    tr.dataset.metric = row.name;
    const name = document.createElement('th');
    name.textContent = row.name;
    const value = document.createElement('td');
    value.className = 'cp-run-metric-value';
    value.textContent = row.value === undefined ? 'not recorded' : formatMetric(row.value);
    if (row.value === undefined) value.classList.add('cp-run-metric-missing');
    const step = document.createElement('td');
    step.className = 'cp-run-metric-step';
    step.textContent = row.step ? `step ${row.step}${row.value === undefined && row.state ? ` ${row.state}` : ''}` : '';
    tr.append(name, value, step);
    table.appendChild(tr);
  }
  area.replaceChildren(header, table);
}
