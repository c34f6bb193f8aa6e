/**
 * `cellpipe runs [--json] [--notebook NB] [--store DIR]`: the runs in a store, newest first.
 */
import { resolve } from 'node:path';
import type { Command } from '../main.js';
import { commandArgs } from '../args.js';
import { RunStore } from '../../runs/store.js';
import { storeDirFromArgs } from '../../runs/locate.js';
import { formatRunsTable } from '../../runs/format.js';

const USAGE = `usage: cellpipe runs [--json] [--notebook NB] [--store DIR]

  --json          the run records as a JSON array
  --notebook NB   only runs of this notebook
  --store DIR     where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const runs: Command = async (argv, io) => {
  const args = commandArgs('runs', argv, { json: {}, notebook: { value: true }, store: { value: true } }, USAGE, io, { exactly: 0, what: '' });
  if (typeof args === 'number') return args;
  const store = new RunStore(storeDirFromArgs(args.flags.store, io.cwd, io.env));
  const { runs: all, damaged } = await store.scan();
  let list = all;
  const nb = args.flags.notebook;
  if (typeof nb === 'string') {
    // The record keeps the path as given when the run started; match it as given or as the same file.
    const want = resolve(io.cwd, nb);
    const base = resolve(store.dir, '..');
    list = list.filter((r) => r.notebook === nb || resolve(io.cwd, r.notebook) === want || resolve(base, r.notebook) === want);
  }
  if (args.flags.json) io.stdout.write(JSON.stringify(list, null, 2) + '\n');
  else io.stdout.write(formatRunsTable(list) + '\n');
  // A damaged record hides no other run, and is said (on stderr, so --json stays a list of records).
  for (const d of damaged) io.stderr.write(`cellpipe runs: run ${d.id} is damaged: ${d.file}${d.line ? ` line ${d.line}` : ''}: ${d.problem}\n`);
  return 0;
};

export default runs;
