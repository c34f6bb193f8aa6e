/**
 * A run's cell outputs through the HTTP API, with the real local runtime: what each cell showed, per step and for
 * the whole run; a cached rerun's steps answer with the outputs of the run that executed them.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './index.js';
import { call, readEvents } from './testing.js';
import { FIXTURES, PYTHON } from '../runs/testing.js';

describe('GET /api/runs/:id/outputs (real Python steps)', () => {
  let base: string;
  let server: RunningServer;
  let socket: string;

  before(async () => {
    // The fixture draws with pandas and matplotlib: the steps run on the project's Python, which has them.
    process.env.CELLPIPE_PYTHON ??= PYTHON;
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-outputs-'));
    const root = path.join(base, 'root');
    mkdirSync(path.join(root, 'nb'), { recursive: true });
    copyFileSync(path.join(FIXTURES, 'outputs.ipynb'), path.join(root, 'nb', 'outputs.ipynb'));
    socket = path.join(base, 's.sock');
    server = await startServer({ root, socket, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
  });
  after(async () => {
    await server.close();
    rmSync(base, { recursive: true, force: true });
  });

  async function runToEnd(): Promise<string> {
    const started = await call(socket, 'POST', '/api/runs', { path: 'nb/outputs.ipynb', parameters: { ROWS: 4 }, target: 'local' });
    assert.equal(started.status, 201, started.text);
    const runId = started.json.runId as string;
    const { events } = await readEvents(socket, `/api/runs/${runId}/events`);
    const last = events.filter((e) => e.event === 'run').at(-1)!.data;
    assert.equal(last.state, 'succeeded', JSON.stringify(last.steps));
    return runId;
  }

  test('each step\'s cells with their outputs, then the same from the cached rerun', async () => {
    const runId = await runToEnd();
    const step = await call(socket, 'GET', `/api/runs/${runId}/outputs/table`);
    assert.equal(step.status, 200, step.text);
    assert.equal(step.json.recorded, true);
    assert.equal(step.json.fromRun, runId);
    // Cell 4 of the notebook (index 3) is the table step's own cell; index 1 is the imports cell it runs first.
    assert.deepEqual(Object.keys(step.json.cells).sort(), ['1', '3']);
    const table = step.json.cells['3'];
    assert.equal(table.id, 'c3');
    // The code each cell ran, from the step's program: the page tells an edited cell by it.
    const nb = JSON.parse(readFileSync(path.join(base, 'root', 'nb', 'outputs.ipynb'), 'utf8')) as { cells: { source: string | string[] }[] };
    const src = (i: number) => [nb.cells[i].source].flat().join('');
    assert.equal(step.json.sources['3'], src(3));
    assert.equal(step.json.sources['1'], src(1));
    assert.deepEqual(table.outputs.map((o: { output_type: string }) => o.output_type), ['stream', 'execute_result']);
    assert.equal(table.outputs[0].text, 'rows: 4\n');
    assert.match(table.outputs[1].data['text/plain'], /n\s+square\n0\s+0\s+0\n1\s+1\s+1\n2\s+2\s+4\n3\s+3\s+9$/);

    const all = await call(socket, 'GET', `/api/runs/${runId}/outputs`);
    assert.equal(all.status, 200);
    assert.deepEqual(Object.keys(all.json.steps).sort(), ['plot', 'report', 'table']);
    assert.deepEqual(all.json.steps.table.cells, step.json.cells);
    assert.equal(all.json.steps.report.cells['5'].outputs.at(-1).data['text/plain'], '14');
    assert.deepEqual(Object.keys(all.json.steps.plot.cells['4'].outputs[0].data).sort(), ['image/png', 'text/plain']);

    const rerun = await runToEnd();
    const cached = await call(socket, 'GET', `/api/runs/${rerun}/outputs/report`);
    assert.equal(cached.json.fromRun, runId);
    assert.deepEqual(cached.json.cells, all.json.steps.report.cells);

    const unknown = await call(socket, 'GET', `/api/runs/${runId}/outputs/nope`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error.message, /has no step 'nope'/);
    assert.match(unknown.json.error.hint, /plot/);
  });

  test('POST /api/runs/:id/export writes the executed notebook beside the notebook, valid for nbformat, and leaves the notebook alone', async () => {
    const runId = await runToEnd();
    const nbFile = path.join(base, 'root', 'nb', 'outputs.ipynb');
    const before = readFileSync(nbFile, 'utf8');
    const out = await call(socket, 'POST', `/api/runs/${runId}/export?notebook=nb/outputs.ipynb`);
    assert.equal(out.status, 200, out.text);
    assert.equal(out.json.path, `nb/outputs.${runId}.ipynb`);
    assert.ok(out.json.filled >= 3);
    const written = path.join(base, 'root', out.json.path);
    const check = spawnSync(PYTHON, ['-c', 'import nbformat,sys; nbformat.validate(nbformat.read(sys.argv[1], 4))', written], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    const executed = JSON.parse(readFileSync(written, 'utf8')) as { cells: { outputs?: { output_type: string }[] }[] };
    assert.deepEqual(executed.cells[3].outputs?.map((o) => o.output_type), ['stream', 'execute_result']);
    assert.equal(readFileSync(nbFile, 'utf8'), before);

    const missing = await call(socket, 'POST', `/api/runs/${runId}/export`);
    assert.equal(missing.status, 400);
  });
});
