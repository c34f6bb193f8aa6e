/**
 * `cellpipe schedules [--profile NAME] [--json]`: the recurring runs on Kubeflow Pipelines of one profile (or of every
 * configured profile), with their state, cron (as written, 5 fields) and next run time.
 * Exit 0: listed; 1: a profile's KFP could not be asked; 2: usage errors.
 */
import type { Command } from '../main.js';
import { commandArgs } from '../args.js';
import { formatRunTime } from '../../core/cron.js';
import { describeSchedule } from '../../runtimes/kubeflow/schedule.js';
import { loadProfile, profileNames } from '../../kube/profile.js';
import { KfpClient, type KfpRecurringRun } from '../../kfp/client.js';
import { kfpEndpoint } from '../../kfp/endpoint.js';
import { KfpError } from '../../kfp/errors.js';

const USAGE = `usage: cellpipe schedules [--profile NAME] [--json]

  --profile NAME   list the schedules of this profile's Kubeflow Pipelines (default: every configured profile)
  --json           print them as JSON (KFP's recurring runs, with profile, cron and next_run added)

Pause, resume or delete one with 'cellpipe schedule pause|resume|delete ID'.`;

const schedules: Command = async (argv, io) => {
  const args = commandArgs('schedules', argv, { profile: { value: true }, json: {} }, USAGE, io, { exactly: 0, what: '' });
  if (typeof args === 'number') return args;
  let names: string[];
  try {
    names = typeof args.flags.profile === 'string' ? [args.flags.profile] : (await profileNames(io.env)) ?? [];
  } catch (err) {
    io.stderr.write(`cellpipe schedules: ${(err as Error).message}\n`);
    return 1;
  }
  if (!names.length) {
    io.stderr.write('cellpipe schedules: no profiles configured (see cellpipe doctor --help for the profiles file)\n');
    return 1;
  }
  const rows: { profile: string; r: KfpRecurringRun; d: ReturnType<typeof describeSchedule> }[] = [];
  let failed = false;
  for (const name of names) {
    try {
      const profile = await loadProfile(name, io.env);
      const client = new KfpClient(await kfpEndpoint(profile, io.env));
      const health = await client.healthz();
      const list = await client.listRecurringRuns({ namespace: health.multi_user === false ? undefined : profile.namespace });
      for (const r of list) rows.push({ profile: name, r, d: describeSchedule(r) });
    } catch (err) {
      failed = true;
      io.stderr.write(`cellpipe schedules: profile ${name}: ${err instanceof KfpError ? err.describe() : (err as Error).message}\n`);
    }
  }
  if (args.flags.json) {
    io.stdout.write(JSON.stringify(rows.map(({ profile, r, d }) => ({ profile, ...r, cron: d.cron, next_run: d.next?.toISOString() ?? null })), null, 2) + '\n');
    return failed ? 1 : 0;
  }
  if (!rows.length) {
    if (!failed) io.stdout.write(`no schedules (profile${names.length > 1 ? 's' : ''} ${names.join(', ')})\n`);
    return failed ? 1 : 0;
  }
  const table = [
    ['ID', 'PROFILE', 'STATE', 'CRON (UTC)', 'NEXT RUN', 'NAME'],
    ...rows.map(({ profile, r, d }) => [
      r.recurring_run_id, profile, d.paused ? 'paused' : 'enabled', d.cron, d.paused ? '-' : d.next ? formatRunTime(d.next) : 'none', r.display_name ?? '',
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) io.stdout.write(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ') + '\n');
  return failed ? 1 : 0;
};

export default schedules;
