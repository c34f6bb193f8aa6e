/**
 * Partial runs through the backend, as the sidebar's "Run this step", "Run from here" and "Run without cache" ask
 * for them: `POST /api/runs` with `only`, `from`, `reuse` and `cache: false`, against real Python steps.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './index.js';
import { call, readEvents } from './testing.js';
import type { RunRecord } from '../runs/types.js';

const code = (tags: string[], source: string) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });

/** a → b → c, each printing the run it ran in. */
function chain(aValue: number): string {
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      code(['imports'], 'import os\nRUN = os.environ["CELLPIPE_RUN_ID"]'),
      code(['step:a'], `x = ${aValue}\nprint('ran a', x, 'in', RUN)`),
      code(['step:b', 'prev:a'], "y = x * 2\nprint('ran b', y, 'in', RUN)"),
      code(['step:c', 'prev:b'], "z = y + 1\nprint('ran c', z, 'in', RUN)"),
    ],
  });
}

describe('POST /api/runs: only / from / reuse / cache', () => {
  let base: string;
  let server: RunningServer;
  let socket: string;
  let nbFile: string;

  before(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-partial-'));
    const root = path.join(base, 'root');
    mkdirSync(path.join(root, 'nb'), { recursive: true });
    nbFile = path.join(root, 'nb', 'chain.ipynb');
    writeFileSync(nbFile, chain(1));
    socket = path.join(base, 's.sock');
    server = await startServer({ root, socket, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
  });
  after(async () => {
    await server.close();
    rmSync(base, { recursive: true, force: true });
  });

  async function run(body: Record<string, unknown>): Promise<{ record: RunRecord; warnings: string[] }> {
    const started = await call(socket, 'POST', '/api/runs', { path: 'nb/chain.ipynb', parameters: {}, target: 'local', ...body });
    assert.equal(started.status, 201, started.text);
    const { events } = await readEvents(socket, `/api/runs/${started.json.runId as string}/events`);
    return { record: events.filter((e) => e.event === 'run').at(-1)!.data as RunRecord, warnings: started.json.warnings as string[] };
  }
  const states = (r: RunRecord) => r.steps.map((s) => [s.name, s.state, s.reused ? `reused from ${s.cachedFrom}` : '']);
  const log = async (r: RunRecord, step: string) => (await call(socket, 'GET', `/api/runs/${r.id}/logs/${step}?format=text`)).text;

  test('only runs the step asked, from runs it and what follows; the rest is reused from the latest run, its log replayed', async () => {
    const full = (await run({})).record;
    assert.equal(full.state, 'succeeded');

    const only = await run({ only: ['b'] });
    assert.deepEqual(states(only.record), [['a', 'cached', `reused from ${full.id}`], ['b', 'succeeded', ''], ['c', 'cached', `reused from ${full.id}`]]);
    assert.deepEqual(only.warnings, []);
    assert.match(await log(only.record, 'b'), new RegExp(`ran b 2 in ${only.record.id}`));
    assert.match(await log(only.record, 'a'), new RegExp(`reused from run ${full.id}[^\\n]*\\n(.*\\n)*.*ran a 1 in ${full.id}`));

    const from = await run({ from: 'b', reuse: full.id.slice(0, 20) });
    assert.deepEqual(states(from.record), [['a', 'cached', `reused from ${full.id}`], ['b', 'succeeded', ''], ['c', 'succeeded', '']]);
  });

  test('a changed upstream cell: the reused inputs are said to be stale', async () => {
    writeFileSync(nbFile, chain(5));
    const only = await run({ only: ['c'] });
    assert.equal(only.record.state, 'succeeded');
    assert.equal(only.warnings.length, 1, JSON.stringify(only.warnings));
    assert.match(only.warnings[0], /step 'a' changed since run \S+, whose outputs of it are reused: the inputs of 'c' are stale; run from 'a'/);
    writeFileSync(nbFile, chain(1));
  });

  test('cache: false runs every step again', async () => {
    const cached = await run({});
    assert.deepEqual(cached.record.steps.map((s) => s.state), ['cached', 'cached', 'cached']);
    const fresh = await run({ cache: false });
    assert.deepEqual(fresh.record.steps.map((s) => s.state), ['succeeded', 'succeeded', 'succeeded']);
  });

  test('wrong requests are refused with what to do', async () => {
    const post = (body: Record<string, unknown>) => call(socket, 'POST', '/api/runs', { path: 'nb/chain.ipynb', parameters: {}, target: 'local', ...body });
    const unknown = await post({ only: ['b', 'nope'] });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error.message, /no step 'nope' in this notebook; its steps are: a, b, c/);
    assert.equal((await post({ only: ['b'], from: 'a' })).status, 400);
    assert.equal((await post({ only: 'b' })).status, 400);
    assert.match((await post({ reuse: 'latest' })).json.error.message, /'reuse' goes with 'only' or 'from'/);
    const noRun = await post({ only: ['c'], reuse: 'no-such-run' });
    assert.equal(noRun.status, 409);
    assert.match(noRun.json.error.message, /no run 'no-such-run'/);
  });
});

describe('GET /api/runs/:id/store', () => {
  test('names the run store folder a kernel loads the run\'s values from', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-store-'));
    const root = path.join(base, 'root');
    mkdirSync(path.join(root, 'nb'), { recursive: true });
    writeFileSync(path.join(root, 'nb', 'chain.ipynb'), chain(1));
    const socket = path.join(base, 's.sock');
    const server = await startServer({ root, socket, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
    try {
      const started = await call(socket, 'POST', '/api/runs', { path: 'nb/chain.ipynb', parameters: {}, target: 'local' });
      const runId = started.json.runId as string;
      await readEvents(socket, `/api/runs/${runId}/events`);
      const where = await call(socket, 'GET', `/api/runs/${runId}/store?notebook=nb/chain.ipynb`);
      assert.equal(where.status, 200, where.text);
      assert.deepEqual(where.json, { run: runId, store: path.join(root, 'nb', '.cellpipe') });
    } finally {
      await server.close();
      rmSync(base, { recursive: true, force: true });
    }
  });
});
