/**
 * `cellpipe compare RUN RUN… [--differences] [--json] [--store DIR]`: runs side by side — state, target, duration,
 * cached steps, every parameter and metric, and each step's state and duration; rows whose values differ are marked
 * `*` (runs/compare.ts). Exit 0 when every run exists.
 */
import type { Command } from '../main.js';
import { commandArgs } from '../args.js';
import { RunStore } from '../../runs/store.js';
import { findRun, noSuchRun, storeDirFromArgs } from '../../runs/locate.js';
import { formatDuration } from '../../runs/format.js';
import { compareRuns, showValue, type Comparison } from '../../runs/compare.js';
import type { RunRecord } from '../../runs/types.js';

const USAGE = `usage: cellpipe compare RUN RUN... [--differences] [--json] [--store DIR]

  RUN            two or more run ids (or unique prefixes of them, or 'latest')
  --differences  only the rows whose values differ between the runs
  --json         the comparison as JSON ({runs, rows: [{section, name, values, durations?, differs}]})
  --store DIR    where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)`;

const SECTIONS: Record<string, string> = { run: '', parameter: 'param ', metric: 'metric ', step: 'step ' };

/** The comparison as a text table: one column per run, `*` before each row that differs. */
export function formatComparison(c: Comparison, onlyDifferences = false): string {
  const rows: string[][] = [['', '', ...c.runs.map((r) => r.id)]];
  for (const r of c.rows) {
    if (onlyDifferences && !r.differs) continue;
    rows.push([r.differs ? '*' : '', `${SECTIONS[r.section]}${r.name}`, ...r.values.map((v, i) => {
      const d = r.durations?.[i];
      const ms = d === undefined ? '' : formatDuration(d);
      if (r.section === 'run' && r.name === 'duration') return ms || '-';
      return v === undefined ? '-' : ms ? `${showValue(v)} ${ms}` : showValue(v);
    })]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

const compare: Command = async (argv, io) => {
  const args = commandArgs('compare', argv, { differences: {}, json: {}, store: { value: true } }, USAGE, io, { min: 2, what: 'two or more run ids' });
  if (typeof args === 'number') return args;
  const store = new RunStore(storeDirFromArgs(args.flags.store, io.cwd, io.env));
  const runs: RunRecord[] = [];
  for (const id of args.positionals) {
    const rec = await findRun(store, id);
    if (rec === 'ambiguous') {
      io.stderr.write(`cellpipe compare: '${id}' matches several runs; give more of the id\n`);
      return 1;
    }
    if (!rec) {
      io.stderr.write(`cellpipe compare: ${noSuchRun(id, store)}\n`);
      return 1;
    }
    runs.push(rec);
  }
  const c = compareRuns(runs);
  io.stdout.write((args.flags.json ? JSON.stringify(c, null, 2) : formatComparison(c, !!args.flags.differences)) + '\n');
  return 0;
};

export default compare;
