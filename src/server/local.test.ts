/**
 * The backend with the real local runtime: a real notebook from the corpus runs as real Python processes,
 * started, watched and read through the HTTP API exactly as the JupyterLab page does it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './index.js';
import { call, readEvents } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const corpus = path.resolve(repo, '../shared/corpus/kale');

/** A notebook whose one step prints a numbered line every 50 ms for a minute: something to cancel. */
function slowNotebook(): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { cell_type: 'code', id: 'i', metadata: { tags: ['imports'] }, source: 'import time', outputs: [], execution_count: null },
      {
        cell_type: 'code', id: 's', metadata: { tags: ['step:slow'] }, outputs: [], execution_count: null,
        source: 'for i in range(1200):\n    print("tick", i, flush=True)\n    time.sleep(0.05)',
      },
    ],
  });
}

function processesMatching(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}

describe('backend + local runtime (real Python steps)', () => {
  let base: string;
  let root: string;
  let server: RunningServer;
  let socket: string;

  before(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-local-'));
    root = path.join(base, 'root');
    mkdirSync(path.join(root, 'nb'), { recursive: true });
    copyFileSync(path.join(corpus, 'candies_sharing.ipynb'), path.join(root, 'nb', 'candies_sharing.ipynb'));
    writeFileSync(path.join(root, 'nb', 'slow.ipynb'), slowNotebook());
    socket = path.join(base, 's.sock');
    server = await startServer({ root, socket, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
  });
  after(async () => {
    await server.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('candies_sharing runs to success; status and logs stream through the API', async () => {
    const started = await call(socket, 'POST', '/api/runs', { path: 'nb/candies_sharing.ipynb', parameters: { CANDIES: 12 }, target: 'local' });
    assert.equal(started.status, 201, started.text);
    const runId = started.json.runId as string;

    const { events } = await readEvents(socket, `/api/runs/${runId}/events`);
    const last = events.filter((e) => e.event === 'run').at(-1)!.data;
    assert.equal(last.state, 'succeeded', JSON.stringify(last, null, 1));
    assert.deepEqual(last.parameters, { CANDIES: 12 });
    assert.deepEqual(last.steps.map((s: { name: string; state: string }) => [s.name, s.state]), [
      ['sack', 'succeeded'], ['kid1', 'succeeded'], ['kid2', 'succeeded'], ['kid3', 'succeeded'],
    ]);

    const sack = await call(socket, 'GET', `/api/runs/${runId}/logs/sack?format=text`);
    assert.match(sack.text, /put in a bag 12 candies/);
    const kid1 = await readEvents(socket, `/api/runs/${runId}/logs/kid1?follow=1`);
    const lines = kid1.events.filter((e) => e.event === 'line');
    assert.ok(lines.some((e) => /candies/.test(e.data.text)), JSON.stringify(lines));
    assert.deepEqual(kid1.events.at(-1)!.data, { lines: lines.length, state: 'succeeded' });

    const list = await call(socket, 'GET', '/api/runs?notebook=nb/candies_sharing.ipynb');
    assert.equal(list.json.runs[0].id, runId);
  });

  test('JupyterLab\'s settings shape local runs: runs directory, steps at once, default base image — and outlive a restart', async () => {
    const twoBranches = JSON.stringify({
      nbformat: 4, nbformat_minor: 5, metadata: {},
      cells: ['left', 'right'].map((name) => ({
        cell_type: 'code', id: name, metadata: { tags: [`step:${name}`] }, outputs: [], execution_count: null,
        source: `import time\ntime.sleep(0.4)\n${name} = 1`,
      })),
    });
    writeFileSync(path.join(root, 'nb', 'branches.ipynb'), twoBranches);
    const put = await call(socket, 'PUT', '/api/settings', { runsDir: 'all-runs', concurrency: 1, defaultBaseImage: 'registry.example.com/team/py:3.12', profiles: {} });
    assert.equal(put.status, 200, put.text);
    // The answer is the target list under the new settings, the container target included (as GET /api/profiles has it).
    assert.deepEqual(put.json.containers, (await call(socket, 'GET', '/api/profiles')).json.containers);
    assert.ok(put.json.containers, 'the container target is in the answer');

    const compiled = await call(socket, 'POST', '/api/compile', { path: 'nb/branches.ipynb' });
    assert.equal(compiled.json.graph.pipeline.baseImage, 'registry.example.com/team/py:3.12');
    const started = await call(socket, 'POST', '/api/runs', { path: 'nb/branches.ipynb', target: 'local', cache: false });
    assert.equal(started.status, 201, started.text);
    const runId = started.json.runId as string;
    const { events } = await readEvents(socket, `/api/runs/${runId}/events`);
    const last = events.filter((e) => e.event === 'run').at(-1)!.data as { state: string; steps: { startedAt: string; finishedAt: string }[] };
    assert.equal(last.state, 'succeeded', JSON.stringify(last));
    const [a, b] = last.steps.slice().sort((x, y) => (x.startedAt < y.startedAt ? -1 : 1));
    assert.ok(a.finishedAt <= b.startedAt, `concurrency 1: the branches ran one after the other ${JSON.stringify(last.steps)}`);
    assert.ok(existsSync(path.join(root, 'all-runs', 'runs', runId)), 'the run is kept in the runs directory of the settings');
    assert.ok(!existsSync(path.join(root, 'nb', '.cellpipe', 'runs', runId)), 'and not next to the notebook');

    // A restarted backend knows the settings before any page sends them.
    const socket2 = path.join(base, 's2.sock');
    const other = await startServer({ root, socket: socket2, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
    try {
      const kept = await call(socket2, 'GET', '/api/settings');
      assert.deepEqual(kept.json, { profiles: {}, runsDir: 'all-runs', concurrency: 1, defaultBaseImage: 'registry.example.com/team/py:3.12' });
      const listed = await call(socket2, 'GET', '/api/runs?notebook=nb/branches.ipynb');
      assert.equal(listed.json.runs[0].id, runId);
    } finally {
      await other.close();
    }
    const bad = await call(socket, 'PUT', '/api/settings', { concurrency: 0 });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /'concurrency' must be a whole number/);
    assert.equal((await call(socket, 'PUT', '/api/settings', {})).status, 200);
  });

  test('cancelling a running notebook stops its step process and ends the followed log', async () => {
    const started = await call(socket, 'POST', '/api/runs', { path: 'nb/slow.ipynb', cache: false });
    assert.equal(started.status, 201, started.text);
    const runId = started.json.runId as string;
    let cancel: Promise<Awaited<ReturnType<typeof call>>> | undefined;
    const followed = await readEvents(socket, `/api/runs/${runId}/logs/slow?follow=1`, {
      onEvent: (e) => {
        if (e.event === 'line' && e.data.text.startsWith('tick 3')) cancel ??= call(socket, 'POST', `/api/runs/${runId}/cancel`);
      },
    });
    const reply = await cancel!;
    assert.equal(reply.status, 202, reply.text);
    const ticks = followed.events.filter((e) => e.event === 'line' && /^tick \d+/.test(e.data.text));
    assert.deepEqual(ticks.slice(0, 4).map((e) => e.data.text), ['tick 0', 'tick 1', 'tick 2', 'tick 3']);
    assert.ok(ticks.length < 200, 'the step stopped long before it would have finished');
    assert.equal(followed.events.at(-1)!.event, 'end');
    const rec = await call(socket, 'GET', `/api/runs/${runId}`);
    assert.equal(rec.json.state, 'cancelled');
    assert.deepEqual(processesMatching(runId), [], 'no step process of the run is left');
  });
});
