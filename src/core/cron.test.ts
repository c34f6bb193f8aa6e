/** Cron as users write it → KFP's seconds-first form, and the next run times by robfig/cron's rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronError, formatRunTime, fromKfpCron, nextRuns, parseCron } from './cron.js';

const iso = (ds: Date[]) => ds.map((d) => d.toISOString());
const FROM = new Date('2026-12-03T08:10:30Z'); // a Thursday

test('five fields become KFP\'s six (second 0 first); macros expand; KFP\'s form reads back', () => {
  assert.equal(parseCron('0 6 * * *').kfp, '0 0 6 * * *');
  assert.equal(parseCron(' 30  */2 * * 1-5 ').kfp, '0 30 */2 * * 1-5');
  assert.equal(parseCron('@hourly').kfp, '0 0 * * * *');
  assert.equal(parseCron('0 9 * jan,jul mon').kfp, '0 0 9 * jan,jul mon');
  assert.equal(fromKfpCron('0 0 6 * * *'), '0 6 * * *');
  assert.equal(fromKfpCron('15 0 6 * * *'), undefined);
});

test('next runs: daily, every two hours on weekdays, monthly, after a start and before an end', () => {
  assert.deepEqual(iso(nextRuns(parseCron('0 6 * * *'), 3, FROM)), ['2026-12-04T06:00:00.000Z', '2026-12-05T06:00:00.000Z', '2026-12-06T06:00:00.000Z']);
  assert.deepEqual(iso(nextRuns(parseCron('30 */2 * * 1-5'), 3, new Date('2026-12-04T21:00:00Z'))), ['2026-12-04T22:30:00.000Z', '2026-12-07T00:30:00.000Z', '2026-12-07T02:30:00.000Z']);
  assert.deepEqual(iso(nextRuns(parseCron('@monthly'), 2, FROM)), ['2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z']);
  assert.deepEqual(iso(nextRuns(parseCron('0 6 * * *'), 3, FROM, { start: new Date('2027-01-01T00:00:00Z'), end: new Date('2027-01-02T12:00:00Z') })), ['2027-01-01T06:00:00.000Z', '2027-01-02T06:00:00.000Z']);
  assert.deepEqual(iso(nextRuns(parseCron('0 8 * * *'), 1, new Date('2026-12-03T08:00:00Z'))), ['2026-12-04T08:00:00.000Z'], 'strictly after');
  assert.deepEqual(nextRuns(parseCron('0 0 30 2 *'), 3, FROM), [], 'February 30th never comes');
  assert.equal(formatRunTime(new Date('2026-12-04T06:00:00Z')), '2026-12-04 06:00 UTC (Fri)');
});

test('day-of-month and day-of-week both restricted: either matches (robfig/cron, like Vixie cron)', () => {
  // The 13th, or any Friday.
  assert.deepEqual(iso(nextRuns(parseCron('0 0 13 * 5'), 3, FROM)), ['2026-12-04T00:00:00.000Z', '2026-12-11T00:00:00.000Z', '2026-12-13T00:00:00.000Z']);
  // `*` in one of them: both must match — every Friday.
  assert.deepEqual(iso(nextRuns(parseCron('0 0 * * 5'), 2, FROM)), ['2026-12-04T00:00:00.000Z', '2026-12-11T00:00:00.000Z']);
});

test('bad expressions name the field and show the form to write', () => {
  const bad = (expr: string, message: RegExp) =>
    assert.throws(() => parseCron(expr), (e: unknown) => e instanceof CronError && message.test(e.message) && e.hint.length > 0);
  bad('0 6 * *', /has 4 fields, not 5/);
  bad('0 0 6 * * *', /has 6 fields/);
  bad('61 * * * *', /minute 61 is outside 0-59/);
  bad('0 25 * * *', /hour 25 is outside 0-23/);
  bad('0 6 * * 7', /day of week 7 is outside 0-6/);
  bad('0 6 * foo *', /'foo' is not a valid month/);
  bad('*/0 * * * *', /step '0'/);
  bad('0 6 20-10 * *', /runs backwards/);
});
