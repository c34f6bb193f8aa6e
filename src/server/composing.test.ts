/**
 * A run of a composing notebook (examples/composing, Kale 2.3's `notebook:` cells) through the backend, as the page
 * starts it, and what a referenced notebook opened on its own asks for: the run is listed for it as part of the
 * composing notebook's run (with the units it ran as), and its steps' logs and outputs are read from that run.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './index.js';
import { call, readEvents } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
let base: string;
let server: RunningServer;
let socket: string;

before(async () => {
  base = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-composing-'));
  cpSync(path.join(repo, 'examples/composing'), path.join(base, 'root', 'composing'), { recursive: true });
  socket = path.join(base, 's.sock');
  server = await startServer({ root: path.join(base, 'root'), socket, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
});
after(async () => {
  await server.close();
  rmSync(base, { recursive: true, force: true });
});

test('a referenced notebook lists the composing notebook\'s run as one it was part of, and reads its steps\' logs and outputs from it', async () => {
  const started = await call(socket, 'POST', '/api/runs', { path: 'composing/pipeline.ipynb', target: 'local' });
  assert.equal(started.status, 201, started.text);
  const runId = started.json.runId as string;
  const { events } = await readEvents(socket, `/api/runs/${runId}/events`);
  const last = events.filter((e) => e.event === 'run').at(-1)!.data;
  assert.equal(last.state, 'succeeded', JSON.stringify(last, null, 1));
  const smooth = last.steps.find((s: { name: string }) => s.name === 'features-smooth');
  assert.deepEqual(smooth.unit, { name: 'features', notebook: 'features.ipynb', step: 'smooth' }, 'the step record says which notebook\'s step it is');

  const own = await call(socket, 'GET', '/api/runs?notebook=composing/pipeline.ipynb');
  assert.deepEqual([own.json.runs.map((r: { id: string }) => r.id), own.json.partOf], [[runId], []]);
  for (const [notebook, unit] of [['features', 'features'], ['labels', 'labels']]) {
    const list = await call(socket, 'GET', `/api/runs?notebook=composing/${notebook}.ipynb`);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.runs, [], `${notebook}.ipynb has no run of its own`);
    assert.deepEqual(list.json.partOf.map((p: { run: { id: string }; units: string[] }) => [p.run.id, p.units]), [[runId, [unit]]]);
  }
  // What features.ipynb shows under its smooth cell (c4): the step's log and its recorded outputs, by that cell's id.
  const log = await call(socket, 'GET', `/api/runs/${runId}/logs/features-smooth?format=text&notebook=composing/features.ipynb`);
  assert.match(log.text, /smoothed \[12\.0, 13\.75/);
  const outputs = await call(socket, 'GET', `/api/runs/${runId}/outputs/features-smooth?notebook=composing/features.ipynb`);
  assert.equal(outputs.status, 200, outputs.text);
  const cell = Object.values(outputs.json.cells as Record<string, { id?: string; outputs: { text?: string }[] }>).find((c) => c.id === 'c4');
  assert.match(JSON.stringify(cell?.outputs), /smoothed \[12\.0, 13\.75/);
});
