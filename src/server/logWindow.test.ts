/**
 * Windows of a step's log, read from a real run store: any range of lines, the tail, long lines cut (a 5 MB line
 * too, read without parsing it whole), one line's whole text in slices, a log that grows between two looks, and
 * a damaged line keeping the numbering.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RunStore } from '../runs/store.js';
import { readLogLine, readLogWindow, STRIDE } from './logWindow.js';
import { numberedLines, recordRunWithLogs } from './testing.js';

describe('log windows', () => {
  let dir: string;
  let store: RunStore;
  let runId: string;
  const wide = 'é"\\\n'.repeat(5 * 1024 * 1024 / 4); // 5 M characters that JSON escapes: 10 MB stored
  const count = 3 * STRIDE + 17;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-window-'));
    store = new RunStore(dir);
    runId = await recordRunWithLogs(store, 'nb.ipynb', { many: numberedLines(count, 10), wide: ['before', wide, 'after'], empty: [] });
  });
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('lines from any index, across the index marks, numbered from 0', async () => {
    const file = store.logFile(runId, 'many');
    for (const from of [0, 5, STRIDE - 2, 2 * STRIDE, count - 3]) {
      const w = await readLogWindow(file, { from, limit: 4, cut: 100 });
      assert.equal(w.total, count);
      assert.equal(w.from, from);
      const want = Array.from({ length: Math.min(4, count - from) }, (_, i) => from + i);
      assert.deepEqual(w.lines.map((l) => l.n), want);
      assert.deepEqual(w.lines.map((l) => l.text), want.map((n) => `line ${n + 1} xxxxxxxxxx`));
      assert.equal(w.lines[0].stream, 'stdout');
    }
    assert.deepEqual(await readLogWindow(file, { from: count + 10, limit: 4, cut: 100 }), { from: count, lines: [], total: count });
  });

  test('the tail: the last lines, and all of a shorter log', async () => {
    const w = await readLogWindow(store.logFile(runId, 'many'), { tail: 3, limit: 1000, cut: 100 });
    assert.deepEqual(w.lines.map((l) => l.n), [count - 3, count - 2, count - 1]);
    assert.equal(w.from, count - 3);
    const all = await readLogWindow(store.logFile(runId, 'wide'), { tail: 50, limit: 1000, cut: 100 });
    assert.deepEqual(all.lines.map((l) => l.n), [0, 1, 2]);
    assert.deepEqual(await readLogWindow(store.logFile(runId, 'empty'), { tail: 50, limit: 1000, cut: 100 }), { from: 0, lines: [], total: 0 });
    assert.deepEqual(await readLogWindow(store.logFile(runId, 'none'), { tail: 50, limit: 1000, cut: 100 }), { from: 0, lines: [], total: 0 });
  });

  test('a long line arrives cut, with its stored size; the lines around it whole', async () => {
    for (const cut of [100, 10_000]) {
      const w = await readLogWindow(store.logFile(runId, 'wide'), { from: 0, limit: 10, cut });
      assert.deepEqual(w.lines.map((l) => l.text.length), [6, cut, 5]);
      assert.equal(w.lines[1].text, wide.slice(0, cut));
      assert.equal(w.lines[1].stream, 'stdout');
      assert.ok(w.lines[1].cut! > 10 * 1024 * 1024, 'the size of the whole stored line');
      assert.equal(w.lines[0].cut, undefined);
    }
    // Cut at a character that was not escaped in the file (`é`, 2 bytes) and at one that was (`"`, `\\`, `\n`).
    for (const cut of [101, 102, 103]) {
      const w = await readLogWindow(store.logFile(runId, 'wide'), { from: 1, limit: 1, cut });
      assert.equal(w.lines[0].text, wide.slice(0, cut));
    }
  });

  test("one line's whole text, in slices", async () => {
    const file = store.logFile(runId, 'wide');
    const first = await readLogLine(file, 1, 0, 1_000_000);
    assert.equal(first!.length, wide.length);
    assert.equal(first!.text, wide.slice(0, 1_000_000));
    const last = await readLogLine(file, 1, wide.length - 10, 1_000_000);
    assert.equal(last!.text, wide.slice(-10));
    assert.equal((await readLogLine(file, 2, 0, 100))!.text, 'after');
    assert.equal(await readLogLine(file, 3, 0, 100), undefined);
  });

  test('a log that grew since the last look is read on from where the index stopped; a torn line keeps the numbering', async () => {
    const more = await recordRunWithLogs(store, 'nb.ipynb', { grow: numberedLines(STRIDE + 1, 1) });
    const file = store.logFile(more, 'grow');
    assert.equal((await readLogWindow(file, { tail: 1, limit: 1000, cut: 100 })).total, STRIDE + 1);
    appendFileSync(file, '{"time":"x","stream":"stdo\n');
    store.appendLogSync(more, 'grow', { time: 't', stream: 'stderr', text: 'after the tear' });
    appendFileSync(file, '{"time":"x","stream":"stdout","te'); // being written: not a line yet
    const w = await readLogWindow(file, { tail: 3, limit: 1000, cut: 100 });
    assert.equal(w.total, STRIDE + 3);
    assert.deepEqual(w.lines.map((l) => [l.n, l.stream, l.text.startsWith('[cellpipe] this log line is damaged') ? 'damaged' : l.text]), [
      [STRIDE, 'stdout', `line ${STRIDE + 1} x`],
      [STRIDE + 1, 'system', 'damaged'],
      [STRIDE + 2, 'stderr', 'after the tear'],
    ]);
  });
});
