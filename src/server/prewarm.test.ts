/**
 * Pre-warming through the backend (what the page asks for when a notebook opens or is saved): the saved
 * notebook's imports run once in a fork server before any run, and the first local Run then forks from it.
 * Real Python processes, through the HTTP API as the page calls it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from './index.js';
import { call, readEvents } from './testing.js';
import { WarmStarts } from '../runtimes/local/warm/pool.js';

const cell = (id: string, tags: string[], source: string) => ({ cell_type: 'code', id, metadata: { tags }, source, outputs: [], execution_count: null });

const base = mkdtempSync(path.join(tmpdir(), 'cellpipe-prewarm-'));
after(() => {
  WarmStarts.shared().stopAll();
  rmSync(base, { recursive: true, force: true });
});

test('a prewarmed notebook\'s first Run forks from the server that already ran its imports, once', async () => {
  const root = path.join(base, 'root');
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, 'warm.ipynb'), JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      // Each run of the imports leaves a line: how many times they ran is read from the file.
      cell('i', ['imports'], 'import json\nwith open("imports-ran.txt", "a") as f:\n    f.write("ran\\n")'),
      cell('a', ['step:load'], 'rows = json.loads("[1, 2, 3]")'),
      cell('b', ['step:total', 'prev:load'], 'print("total", sum(rows))'),
    ],
  }));
  const socket = path.join(base, 's.sock');
  const server = await startServer({ root, socket, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
  try {
    const warmed = await call(socket, 'POST', '/api/prewarm', { path: 'warm.ipynb' });
    assert.equal(warmed.status, 200, warmed.text);
    assert.equal(warmed.json.warm, true, warmed.text);
    assert.equal(readFileSync(path.join(root, 'imports-ran.txt'), 'utf8'), 'ran\n', 'the imports ran before any run');

    const started = await call(socket, 'POST', '/api/runs', { path: 'warm.ipynb', target: 'local' });
    assert.equal(started.status, 201, started.text);
    const { events } = await readEvents(socket, `/api/runs/${started.json.runId}/events`);
    const last = events.filter((e) => e.event === 'run').at(-1)!.data;
    assert.equal(last.state, 'succeeded', JSON.stringify(last, null, 1));
    assert.deepEqual(last.steps.map((s: { start?: string }) => s.start), ['warm', 'warm']);
    const log = await call(socket, 'GET', `/api/runs/${started.json.runId}/logs/load?format=text`);
    assert.match(log.text, new RegExp(`warm start: forked from the fork server \\(pid ${warmed.json.pid}\\)`));
    assert.equal(readFileSync(path.join(root, 'imports-ran.txt'), 'utf8'), 'ran\n', 'the run forked from it: the imports did not run again');

    const broken = await call(socket, 'POST', '/api/prewarm', { path: 'missing.ipynb' });
    assert.equal(broken.status, 404, broken.text);
  } finally {
    await server.close();
  }
});
