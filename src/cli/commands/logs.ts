/**
 * `cellpipe logs RUN [--step NAME] [--follow] [--store DIR]`: a step's stored log (stdout and stderr
 * interleaved as they arrived), or every step's with a `[step]` prefix. `--follow` keeps printing new lines
 * until the step (or the run) ends; for an unfinished Kubeflow run this process watches it meanwhile (KFP states and
 * the step pods' logs into the store), so the lines come even when nothing else watches it.
 */
import type { Command } from '../main.js';
import { commandArgs } from '../args.js';
import { isTerminalRun } from '../../runs/store.js';
import { openRun } from '../../runs/locate.js';
import type { LogLine } from '../../runs/types.js';

const USAGE = `usage: cellpipe logs RUN [--step NAME] [--follow] [--timestamps] [--store DIR]

  RUN               a run id (or a unique prefix of one, or 'latest')
  -s, --step NAME   only this step (default: every step, lines prefixed by the step name)
  -f, --follow      keep printing new lines until the step or the run ends
  -t, --timestamps  start each line with its arrival time
  --store DIR       where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const logs: Command = async (argv, io) => {
  const args = commandArgs('logs', argv, {
    step: { short: 's', value: true },
    follow: { short: 'f' },
    timestamps: { short: 't' },
    store: { value: true },
  }, USAGE, io, { exactly: 1, what: 'one run id' });
  if (typeof args === 'number') return args;
  const opened = await openRun('logs', args.flags.store, args.positionals[0], io);
  if (typeof opened === 'number') return opened;
  const { store, rec } = opened;
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
  let watching: Promise<unknown> | undefined;
  const stopWatching = new AbortController();
  if (follow && rec.runtime === 'kubeflow' && !isTerminalRun(rec.state)) {
    try {
      const { runtimeForRecord } = await import('../../runtimes/kubeflow/records.js');
      const runtime = await runtimeForRecord(rec, store, io.env);
      runtime.on('warning', (_id, message) => io.stderr.write(`cellpipe logs: ${message}\n`));
      ac.signal.addEventListener('abort', () => stopWatching.abort(), { once: true });
      watching = runtime.watch(rec.id, stopWatching.signal).catch((err: unknown) => io.stderr.write(`cellpipe logs: watching run ${rec.id} stopped: ${(err as Error).message}\n`));
    } catch (err) {
      io.stderr.write(`cellpipe logs: cannot watch the run in Kubeflow (${(err as Error).message}); following what others store\n`);
    }
  }
  try {
    if (follow) {
      // Steps run in parallel: follow all at once and print lines as they come.
      const printed = new Map<string, number>();
      const print = async (step: string, opts: { follow: boolean; fromLine?: number }) => {
        for await (const l of store.readLogs(rec.id, step, { ...opts, signal: ac.signal })) {
          printed.set(step, (printed.get(step) ?? 0) + 1);
          io.stdout.write(fmt(step, l));
        }
      };
      await Promise.all(steps.map((step) => print(step, { follow: true })));
      if (watching) {
        // A step can end in KFP before its pod's last lines are stored: the watcher flushes them as it stops.
        // Only some steps followed and the run goes on: stop watching now (another watcher or `status` takes over).
        const now = await store.get(rec.id);
        if (now && !isTerminalRun(now.state)) stopWatching.abort();
        await watching;
        for (const step of steps) await print(step, { follow: false, fromLine: printed.get(step) ?? 0 });
      }
    } else {
      for (const step of steps) for await (const l of store.readLogs(rec.id, step)) io.stdout.write(fmt(step, l));
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
  return 0;
};

export default logs;
