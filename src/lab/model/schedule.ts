/**
 * Pure logic of the sidebar's "Schedule…" form: cron presets (hourly, daily at a time, weekly on a day at a time)
 * written as the usual 5 fields, and the preview of what a cron means — KFP's 6-field form and the next three run
 * times, computed in the page by core/cron.ts (the same rules the backend and `cellpipe schedule` use), or the
 * error naming the field that is wrong.
 */
import { CronError, formatRunTime, nextRuns, parseCron } from '../../core/cron.js';
import type { ScheduleView } from '../../runs/types.js';

export type PresetKind = 'hourly' | 'daily' | 'weekly' | 'custom';

export interface PresetChoice {
  kind: PresetKind;
  /** `HH:MM` (UTC), for daily and weekly. */
  time: string;
  /** 0 (Sunday) … 6, for weekly. */
  weekday: number;
}

export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export const DEFAULT_PRESET: PresetChoice = { kind: 'daily', time: '06:00', weekday: 1 };

/** `HH:MM` → [hour, minute], or undefined when it is no time of day. */
export function parseTimeOfDay(text: string): [number, number] | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const [h, min] = [Number(m[1]), Number(m[2])];
  return h <= 23 && min <= 59 ? [h, min] : undefined;
}

/** The 5-field cron of a preset (undefined for `custom`, or a time that is not `HH:MM`). */
export function presetCron(p: PresetChoice): string | undefined {
  if (p.kind === 'hourly') return '0 * * * *';
  if (p.kind === 'custom') return undefined;
  const t = parseTimeOfDay(p.time);
  if (!t) return undefined;
  const [h, m] = t;
  return p.kind === 'daily' ? `${m} ${h} * * *` : `${m} ${h} * * ${p.weekday}`;
}

/** The preset a cron was made from, so the form shows it again (custom when none matches). */
export function presetOf(cron: string, fallback: PresetChoice = DEFAULT_PRESET): PresetChoice {
  const text = cron.trim().replace(/\s+/g, ' ');
  if (text === '0 * * * *' || text === '@hourly') return { ...fallback, kind: 'hourly' };
  const m = /^(\d{1,2}) (\d{1,2}) \* \* (\*|[0-6])$/.exec(text);
  if (m && Number(m[1]) <= 59 && Number(m[2]) <= 23) {
    const time = `${m[2].padStart(2, '0')}:${m[1].padStart(2, '0')}`;
    return m[3] === '*' ? { ...fallback, kind: 'daily', time } : { kind: 'weekly', time, weekday: Number(m[3]) };
  }
  return { ...fallback, kind: 'custom' };
}

export type CronPreview =
  | { ok: true; kfp: string; next: Date[]; lines: string[] }
  | { ok: false; error: string; hint?: string };

/** What a cron means: KFP's form and the next `count` runs after `now`, or why it cannot be used. */
export function previewCron(text: string, now: Date, count = 3): CronPreview {
  if (!text.trim()) return { ok: false, error: 'write when to run: 5 fields, minute hour day-of-month month day-of-week (UTC)', hint: 'or pick hourly, daily or weekly' };
  try {
    const cron = parseCron(text);
    const next = nextRuns(cron, count, now);
    if (!next.length) return { ok: false, error: `cron "${cron.written}" never fires`, hint: 'check the day and month fields (e.g. February 30th never comes)' };
    return { ok: true, kfp: cron.kfp, next, lines: next.map(formatRunTime) };
  } catch (err) {
    if (err instanceof CronError) return { ok: false, error: err.message, hint: err.hint };
    throw err;
  }
}

/** One line of a listed schedule's state: paused, its next run, or that it never runs again. */
export function scheduleState(s: Pick<ScheduleView, 'paused' | 'next'>): string {
  if (s.paused) return 'paused';
  return s.next.length ? `next ${formatRunTime(new Date(s.next[0]))}` : 'no further runs';
}

/** `CANDIES=7, NAME="x"`: the parameters a schedule's runs get, for the form and the list. */
export function describeParameters(values: Record<string, unknown>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? parts.join(', ') : 'no parameters';
}
