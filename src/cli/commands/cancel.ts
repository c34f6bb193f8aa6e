/**
 * `cellpipe cancel RUN [--store DIR]`: cancel a run from any terminal. The request is recorded in the store;
 * the process running the pipeline stops its steps (SIGTERM, then SIGKILL to each step's process group); if
 * that process is gone or does not answer, the step process groups recorded in the store are stopped from here.
 * A Kubeflow run is terminated in Kubeflow Pipelines; the command waits (up to `$CELLPIPE_CANCEL_WAIT_MS`, default
 * 30 s) until KFP reports it ended and prints its final state.
 */
import type { Command } from '../main.js';
import { commandArgs } from '../args.js';
import { RunStore, isTerminalRun } from '../../runs/store.js';
import { openRun } from '../../runs/locate.js';
import { cancelRun } from '../../runtimes/local/runtime.js';
import type { RunRecord } from '../../runs/types.js';

const USAGE = `usage: cellpipe cancel RUN [--store DIR]

  RUN           a run id (or a unique prefix of one, or 'latest')
  --store DIR   where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const cancel: Command = async (argv, io) => {
  const args = commandArgs('cancel', argv, { store: { value: true } }, USAGE, io, { exactly: 1, what: 'one run id' });
  if (typeof args === 'number') return args;
  const opened = await openRun('cancel', args.flags.store, args.positionals[0], io);
  if (typeof opened === 'number') return opened;
  const { store, rec } = opened;
  if (isTerminalRun(rec.state)) {
    io.stdout.write(`run ${rec.id} already ${rec.state}${rec.reason && rec.reason !== rec.state ? ` (${rec.reason})` : ''}; nothing to cancel\n`);
    return 0;
  }
  if (rec.runtime === 'kubeflow') return cancelKubeflow(rec, store, io);
  if (rec.runtime !== 'local' && rec.runtime !== 'containers') {
    io.stderr.write(`cellpipe cancel: run ${rec.id} runs on ${rec.runtime}, which this version of cellpipe cannot cancel\n`);
    return 1;
  }
  const grace = Number(io.env.CELLPIPE_KILL_GRACE_MS ?? 5000);
  const final = await cancelRun(store, rec.id, { graceMs: Number.isFinite(grace) ? grace : 5000 });
  io.stdout.write(`run ${final.id} ${final.state}\n`);
  store.close();
  return final.state === 'cancelled' ? 0 : 1;
};

async function cancelKubeflow(rec: RunRecord, store: RunStore, io: Parameters<Command>[1]): Promise<number> {
  const { runtimeForRecord } = await import('../../runtimes/kubeflow/records.js');
  let runtime;
  try {
    runtime = await runtimeForRecord(rec, store, io.env, { kube: null });
    await runtime.cancel(rec.id);
  } catch (err) {
    io.stderr.write(`cellpipe cancel: ${(err as Error).message}\n`);
    store.close();
    return 1;
  }
  if (!rec.external?.kfpRunId) {
    // Still being submitted by another process (JupyterLab): it stops before creating the run in Kubeflow.
    io.stdout.write(`run ${rec.id} cancel requested; its submission stops before the run is created in Kubeflow\n`);
    store.close();
    return 0;
  }
  const wait = Number(io.env.CELLPIPE_CANCEL_WAIT_MS ?? 30_000);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), Number.isFinite(wait) ? wait : 30_000);
  let final: RunRecord;
  try {
    final = await runtime.watch(rec.id, ac.signal);
  } catch (err) {
    io.stderr.write(`cellpipe cancel: asked Kubeflow to terminate run ${rec.id}; watching it failed: ${(err as Error).message}\n`);
    store.close();
    return 1;
  } finally {
    clearTimeout(timer);
  }
  store.close();
  if (!isTerminalRun(final.state)) {
    io.stdout.write(`run ${final.id} terminating in Kubeflow (still ${final.state}; \`cellpipe status ${final.id}\` shows when it ends)\n`);
    return 0;
  }
  io.stdout.write(`run ${final.id} ${final.state}\n`);
  return final.state === 'cancelled' ? 0 : 1;
}

export default cancel;
