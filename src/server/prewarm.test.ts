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

test('opening a notebook runs nothing: only a notebook run through the backend before is pre-warmed, and its next Run forks from that server', async () => {
  const root = path.join(base, 'root');
  mkdirSync(root, { recursive: true });
  const notebook = (imports: string) => JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      // Each run of the imports leaves a line: how many times they ran is read from the file.
      cell('i', ['imports'], `${imports}\nwith open("imports-ran.txt", "a") as f:\n    f.write("ran\\n")`),
      cell('a', ['step:load'], 'rows = json.loads("[1, 2, 3]")'),
      cell('b', ['step:total', 'prev:load'], 'print("total", sum(rows))'),
    ],
  });
  const ran = () => { try { return readFileSync(path.join(root, 'imports-ran.txt'), 'utf8'); } catch { return ''; } };
  writeFileSync(path.join(root, 'warm.ipynb'), notebook('import json'));
  const socket = path.join(base, 's.sock');
  const server = await startServer({ root, socket, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
  const runToEnd = async () => {
    const started = await call(socket, 'POST', '/api/runs', { path: 'warm.ipynb', target: 'local' });
    assert.equal(started.status, 201, started.text);
    const { events } = await readEvents(socket, `/api/runs/${started.json.runId}/events`);
    const last = events.filter((e) => e.event === 'run').at(-1)!.data;
    assert.equal(last.state, 'succeeded', JSON.stringify(last, null, 1));
    return { runId: started.json.runId as string, starts: last.steps.map((s: { start?: string }) => s.start) };
  };
  try {
    const opened = await call(socket, 'POST', '/api/prewarm', { path: 'warm.ipynb' });
    assert.equal(opened.status, 200, opened.text);
    assert.equal(opened.json.warm, false);
    assert.match(opened.json.reason, /warm\.ipynb has not been run in this session: opening or saving a notebook never runs its code/);
    assert.equal(ran(), '', 'asking to pre-warm a notebook never run here ran nothing');

    const first = await runToEnd();
    assert.deepEqual(first.starts, ['warm', 'warm']);
    assert.equal(ran(), 'ran\n', 'the Run started the fork server');

    // Saved with new imports: now the backend may run them ahead, and the next Run forks from that server.
    writeFileSync(path.join(root, 'warm.ipynb'), notebook('import json, re'));
    const warmed = await call(socket, 'POST', '/api/prewarm', { path: 'warm.ipynb' });
    assert.equal(warmed.status, 200, warmed.text);
    assert.equal(warmed.json.warm, true, warmed.text);
    assert.equal(ran(), 'ran\nran\n', 'the new imports ran before the next run');
    const second = await runToEnd();
    assert.deepEqual(second.starts, ['warm', 'warm']);
    const log = await call(socket, 'GET', `/api/runs/${second.runId}/logs/load?format=text`);
    assert.match(log.text, new RegExp(`warm start: forked from the fork server \\(pid ${warmed.json.pid}\\)`));
    assert.equal(ran(), 'ran\nran\n', 'the run forked from it: the imports did not run again');

    const broken = await call(socket, 'POST', '/api/prewarm', { path: 'missing.ipynb' });
    assert.equal(broken.status, 404, broken.text);
  } finally {
    await server.close();
  }
});
