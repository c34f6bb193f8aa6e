/**
 * "Full log": a step's whole stored log in a main-area tab (read once from the run store).
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import type { CellpipeAPI } from '../api.js';

export function createLogTab(api: CellpipeAPI, runId: string, step: string, notebook: string): MainAreaWidget<Widget> {
  const content = new Widget();
  content.addClass('cp-full-log');
  const pre = document.createElement('pre');
  pre.textContent = 'loading…';
  content.node.appendChild(pre);
  const widget = new MainAreaWidget({ content });
  widget.id = `cellpipe-log-${runId}-${step}`;
  widget.title.label = `${step} log`;
  widget.title.caption = `${notebook} · run ${runId} · step ${step}`;
  widget.title.closable = true;
  api.fullLog(runId, step, notebook).then(
    (text) => (pre.textContent = text || '(empty log)'),
    (err: Error) => (pre.textContent = `could not read the log: ${err.message}`),
  );
  return widget;
}
