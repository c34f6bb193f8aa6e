import { CellpipeError } from './errors.js';
/**
 * Cron schedules as people write them (5 fields: minute hour day-of-month month day-of-week) turned into what
 * Kubeflow Pipelines reads: KFP parses `cron_schedule.cron` with robfig/cron's seconds-first parser, so a 5-field
 * expression would silently mean something else (`0 6 * * *` = second 0, minute 6, every hour). The translation
 * prefixes second 0. Next run times follow robfig/cron's rules — in particular, when both day-of-month and
 * day-of-week are restricted a day matching either runs (a `*` in one of them means both must match).
 * Times are UTC (what KFP's scheduled-workflow controller uses in its pod).
 */

export interface CronSchedule {
  /** The expression as written (5 fields, or a macro such as `@daily`). */
  written: string;
  /** KFP's 6-field form (seconds first). */
  kfp: string;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** robfig/cron: day-of-month or day-of-week written as `*` (or `?`) — then both must match. */
  dayStar: boolean;
}

export class CronError extends CellpipeError {
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = 'CronError';
  }
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
] as const;

const HINT = 'write 5 fields: minute hour day-of-month month day-of-week, e.g. "0 6 * * *" (06:00 every day) or "30 */2 * * 1-5"';

function parseField(text: string, f: (typeof FIELDS)[number], expr: string): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  let star = false;
  const number = (s: string): number => {
    const names: readonly string[] = 'names' in f ? f.names : [];
    const byName = names.indexOf(s.toLowerCase());
    if (byName >= 0) return byName + f.min;
    if (!/^\d+$/.test(s)) throw new CronError(`cron "${expr}": '${s}' is not a valid ${f.name}`, HINT);
    const n = Number(s);
    if (n < f.min || n > f.max) throw new CronError(`cron "${expr}": ${f.name} ${n} is outside ${f.min}-${f.max}`, f.name === 'day of week' && n === 7 ? 'write Sunday as 0 (KFP\'s cron reads day-of-week 0-6)' : HINT);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined || range === '') throw new CronError(`cron "${expr}": '${part}' is not a valid ${f.name}`, HINT);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1 || (stepText !== undefined && !/^\d+$/.test(stepText))) {
      throw new CronError(`cron "${expr}": step '${stepText}' in the ${f.name} is not a positive number`, HINT);
    }
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') {
      [lo, hi] = [f.min, f.max];
      if (step === 1) star = true;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [lo, hi] = [number(a), number(b)];
      if (lo > hi) throw new CronError(`cron "${expr}": the ${f.name} range ${range} runs backwards`, HINT);
    } else {
      lo = number(range);
      hi = stepText === undefined ? lo : f.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star };
}

/** Parses a 5-field cron expression (or a macro); throws `CronError` saying which field is wrong. */
export function parseCron(written: string): CronSchedule {
  const text = written.trim();
  const expanded = MACROS[text.toLowerCase()] ?? text;
  const fields = expanded.split(/\s+/).filter(Boolean);
  if (fields.length === 6) {
    throw new CronError(`cron "${written}" has 6 fields`, `write the usual 5 (minute hour day-of-month month day-of-week); cellpipe adds KFP's seconds field itself`);
  }
  if (fields.length !== 5) throw new CronError(`cron "${written}" has ${fields.length} field${fields.length === 1 ? '' : 's'}, not 5`, HINT);
  const [mi, h, dom, mo, dow] = fields.map((t, i) => parseField(t, FIELDS[i], written));
  return {
    written: text,
    kfp: `0 ${fields.join(' ')}`,
    minutes: mi.values, hours: h.values, days: dom.values, months: mo.values, weekdays: dow.values,
    dayStar: dom.star || dow.star,
  };
}

function dayMatches(s: CronSchedule, t: Date): boolean {
  const dom = s.days.has(t.getUTCDate());
  const dow = s.weekdays.has(t.getUTCDay());
  return s.dayStar ? dom && dow : dom || dow;
}

/**
 * The next `count` times the schedule fires strictly after `from` (and not before `start`, not after `end`), UTC.
 * Fewer when the schedule ends or never fires within five years.
 */
export function nextRuns(s: CronSchedule, count: number, from: Date, options: { start?: Date; end?: Date } = {}): Date[] {
  const out: Date[] = [];
  let t = new Date(Math.max(from.getTime() + 1, options.start ? options.start.getTime() : 0));
  // Round up to the next whole minute (the schedule's seconds field is 0).
  if (t.getUTCSeconds() || t.getUTCMilliseconds()) t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes() + 1));
  const limit = t.getTime() + 5 * 366 * 86_400_000;
  while (out.length < count && t.getTime() <= limit) {
    if (options.end && t > options.end) break;
    if (!s.months.has(t.getUTCMonth() + 1)) {
      t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
    } else if (!dayMatches(s, t)) {
      t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + 1));
    } else if (!s.hours.has(t.getUTCHours())) {
      t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours() + 1));
    } else if (!s.minutes.has(t.getUTCMinutes())) {
      t = new Date(t.getTime() + 60_000);
    } else {
      out.push(t);
      t = new Date(t.getTime() + 60_000);
    }
  }
  return out;
}

/** `2026-12-04 06:00 UTC (Fri)`: a run time as the CLI shows it. */
export function formatRunTime(t: Date): string {
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][t.getUTCDay()];
  return `${t.toISOString().slice(0, 16).replace('T', ' ')} UTC (${day})`;
}

/** The 5-field form of KFP's 6-field cron (seconds `0` dropped), or undefined when it has other seconds. */
export function fromKfpCron(kfp: string): string | undefined {
  const fields = kfp.trim().split(/\s+/);
  return fields.length === 6 && fields[0] === '0' ? fields.slice(1).join(' ') : undefined;
}
