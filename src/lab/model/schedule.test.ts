import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeParameters, presetCron, presetOf, previewCron, scheduleState, parseTimeOfDay, DEFAULT_PRESET } from './schedule.js';

const NOW = new Date('2026-12-03T08:30:00Z'); // a Thursday

test('presets write the usual 5 fields: hourly, daily at a time, weekly on a day at a time', () => {
  assert.equal(presetCron({ ...DEFAULT_PRESET, kind: 'hourly' }), '0 * * * *');
  assert.equal(presetCron({ kind: 'daily', time: '06:00', weekday: 1 }), '0 6 * * *');
  assert.equal(presetCron({ kind: 'daily', time: '23:45', weekday: 1 }), '45 23 * * *');
  assert.equal(presetCron({ kind: 'weekly', time: '07:30', weekday: 0 }), '30 7 * * 0');
  assert.equal(presetCron({ kind: 'daily', time: '25:00', weekday: 1 }), undefined, 'no such time');
  assert.equal(presetCron({ ...DEFAULT_PRESET, kind: 'custom' }), undefined);
  assert.deepEqual(parseTimeOfDay('9:05'), [9, 5]);
  assert.equal(parseTimeOfDay('9.05'), undefined);
});

test('a cron made by a preset is recognised again; anything else is custom', () => {
  assert.deepEqual(presetOf('45 23 * * *'), { kind: 'daily', time: '23:45', weekday: DEFAULT_PRESET.weekday });
  assert.deepEqual(presetOf('30 7 * * 0'), { kind: 'weekly', time: '07:30', weekday: 0 });
  assert.equal(presetOf('@hourly').kind, 'hourly');
  assert.equal(presetOf('*/5 * * * *').kind, 'custom');
  for (const p of [{ kind: 'daily', time: '06:00', weekday: 1 }, { kind: 'weekly', time: '18:15', weekday: 5 }] as const) {
    assert.deepEqual(presetOf(presetCron(p)!), p, 'round trip');
  }
});

test('the preview shows KFP\'s seconds-first form and the next three runs, as core/cron computes them', () => {
  const daily = previewCron('0 6 * * *', NOW);
  assert.ok(daily.ok);
  assert.equal(daily.kfp, '0 0 6 * * *');
  assert.deepEqual(daily.lines, ['2026-12-04 06:00 UTC (Fri)', '2026-12-05 06:00 UTC (Sat)', '2026-12-06 06:00 UTC (Sun)']);
  const weekly = previewCron('30 7 * * 1', NOW);
  assert.ok(weekly.ok);
  assert.deepEqual(weekly.lines, ['2026-12-07 07:30 UTC (Mon)', '2026-12-14 07:30 UTC (Mon)', '2026-12-21 07:30 UTC (Mon)']);
  const hourly = previewCron('0 * * * *', NOW);
  assert.ok(hourly.ok);
  assert.deepEqual(hourly.next.map((t) => t.toISOString()), ['2026-12-03T09:00:00.000Z', '2026-12-03T10:00:00.000Z', '2026-12-03T11:00:00.000Z']);
});

test('a cron that cannot be used says which field is wrong and what to write', () => {
  const cases: [string, RegExp, RegExp][] = [
    ['0 6 * *', /has 4 fields, not 5/, /write 5 fields/],
    ['0 0 6 * * *', /has 6 fields/, /seconds field itself/],
    ['0 25 * * *', /hour 25 is outside 0-23/, /5 fields/],
    ['0 6 30 2 *', /never fires/, /February 30th/],
    ['', /write when to run/, /hourly, daily or weekly/],
  ];
  for (const [text, error, hint] of cases) {
    const p = previewCron(text, NOW);
    assert.equal(p.ok, false, text);
    if (p.ok) continue;
    assert.match(p.error, error, text);
    assert.match(p.hint ?? '', hint, text);
  }
});

test('a listed schedule reads as paused, its next run, or no further runs; parameters as name=value', () => {
  assert.equal(scheduleState({ paused: true, next: [] }), 'paused');
  assert.equal(scheduleState({ paused: false, next: ['2026-12-04T06:00:00.000Z'] }), 'next 2026-12-04 06:00 UTC (Fri)');
  assert.equal(scheduleState({ paused: false, next: [] }), 'no further runs');
  assert.equal(describeParameters({ CANDIES: 7, NAME: 'x' }), 'CANDIES=7, NAME="x"');
  assert.equal(describeParameters({}), 'no parameters');
});
