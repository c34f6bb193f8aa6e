/**
 * `cellpipe export RUN [-o FILE] [--notebook PATH] [--store DIR]`: the run's executed notebook — the notebook with,
 * under each code cell, what that cell showed in the run (core/executed.ts) — openable in any Jupyter. The notebook
 * file itself is never written. An unfinished Kubeflow run is refreshed from Kubeflow Pipelines first (../kubeflow-refresh.ts),
 * so a run nobody watched exports what it showed once it ended.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from '../main.js';
import { commandArgs } from '../args.js';
import { openRun } from '../../runs/locate.js';
import { executedFileName, executedRun, executedText } from '../../runs/executed.js';
import type { RunRecord } from '../../runs/types.js';
import { refreshedRecord } from '../kubeflow-refresh.js';

const USAGE = `usage: cellpipe export RUN [-o FILE] [--notebook PATH] [--store DIR]

  RUN               a run id (or a unique prefix of one, or 'latest')
  -o, --output FILE where to write the executed notebook ('-': standard output;
                    default: <notebook name>.<run id>.ipynb in this folder)
  --notebook PATH   the notebook the run was made from, when it is not where the run record says
  --store DIR       where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

/** Where the run's notebook is: as recorded (relative to where the run was started), or next to the store. */
function notebookCandidates(rec: RunRecord, storeDir: string, cwd: string): string[] {
  const out = [path.resolve(cwd, rec.notebook), path.join(path.dirname(storeDir), path.basename(rec.notebook))];
  return out.filter((p, i) => out.indexOf(p) === i);
}

const exportCommand: Command = async (argv, io) => {
  const args = commandArgs('export', argv, {
    output: { short: 'o', value: true },
    notebook: { value: true },
    store: { value: true },
  }, USAGE, io, { exactly: 1, what: 'one run id' });
  if (typeof args === 'number') return args;
  const opened = await openRun('export', args.flags.store, args.positionals[0], io);
  if (typeof opened === 'number') return opened;
  const { store } = opened;
  const { record: rec, stale } = await refreshedRecord(opened.rec, store, io.env);
  if (stale) io.stderr.write(`cellpipe export: exporting the stored record, which may be stale — could not refresh it from Kubeflow: ${stale}\n`);

  const tried = typeof args.flags.notebook === 'string' ? [path.resolve(io.cwd, args.flags.notebook)] : notebookCandidates(rec, store.dir, io.cwd);
  const nbPath = tried.find((p) => fs.existsSync(p));
  if (!nbPath) {
    io.stderr.write(`cellpipe export: the notebook of run ${rec.id} (${rec.notebook}) is not at ${tried.join(' nor ')}; pass --notebook PATH\n`);
    return 1;
  }
  let result;
  try {
    result = executedRun(store, rec, fs.readFileSync(nbPath), nbPath);
  } catch (err) {
    io.stderr.write(`cellpipe export: ${(err as Error).message}\n`);
    return 1;
  }
  for (const note of result.notes) io.stderr.write(`cellpipe export: ${note}\n`);

  const text = executedText(result);
  const flag = typeof args.flags.output === 'string' ? args.flags.output : undefined;
  if (flag === '-') {
    io.stdout.write(text);
    return 0;
  }
  const out = path.resolve(io.cwd, flag ?? executedFileName(nbPath, rec.id));
  if (out === path.resolve(nbPath)) {
    io.stderr.write(`cellpipe export: ${out} is the notebook itself; choose another file with -o\n`);
    return 1;
  }
  const tmp = `${out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, out);
  io.stdout.write(`${path.relative(io.cwd, out) || out}: ${result.filled} cell${result.filled === 1 ? '' : 's'} with outputs from run ${rec.id} (${rec.state})\n`);
  return 0;
};

export default exportCommand;
