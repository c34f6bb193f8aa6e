/**
 * `cellpipe cancel RUN [--store DIR]`: cancel a run from any terminal. The request is recorded in the store;
 * the process running the pipeline stops its steps (SIGTERM, then SIGKILL to each step's process group); if
 * that process is gone or does not answer, the step process groups recorded in the store are stopped from here.
 */
import type { Command } from '../main.js';
import { parseArgs, UsageError } from '../args.js';
import { RunStore, isTerminalRun } from '../../runs/store.js';
import { findRun, noSuchRun, storeDirFromArgs } from '../../runs/locate.js';
import { cancelRun } from '../../runtimes/local/runtime.js';

const USAGE = `usage: cellpipe cancel RUN [--store DIR]

  RUN           a run id (or a unique prefix of one, or 'latest')
  --store DIR   where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const cancel: Command = async (argv, io) => {
  let args;
  try {
    args = parseArgs(argv, { store: { value: true }, help: { short: 'h' } });
    if (args.flags.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (args.positionals.length !== 1) throw new UsageError('give exactly one run id');
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe cancel: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const store = new RunStore(storeDirFromArgs(args.flags.store, io.cwd, io.env));
  const rec = await findRun(store, args.positionals[0]);
  if (rec === 'ambiguous') {
    io.stderr.write(`cellpipe cancel: '${args.positionals[0]}' matches several runs; give more of the id\n`);
    return 1;
  }
  if (!rec) {
    io.stderr.write(`cellpipe cancel: ${noSuchRun(args.positionals[0], store)}\n`);
    return 1;
  }
  if (isTerminalRun(rec.state)) {
    io.stdout.write(`run ${rec.id} already ${rec.state}${rec.reason && rec.reason !== rec.state ? ` (${rec.reason})` : ''}; nothing to cancel\n`);
    return 0;
  }
  if (rec.runtime !== 'local') {
    io.stderr.write(`cellpipe cancel: run ${rec.id} runs on ${rec.runtime}; cancel it from JupyterLab or the Kubeflow UI\n`);
    return 1;
  }
  const grace = Number(io.env.CELLPIPE_KILL_GRACE_MS ?? 5000);
  const final = await cancelRun(store, rec.id, { graceMs: Number.isFinite(grace) ? grace : 5000 });
  io.stdout.write(`run ${final.id} ${final.state}\n`);
  store.close();
  return final.state === 'cancelled' ? 0 : 1;
};

export default cancel;
