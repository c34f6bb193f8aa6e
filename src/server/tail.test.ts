/**
 * Following a step's log: every stored line exactly once and in order, from any starting line, whoever wrote
 * it; at once when the runtime in this process announces it; until the step ends.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RunStore } from '../runs/store.js';
import type { LogLine, RunRecord } from '../runs/types.js';
import { tailLog, watchRun, POLL_MS } from './tail.js';

function record(id: string): RunRecord {
  return {
    id, notebook: 'nb.ipynb', notebookHash: 'h', specHash: 's', runtime: 'local', parameters: {},
    state: 'running', createdAt: new Date().toISOString(),
    steps: [{ name: 'train', state: 'running', attempts: 1, outputs: [], metrics: {} }],
  };
}

const line = (text: string): LogLine => ({ time: new Date().toISOString(), stream: 'stdout', text });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect(it: AsyncIterable<LogLine>, onLine?: (l: LogLine, at: number) => void): Promise<string[]> {
  const out: string[] = [];
  for await (const l of it) {
    out.push(l.text);
    onLine?.(l, Date.now());
  }
  return out;
}

describe('tailLog', () => {
  test('lines written by another process (no events) are delivered by polling, from the line asked for', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-tail-'));
    try {
      const store = new RunStore(dir);
      await store.create(record('r1'));
      for (const t of ['a', 'b', 'c']) await store.appendLog('r1', 'train', line(t));
      const ac = new AbortController();
      const got = collect(tailLog(store, undefined, 'r1', 'train', 1, ac.signal));
      await sleep(POLL_MS * 2);
      // A torn write: half a line now, the rest later. The follower must wait for the whole line.
      const file = store.logFile('r1', 'train');
      const whole = JSON.stringify(line('d')) + '\n';
      appendFileSync(file, whole.slice(0, 10));
      await sleep(POLL_MS * 2);
      appendFileSync(file, whole.slice(10));
      await store.appendLog('r1', 'train', line('e'));
      await store.updateStep('r1', 'train', { state: 'succeeded' });
      assert.deepEqual(await got, ['b', 'c', 'd', 'e']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('with a runtime in this process, each line is delivered as soon as it is announced', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-tail-'));
    try {
      const store = new RunStore(dir);
      await store.create(record('r2'));
      const runtime = new EventEmitter();
      const sentAt = new Map<string, number>();
      const delays: number[] = [];
      const ac = new AbortController();
      const got = collect(tailLog(store, runtime, 'r2', 'train', 0, ac.signal), (l, at) => delays.push(at - sentAt.get(l.text)!));
      for (let i = 0; i < 10; i++) {
        // Spaced wider than the fallback poll would notice quickly (5 × POLL_MS).
        await sleep(POLL_MS * 2);
        const l = line(`line ${i}`);
        sentAt.set(l.text, Date.now());
        store.appendLogSync('r2', 'train', l);
        runtime.emit('log', 'r2', 'train', l);
      }
      const done = await store.updateStep('r2', 'train', { state: 'failed' });
      runtime.emit('change', done);
      assert.deepEqual(await got, Array.from({ length: 10 }, (_, i) => `line ${i}`));
      delays.sort((a, b) => a - b);
      // Without the event, a line would wait for the fallback poll: about 300 ms here.
      assert.ok(delays[delays.length - 1] < 250, `slowest line took ${delays.at(-1)} ms (all: ${delays.join(', ')})`);
      assert.equal(runtime.listenerCount('log'), 0, 'listeners are removed when the follow ends');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('aborting stops following a step that never ends', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-tail-'));
    try {
      const store = new RunStore(dir);
      await store.create(record('r3'));
      await store.appendLog('r3', 'train', line('only'));
      const runtime = new EventEmitter();
      const ac = new AbortController();
      const got = collect(tailLog(store, runtime, 'r3', 'train', 0, ac.signal));
      await sleep(POLL_MS);
      ac.abort();
      assert.deepEqual(await got, ['only']);
      assert.equal(runtime.listenerCount('change'), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('watchRun: the record now, then each change as the runtime announces it, until the run ends', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-tail-'));
    try {
      const store = new RunStore(dir);
      await store.create(record('r4'));
      const runtime = new EventEmitter();
      const seen: { state: string; step: string; at: number }[] = [];
      const ac = new AbortController();
      const done = (async () => {
        for await (const r of watchRun(store, runtime, 'r4', ac.signal)) seen.push({ state: r.state, step: r.steps[0].state, at: Date.now() });
      })();
      await sleep(POLL_MS * 2);
      const changedAt = Date.now();
      runtime.emit('change', await store.updateStep('r4', 'train', { state: 'succeeded' }));
      await sleep(POLL_MS * 2);
      runtime.emit('change', await store.update('r4', { state: 'succeeded' }));
      await done;
      assert.deepEqual(seen.map((s) => [s.state, s.step]), [['running', 'running'], ['running', 'succeeded'], ['succeeded', 'succeeded']]);
      assert.ok(seen[1].at - changedAt < 250, `the change took ${seen[1].at - changedAt} ms to arrive`);
      assert.equal(runtime.listenerCount('change'), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
