/**
 * The sidebar's note on an executed copy (a run's exported notebook): whose copy it is and which run made it, with
 * a link to the notebook itself — the copy is a record of a run, not the pipeline to run.
 */
import React from 'react';
import { sourceNotebookPath, type ExecutedCopy } from '../model/executedCopy.js';

export function ExecutedCopyNote(props: { copy: ExecutedCopy; path: string; onOpen: (path: string) => void }): React.ReactElement {
  const source = sourceNotebookPath(props.path, props.copy);
  const run = `run ${props.copy.run}${props.copy.state ? ` (${props.copy.state})` : ''}`;
  return (
    <div className="cp-executed-copy" role="note" data-run-id={props.copy.run}>
      <strong>Executed copy</strong> of{' '}
      {source ? (
        <button className="cp-executed-copy-open" title={`open ${source}`} onClick={() => props.onOpen(source)}>{props.copy.notebook}</button>
      ) : (
        'a notebook'
      )}{' '}
      from {run}: its outputs are that run's. {source ? `Run the pipeline from ${props.copy.notebook}.` : 'Run the pipeline from the notebook it was exported from.'}
    </div>
  );
}
