import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatProgress, formatRunsTable, formatStatus } from './format.js';
import { pendingStep } from './store.js';
import type { RunRecord } from './types.js';

function rec(extra: Partial<RunRecord> = {}): RunRecord {
  return {
    id: '20261128-040000-abcdef',
    notebook: 'nb.ipynb',
    notebookHash: 'h',
    specHash: 's',
    runtime: 'local',
    parameters: { N: 3, NAME: 'x' },
    state: 'running',
    createdAt: '2026-11-28T04:00:00.000Z',
    startedAt: '2026-11-28T04:00:00.000Z',
    steps: [
      { ...pendingStep('load'), state: 'cached', cachedFrom: '20261127-000000-000000', outputs: [{ name: 'df', bytes: 2048 }] },
      { ...pendingStep('train'), state: 'running', attempts: 1, startedAt: '2026-11-28T04:00:01.000Z' },
      { ...pendingStep('eval'), state: 'failed', attempts: 2, startedAt: '2026-11-28T04:00:01.000Z', finishedAt: '2026-11-28T04:00:03.500Z',
        error: { message: "KeyError: 'label'", type: 'KeyError', cell: 7, line: 2, cellFirstLine: 'y = df["label"]' } },
      pendingStep('report'),
    ],
    ...extra,
  };
}

test('durations read like a person writes them', () => {
  assert.equal(formatDuration(1234), '1.2s');
  assert.equal(formatDuration(184_000), '3m04s');
  assert.equal(formatDuration(3_720_000), '1h02m');
  assert.equal(formatDuration(-1), '-');
});

test('the progress line counts done (cached included), running and failed steps', () => {
  const now = Date.parse('2026-11-28T04:00:12.300Z');
  assert.equal(formatProgress(rec(), now), '1/4 done · 1 cached · running: train · 1 failed · 12.3s');
});

test('the runs table shows an interrupted run as such, and where each run ran', () => {
  const table = formatRunsTable([
    rec({ state: 'failed', reason: 'interrupted', finishedAt: '2026-11-28T04:00:05.000Z' }),
    rec({ id: '20261128-050000-fedcba', runtime: 'kubeflow', profile: 'prod', state: 'succeeded', finishedAt: '2026-11-28T04:00:05.000Z' }),
  ]);
  const [head, row, kf] = table.split('\n');
  assert.match(head, /^RUN\s+STATE\s+STEPS\s+WHERE\s+CREATED\s+DURATION\s+NOTEBOOK$/);
  assert.match(row, /^20261128-040000-abcdef\s+interrupted\s+1\/4 \(1 failed\)\s+local\s+2026-11-28 04:00:00\s+5\.0s\s+nb\.ipynb$/);
  assert.match(kf, /^20261128-050000-fedcba\s+succeeded\s+.*\s+kubeflow:prod\s+2026-11-28 04:00:00/);
  assert.equal(formatRunsTable([]), 'no runs yet');
});

test("a run's note is the runs table's last column (only when some run has one) and a line of its status", () => {
  const table = formatRunsTable([rec({ note: 'baseline, C=1.0' }), rec({ id: '20261128-050000-fedcba' })]);
  const [head, noted, plain] = table.split('\n');
  assert.match(head, /\s+NOTEBOOK\s+NOTE$/);
  assert.match(noted, /^20261128-040000-abcdef\s.*\snb\.ipynb\s+baseline, C=1\.0$/);
  assert.match(plain, /\snb\.ipynb$/);
  assert.match(formatStatus(rec({ note: 'baseline' }), Date.parse('2026-11-28T04:00:10.000Z')), /\nnote {6}baseline\n/);
});

test('status names the failing cell as JupyterLab numbers it (record cell 7 is the 8th cell) and the line, without repeating the exception type', () => {
  const text = formatStatus(rec(), Date.parse('2026-11-28T04:00:10.000Z'));
  assert.match(text, /params\s+N=3 NAME="x"/);
  assert.match(text, /load\s+cached \(from 20261127-000000-000000\)\s+-\s+0\s+df 2\.0K/);
  assert.match(text, /eval\s+failed\s+2\.5s\s+2/);
  assert.match(text, /step eval failed at cell 8, line 2 \(y = df\["label"\]\):\n  KeyError: 'label'$/);
});

test('status shows a float parameter as the notebook writes it (14.0, not 14) when the record keeps its type', () => {
  const typed = formatStatus(rec({ parameters: { MIN_TEMPERATURE: 14, WINDOW: 7, NAME: 'a b' }, parameterTypes: { MIN_TEMPERATURE: 'float', WINDOW: 'int', NAME: 'str' } }));
  assert.match(typed, /params\s+MIN_TEMPERATURE=14\.0 WINDOW=7 NAME="a b"\n/);
  // A record made before types were kept: the JSON value, as before.
  assert.match(formatStatus(rec({ parameters: { MIN_TEMPERATURE: 14 } })), /params\s+MIN_TEMPERATURE=14\n/);
});
