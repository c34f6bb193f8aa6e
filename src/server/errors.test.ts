/**
 * What a user (or their disk) causes is answered with a 4xx and a sentence a person understands, never a 500
 * "bug in cellpipe": names longer than a file name can be, values nested without end, a run store that cannot be
 * written, a step's outputs file deleted by hand.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RunStore } from '../runs/store.js';
import { startServer, type RunningServer } from './index.js';
import { call, ScriptedRuntime } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const candies = readFileSync(path.resolve(repo, '../shared/corpus/kale/candies_sharing.ipynb'));

describe('errors a person can act on', () => {
  let base: string;
  let root: string;
  let server: RunningServer;
  let socket: string;
  const runtimes: ScriptedRuntime[] = [];
  const longName = `${'n'.repeat(240)}.ipynb`;

  before(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-errors-'));
    root = path.join(base, 'root');
    mkdirSync(path.join(root, 'nb'), { recursive: true });
    writeFileSync(path.join(root, 'nb', 'candies.ipynb'), candies);
    writeFileSync(path.join(root, 'nb', longName), candies);
    writeFileSync(path.join(root, 'a-file'), 'not a folder');
    symlinkSync('/nonexistent/cellpipe-runs', path.join(root, 'gone'));
    socket = path.join(base, 's.sock');
    server = await startServer({
      root,
      socket,
      backend: {
        kubeflow: { loadProfiles: async () => new Map(), stateFile: path.join(base, 'state', 'kubeflow-runs.json') },
        localBackend: (dir) => {
          const store = new RunStore(dir);
          const runtime = new ScriptedRuntime(store);
          runtimes.push(runtime);
          return { store, runtime };
        },
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(base, { recursive: true, force: true });
  });

  /** A 4xx whose message matches, and no "bug in cellpipe". */
  function clear(r: { status: number; text: string; json: any }, status: number, message: RegExp): void {
    assert.equal(r.status, status, r.text.slice(0, 400));
    assert.match(r.json.error.message, message);
    assert.doesNotMatch(r.text, /bug in cellpipe/);
  }

  /** A finished scripted run of nb/NAME whose steps recorded cell outputs (files written as the step runtime does). */
  async function runWithOutputs(name: string): Promise<{ runId: string; store: RunStore }> {
    const r = await call(socket, 'POST', '/api/runs', { path: `nb/${name}` });
    assert.equal(r.status, 201, r.text);
    const runId = r.json.runId as string;
    for (const rt of runtimes) await rt.finished(runId);
    const store = new RunStore(path.join(root, 'nb', '.cellpipe'));
    for (const step of r.json.run.steps.map((s: { name: string }) => s.name)) {
      const file = path.join(store.stepDir(runId, step), 'cell-outputs.json');
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify({ format: 'cellpipe.cell-outputs/v1', cells: { 1: { id: 'x', executionCount: 1, outputs: [] } } }));
      await store.updateStep(runId, step, { cellOutputs: path.relative(store.dir, file) });
    }
    return { runId, store };
  }

  test('a notebook path with a name over 255 bytes is a 400, not a 500', async () => {
    const r = await call(socket, 'POST', '/api/compile', { path: `nb/${'x'.repeat(300)}.ipynb` });
    clear(r, 400, /^notebook path 'nb\/x{57}…' is too long: a name in it has 306 bytes, more than a file name can have \(255\)$/);
  });

  test('a 5000-character run id is no run (404), not a 500', async () => {
    const r = await call(socket, 'GET', `/api/runs/${'a'.repeat(5000)}?notebook=nb/candies.ipynb`);
    clear(r, 404, /not found for notebook 'nb\/candies\.ipynb'/);
    const logs = await call(socket, 'GET', `/api/runs/${'a'.repeat(5000)}/logs/sack`);
    clear(logs, 404, /not found/);
  });

  test('exporting a notebook whose name leaves no room for the run id is a 400 saying how long a name may be', async () => {
    const { runId } = await runWithOutputs(longName);
    const r = await call(socket, 'POST', `/api/runs/${runId}/export?notebook=${encodeURIComponent(`nb/${longName}`)}`);
    clear(r, 400, /^cannot export run .*: the executed notebook's name would be (27\d) bytes .*more than a file name can have \(255\)$/);
    assert.match(r.json.error.hint, /Rename the notebook to a shorter name \(at most \d+ bytes\)/);
    const room = Number(/at most (\d+) bytes/.exec(r.json.error.hint)![1]);
    assert.equal(room + Buffer.byteLength(`.${runId}.ipynb`), 255 - 16, 'the room left is what the run id and the temporary suffix leave');
  });

  test('a parameter value nested 100,000 levels deep is a 400 naming the field, not a stack overflow', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const r = await call(socket, 'POST', '/api/runs', `{"path": "nb/candies.ipynb", "parameters": {"CANDIES": ${deep}}}`);
    clear(r, 400, /^field 'parameters' of the request is nested more than 100 levels deep/);
    const settings = await call(socket, 'PUT', '/api/settings', `{"profiles": {"p": ${deep}}}`);
    clear(settings, 400, /^field 'profiles' of the request is nested more than 100 levels deep/);
  });

  test('a run store that cannot be written (a file or a dangling link in its path) is a 409 naming it and what to do', async () => {
    try {
      assert.equal((await call(socket, 'PUT', '/api/settings', { runsDir: 'a-file/runs' })).status, 200);
      const notDir = await call(socket, 'POST', '/api/runs', { path: 'nb/candies.ipynb' });
      clear(notDir, 409, new RegExp(`^cannot write the run store ${path.join(root, 'a-file', 'runs')}: a part of its path is a file, not a folder`));
      assert.match(notDir.json.error.hint, /Make .* a folder this user can write, or keep runs on another disk/);
      // Listing a store that cannot exist is an empty list, not an error.
      assert.deepEqual((await call(socket, 'GET', '/api/runs?notebook=nb/candies.ipynb')).json, { runs: [], damaged: [], partOf: [] });

      assert.equal((await call(socket, 'PUT', '/api/settings', { runsDir: 'gone/runs' })).status, 200);
      const noEnt = await call(socket, 'POST', '/api/runs', { path: 'nb/candies.ipynb' });
      clear(noEnt, 409, /^cannot write the run store .*gone\/runs: a folder on its path is missing/);
    } finally {
      await call(socket, 'PUT', '/api/settings', { runsDir: '' });
    }
  });

  test("GET /outputs with one step's outputs file deleted shows the others and says which is gone", async () => {
    const { runId, store } = await runWithOutputs('candies.ipynb');
    rmSync(path.join(store.stepDir(runId, 'kid2'), 'cell-outputs.json'));
    const all = await call(socket, 'GET', `/api/runs/${runId}/outputs?notebook=nb/candies.ipynb`);
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(Object.keys(all.json.steps), ['sack', 'kid1', 'kid3']);
    assert.match(all.json.unreadable.kid2, /^the cell outputs of step 'kid2' \(run .*\) are gone: .*cell-outputs\.json was deleted$/);
    const one = await call(socket, 'GET', `/api/runs/${runId}/outputs/kid2?notebook=nb/candies.ipynb`);
    clear(one, 410, /are gone/);
  });
});
