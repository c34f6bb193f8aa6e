/**
 * `cellpipe logs RUN [--step NAME] [--follow] [--store DIR]`: a step's stored log (stdout and stderr
 * interleaved as they arrived), or every step's with a `[step]` prefix. `--follow` keeps printing new lines
 * until the step (or the run) ends.
 */
import type { Command } from '../main.js';
import { parseArgs, UsageError } from '../args.js';
import { RunStore } from '../../runs/store.js';
import { findRun, noSuchRun, storeDirFromArgs } from '../../runs/locate.js';
import type { LogLine } from '../../runtimes/types.js';

const USAGE = `usage: cellpipe logs RUN [--step NAME] [--follow] [--timestamps] [--store DIR]

  RUN               a run id (or a unique prefix of one, or 'latest')
  -s, --step NAME   only this step (default: every step, lines prefixed by the step name)
  -f, --follow      keep printing new lines until the step or the run ends
  -t, --timestamps  start each line with its arrival time
  --store DIR       where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const logs: Command = async (argv, io) => {
  let args;
  try {
    args = parseArgs(argv, {
      step: { short: 's', value: true },
      follow: { short: 'f' },
      timestamps: { short: 't' },
      store: { value: true },
      help: { short: 'h' },
    });
    if (args.flags.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (args.positionals.length !== 1) throw new UsageError('give exactly one run id');
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe logs: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const store = new RunStore(storeDirFromArgs(args.flags.store, io.cwd, io.env));
  const rec = await findRun(store, args.positionals[0]);
  if (rec === 'ambiguous') {
    io.stderr.write(`cellpipe logs: '${args.positionals[0]}' matches several runs; give more of the id\n`);
    return 1;
  }
  if (!rec) {
    io.stderr.write(`cellpipe logs: ${noSuchRun(args.positionals[0], store)}\n`);
    return 1;
  }
  const only = typeof args.flags.step === 'string' ? args.flags.step : undefined;
  if (only !== undefined && !rec.steps.some((s) => s.name === only)) {
    io.stderr.write(`cellpipe logs: run ${rec.id} has no step '${only}'; its steps are: ${rec.steps.map((s) => s.name).join(', ')}\n`);
    return 1;
  }
  const follow = Boolean(args.flags.follow);
  const stamps = Boolean(args.flags.timestamps);
  const steps = only !== undefined ? [only] : rec.steps.map((s) => s.name);
  const fmt = (step: string, l: LogLine) =>
    `${stamps ? `${l.time} ` : ''}${only === undefined ? `[${step}] ` : ''}${l.stream === 'system' ? `[cellpipe] ${l.text}` : l.text}\n`;

  // Ctrl-C while following: stop quietly.
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.on('SIGINT', onSignal);
  try {
    if (follow) {
      // Steps run in parallel: follow all at once and print lines as they come.
      await Promise.all(
        steps.map(async (step) => {
          for await (const l of store.readLogs(rec.id, step, { follow: true, signal: ac.signal })) io.stdout.write(fmt(step, l));
        }),
      );
    } else {
      for (const step of steps) for await (const l of store.readLogs(rec.id, step)) io.stdout.write(fmt(step, l));
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
  return 0;
};

export default logs;
