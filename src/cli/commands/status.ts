/**
 * `cellpipe status RUN [--json] [--store DIR]`: one run — state, timings, parameters, and per step its state,
 * attempts, outputs, metrics and, for a failed step, the cell and line that raised. RUN may be an id prefix
 * or `latest`. An unfinished Kubeflow run is refreshed from Kubeflow Pipelines first (and the store updated);
 * when KFP does not answer, the stored record is shown with a note on stderr that it may be stale.
 * Exit 0 when the run exists.
 */
import type { Command } from '../main.js';
import { commandArgs } from '../args.js';
import { isTerminalRun } from '../../runs/store.js';
import { openRun } from '../../runs/locate.js';
import { formatStatus } from '../../runs/format.js';
import { refreshedRecord } from '../kubeflow-refresh.js';

const USAGE = `usage: cellpipe status RUN [--json] [--store DIR]

  RUN           a run id (or a unique prefix of one, or 'latest')
  --json        the run record as JSON
  --store DIR   where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const status: Command = async (argv, io) => {
  const args = commandArgs('status', argv, { json: {}, store: { value: true } }, USAGE, io, { exactly: 1, what: 'one run id' });
  if (typeof args === 'number') return args;
  const opened = await openRun('status', args.flags.store, args.positionals[0], io);
  if (typeof opened === 'number') return opened;
  const { store, rec } = opened;
  const { record: shown, stale } = await refreshedRecord(rec, store, io.env);
  let text = args.flags.json ? JSON.stringify(shown, null, 2) : formatStatus(shown);
  if (!args.flags.json && shown.stage && !shown.external?.kfpRunId && !isTerminalRun(shown.state)) {
    // Being submitted to Kubeflow by another process (JupyterLab): how far it got.
    text += `\nsubmitting: ${shown.stage}${shown.stageDetail ? ` (${shown.stageDetail})` : ''}`;
  }
  io.stdout.write(text + '\n');
  if (stale) io.stderr.write(`cellpipe status: this is the stored record and may be stale — could not refresh it from Kubeflow: ${stale}\n`);
  store.close();
  return 0;
};

export default status;
