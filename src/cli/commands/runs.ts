/**
 * `cellpipe runs [--json] [--notebook NB] [--store DIR]`: the runs in a store, newest first.
 */
import { resolve } from 'node:path';
import type { Command } from '../main.js';
import { parseArgs, UsageError } from '../args.js';
import { RunStore } from '../../runs/store.js';
import { storeDirFromArgs } from '../../runs/locate.js';
import { formatRunsTable } from '../../runs/format.js';

const USAGE = `usage: cellpipe runs [--json] [--notebook NB] [--store DIR]

  --json          the run records as a JSON array
  --notebook NB   only runs of this notebook
  --store DIR     where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const runs: Command = async (argv, io) => {
  let args;
  try {
    args = parseArgs(argv, { json: {}, notebook: { value: true }, store: { value: true }, help: { short: 'h' } });
    if (args.flags.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe runs: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const store = new RunStore(storeDirFromArgs(args.flags.store, io.cwd, io.env));
  let list = await store.list();
  const nb = args.flags.notebook;
  if (typeof nb === 'string') {
    // The record keeps the path as given when the run started; match it as given or as the same file.
    const want = resolve(io.cwd, nb);
    const base = resolve(store.dir, '..');
    list = list.filter((r) => r.notebook === nb || resolve(io.cwd, r.notebook) === want || resolve(base, r.notebook) === want);
  }
  if (args.flags.json) io.stdout.write(JSON.stringify(list, null, 2) + '\n');
  else io.stdout.write(formatRunsTable(list) + '\n');
  return 0;
};

export default runs;
