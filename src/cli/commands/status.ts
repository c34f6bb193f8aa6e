/**
 * `cellpipe status RUN [--json] [--store DIR]`: one run — state, timings, parameters, and per step its state,
 * attempts, outputs, metrics and, for a failed step, the cell and line that raised. RUN may be an id prefix
 * or `latest`. An unfinished Kubeflow run is refreshed from Kubeflow Pipelines first (and the store updated);
 * when KFP does not answer, the stored record is shown with a note on stderr that it may be stale.
 * Exit 0 when the run exists.
 */
import type { Command } from '../main.js';
import { parseArgs, UsageError } from '../args.js';
import { RunStore, isTerminalRun } from '../../runs/store.js';
import { findRun, noSuchRun, storeDirFromArgs } from '../../runs/locate.js';
import { formatStatus } from '../../runs/format.js';

const USAGE = `usage: cellpipe status RUN [--json] [--store DIR]

  RUN           a run id (or a unique prefix of one, or 'latest')
  --json        the run record as JSON
  --store DIR   where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const status: Command = async (argv, io) => {
  let args;
  try {
    args = parseArgs(argv, { json: {}, store: { value: true }, help: { short: 'h' } });
    if (args.flags.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (args.positionals.length !== 1) throw new UsageError('give exactly one run id');
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe status: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const store = new RunStore(storeDirFromArgs(args.flags.store, io.cwd, io.env));
  const rec = await findRun(store, args.positionals[0]);
  if (rec === 'ambiguous') {
    io.stderr.write(`cellpipe status: '${args.positionals[0]}' matches several runs; give more of the id\n`);
    return 1;
  }
  if (!rec) {
    io.stderr.write(`cellpipe status: ${noSuchRun(args.positionals[0], store)}\n`);
    return 1;
  }
  let shown = rec;
  let stale: string | undefined;
  if (rec.runtime === 'kubeflow' && !isTerminalRun(rec.state)) {
    try {
      const { runtimeForRecord } = await import('../../runtimes/kubeflow/records.js');
      // A quick look: a KFP that does not answer within 10 s (or $CELLPIPE_KFP_TIMEOUT_MS) is reported as such.
      const timeout = Number(io.env.CELLPIPE_KFP_TIMEOUT_MS);
      const runtime = await runtimeForRecord(rec, store, io.env, { kube: null, timeoutMs: timeout > 0 ? timeout : 10_000 });
      const r = await runtime.refresh(rec.id);
      shown = r.record;
      if (!r.fresh) stale = r.error;
    } catch (err) {
      stale = (err as Error).message;
    }
  }
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
