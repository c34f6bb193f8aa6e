/**
 * "Full log": a step's whole stored log in a main-area tab, following it live while the step runs (the same
 * resumable stream the inline logs read), scrolled to the newest line unless the user scrolled up.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import type { CellpipeAPI } from '../api.js';

export function createLogTab(api: CellpipeAPI, runId: string, step: string, notebook: string): MainAreaWidget<Widget> {
  const content = new Widget();
  content.addClass('cp-full-log');
  const status = document.createElement('div');
  status.className = 'cp-full-log-status';
  status.textContent = 'loading…';
  const pre = document.createElement('pre');
  content.node.append(status, pre);
  const widget = new MainAreaWidget({ content });
  widget.id = `cellpipe-log-${runId}-${step}`;
  widget.title.label = `${step} log`;
  widget.title.caption = `${notebook} · run ${runId} · step ${step}`;
  widget.title.closable = true;

  const stop = new AbortController();
  widget.disposed.connect(() => stop.abort());
  let count = 0;
  api
    .followLog(runId, notebook, step, 0, (batch) => {
      // The tab scrolls (content.node), not the pre: follow the end only when the reader is at it.
      const atEnd = content.node.scrollTop + content.node.clientHeight >= content.node.scrollHeight - 4;
      pre.appendChild(document.createTextNode(batch.map((b) => `${b.line.text}\n`).join('')));
      count += batch.length;
      status.textContent = `${count} line${count === 1 ? '' : 's'} · following while the step runs`;
      if (atEnd) content.node.scrollTop = content.node.scrollHeight;
    }, stop.signal)
    .then(
      () => {
        if (stop.signal.aborted) return;
        status.textContent = count ? `${count} line${count === 1 ? '' : 's'} · the step has ended` : '(empty log)';
        content.node.dataset.ended = 'true';
      },
      (err: Error) => {
        if (!stop.signal.aborted) status.textContent = `could not read the log: ${err.message}`;
      },
    );
  return widget;
}
