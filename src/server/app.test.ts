/**
 * The backend API, spoken over real HTTP on a real Unix socket: compile a notebook on disk, start a run,
 * follow its status and logs as Server-Sent Events, list, cancel — and refuse every path outside the root.
 * Runs are executed by a scripted runtime writing into a real run store (the local runtime has its own tests;
 * `local.test.ts` runs real notebooks through this API).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RunStore } from '../runs/store.js';
import { startServer, type RunningServer } from './index.js';
import { call, readEvents, ScriptedRuntime, type StepScript } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const corpus = path.resolve(repo, '../shared/corpus/kale');
const version = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version as string;

/** A Jupyter-like root: the candies notebook in a sub-folder, a broken notebook, a secret outside the root. */
function makeWorkspace() {
  const base = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-'));
  const root = path.join(base, 'root');
  mkdirSync(path.join(root, 'work'), { recursive: true });
  copyFileSync(path.join(corpus, 'candies_sharing.ipynb'), path.join(root, 'work', 'candies.ipynb'));
  const broken = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: 'code', id: 'a', metadata: { tags: ['step:load', 'prev:nowhere'] }, source: 'x = 1', outputs: [], execution_count: null }],
  };
  writeFileSync(path.join(root, 'broken.ipynb'), JSON.stringify(broken));
  writeFileSync(path.join(base, 'outside.ipynb'), readFileSync(path.join(corpus, 'candies_sharing.ipynb')));
  symlinkSync(path.join(base, 'outside.ipynb'), path.join(root, 'link-out.ipynb'));
  symlinkSync(base, path.join(root, 'dir-out'));
  return { base, root };
}

describe('backend API over a Unix socket', () => {
  let ws: ReturnType<typeof makeWorkspace>;
  let server: RunningServer;
  let socket: string;
  const runtimes: ScriptedRuntime[] = [];
  let script: (step: string) => StepScript = () => ({ lines: 3 });

  before(async () => {
    ws = makeWorkspace();
    socket = path.join(ws.base, 'backend.sock');
    server = await startServer({
      root: ws.root,
      socket,
      backend: {
        kubeflow: { loadProfiles: async () => new Map(), stateFile: path.join(ws.base, 'kubeflow-runs.json') },
        localBackend: (dir) => {
          const store = new RunStore(dir);
          const runtime = new ScriptedRuntime(store, (s) => script(s));
          runtimes.push(runtime);
          return { store, runtime };
        },
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(ws.base, { recursive: true, force: true });
  });

  test('GET /api/health answers with the package version', async () => {
    const r = await call(socket, 'GET', '/api/health');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.deepEqual(r.json, { version });
  });

  test('a page of another version gets the backend\'s version, and the Jupyter log says so once', async () => {
    const said: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (said.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      for (let i = 0; i < 2; i++) {
        const r = await call(socket, 'GET', '/api/health?page=0.0.1-old');
        assert.deepEqual(r.json, { version });
      }
      assert.deepEqual((await call(socket, 'GET', `/api/health?page=${version}`)).json, { version });
    } finally {
      process.stderr.write = write;
    }
    assert.equal(said.length, 1, said.join(''));
    assert.match(said[0], new RegExp(`page of cellpipe 0\\.0\\.1-old talks to this backend of cellpipe ${version.replace(/\./g, '\\.')}; reload the page`));
  });

  test('the socket is private to its owner (mode 0600)', async () => {
    const { statSync } = await import('node:fs');
    assert.equal(statSync(socket).mode & 0o777, 0o600);
  });

  test('POST /api/compile compiles the notebook on disk into the step graph, diagnostics and the KFP spec', async () => {
    const r = await call(socket, 'POST', '/api/compile', { path: 'work/candies.ipynb' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, true);
    assert.equal(r.json.path, 'work/candies.ipynb');
    assert.deepEqual(r.json.graph.steps.map((s: { name: string }) => s.name), ['sack', 'kid1', 'kid2', 'kid3']);
    assert.deepEqual(r.json.graph.parameters.map((p: { name: string; default: number }) => [p.name, p.default]), [['CANDIES', 20]]);
    assert.ok(Array.isArray(r.json.diagnostics));
    assert.match(r.json.specHash, /^[0-9a-f]{64}$/);
    assert.match(r.json.yaml, /pipelineInfo:/);
  });

  test('a notebook that does not compile comes back ok:false with diagnostics naming the cell', async () => {
    const r = await call(socket, 'POST', '/api/compile', { path: 'broken.ipynb' });
    assert.equal(r.status, 200);
    assert.equal(r.json.ok, false);
    assert.equal(r.json.yaml, null);
    const errors = r.json.diagnostics.filter((d: { severity: string }) => d.severity === 'error');
    assert.ok(errors.length > 0);
    assert.ok(errors.some((d: { cell?: number; message: string }) => d.cell === 0 && /nowhere/.test(d.message)), JSON.stringify(errors));
  });

  describe('paths outside the Jupyter root are refused with 403 and a JSON error', () => {
    for (const [what, given] of [
      ['a ../ path', '../outside.ipynb'],
      ['a ../ path hidden in the middle', 'work/../../outside.ipynb'],
      ['an absolute path', '/etc/passwd'],
      ['a symlink to a file outside', 'link-out.ipynb'],
      ['a path through a symlinked folder outside', 'dir-out/outside.ipynb'],
    ] as const) {
      test(what, async () => {
        for (const route of ['/api/compile', '/api/runs']) {
          const r = await call(socket, 'POST', route, { path: given });
          assert.equal(r.status, 403, `${route} ${given}: ${r.text}`);
          assert.match(r.json.error.message, /refused/);
          assert.ok(r.json.error.hint);
        }
      });
    }
    test('listing runs of a notebook outside the root', async () => {
      const r = await call(socket, 'GET', `/api/runs?notebook=${encodeURIComponent('../outside.ipynb')}`);
      assert.equal(r.status, 403);
    });
  });

  test('request mistakes get 4xx JSON errors that say what to do', async () => {
    const missing = await call(socket, 'POST', '/api/compile', { path: 'nope.ipynb' });
    assert.equal(missing.status, 404);
    assert.match(missing.json.error.message, /nope\.ipynb.*not found/);
    const noPath = await call(socket, 'POST', '/api/compile', {});
    assert.equal(noPath.status, 400);
    assert.match(noPath.json.error.message, /'path'/);
    const badJson = await call(socket, 'POST', '/api/compile', '{"path": ');
    assert.equal(badJson.status, 400);
    assert.match(badJson.json.error.message, /not valid JSON/);
    const folder = await call(socket, 'POST', '/api/compile', { path: 'work' });
    assert.equal(folder.status, 400);
    const route = await call(socket, 'GET', '/api/nothing');
    assert.equal(route.status, 404);
    assert.match(route.json.error.message, /no such API route/);
    const method = await call(socket, 'DELETE', '/api/runs');
    assert.equal(method.status, 405);
    assert.match(String(method.headers.allow), /GET/);
    const build = await call(socket, 'POST', '/api/build', { path: 'work/candies.ipynb' });
    assert.equal(build.status, 400);
    assert.match(build.json.error.message, /'profile'/);
    const kubeflow = await call(socket, 'POST', '/api/runs', { path: 'work/candies.ipynb', target: 'kubeflow' });
    assert.equal(kubeflow.status, 400);
    assert.match(kubeflow.json.error.message, /unknown target 'kubeflow': no such profile/);
    assert.match(kubeflow.json.error.hint, /Use "local" \(no profiles are defined\)/);
    const noNotebook = await call(socket, 'GET', '/api/runs');
    assert.equal(noNotebook.status, 400);
  });

  test('parameters are checked against the notebook: unknown names and wrong types are refused', async () => {
    const unknown = await call(socket, 'POST', '/api/runs', { path: 'work/candies.ipynb', parameters: { SWEETS: 3 } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error.message, /unknown pipeline parameter 'SWEETS'/);
    assert.match(unknown.json.error.hint, /CANDIES/);
    const wrongType = await call(socket, 'POST', '/api/runs', { path: 'work/candies.ipynb', parameters: { CANDIES: 'many' } });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.json.error.message, /'CANDIES' must be an int \(declared in cell 3, line 1\)/);
  });

  test('a notebook with compile errors cannot be run: 422 with the diagnostics', async () => {
    const r = await call(socket, 'POST', '/api/runs', { path: 'broken.ipynb' });
    assert.equal(r.status, 422);
    assert.match(r.json.error.message, /does not compile.*nowhere.*cell 1\b/);
    assert.ok(r.json.error.diagnostics.length > 0);
  });

  test('a run: start, follow its status to the end, read each step\'s log, find it in the list', async () => {
    script = () => ({ lines: 4 });
    const started = await call(socket, 'POST', '/api/runs', { path: 'work/candies.ipynb', parameters: { CANDIES: '7' }, target: 'local' });
    assert.equal(started.status, 201, started.text);
    const runId = started.json.runId as string;
    assert.equal(started.json.run.id, runId);

    // What the runtime was asked to run: the compiled graph and programs, parameters merged and typed.
    const request = runtimes.flatMap((r) => r.submitted).at(-1)!;
    assert.equal(request.notebookPath, 'work/candies.ipynb');
    assert.deepEqual(request.parameters, { CANDIES: 7 });
    assert.deepEqual(Object.keys(request.programs), ['sack', 'kid1', 'kid2', 'kid3']);
    assert.match(request.notebookHash, /^[0-9a-f]{64}$/);
    assert.equal(request.cache, true);

    const { status, contentType, events } = await readEvents(socket, `/api/runs/${runId}/events`);
    assert.equal(status, 200);
    assert.match(contentType, /text\/event-stream/);
    const runs = events.filter((e) => e.event === 'run').map((e) => e.data);
    assert.ok(runs.length >= 2, 'one event per change');
    assert.equal(runs.at(-1).state, 'succeeded');
    assert.deepEqual(events.at(-1), { event: 'end', id: undefined, data: { state: 'succeeded' } });
    assert.deepEqual(runs.at(-1).steps.map((s: { state: string }) => s.state), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);

    const logs = await readEvents(socket, `/api/runs/${runId}/logs/kid2`);
    const lines = logs.events.filter((e) => e.event === 'line');
    assert.deepEqual(lines.map((e) => e.data.text), ['kid2 line 1', 'kid2 line 2', 'kid2 line 3', 'kid2 line 4']);
    assert.deepEqual(lines.map((e) => e.id), ['0', '1', '2', '3'], 'each line carries its 0-based index as event id');
    assert.equal(lines[0].data.stream, 'stdout');
    assert.deepEqual(logs.events.at(-1)!.data, { lines: 4, state: 'succeeded' });

    // A reconnecting EventSource sends Last-Event-ID: the stream resumes after that line.
    const resumed = await readEvents(socket, `/api/runs/${runId}/logs/kid2`, { headers: { 'last-event-id': '2' } });
    assert.deepEqual(resumed.events.filter((e) => e.event === 'line').map((e) => [e.id, e.data.text]), [['3', 'kid2 line 4']]);
    const fromQuery = await readEvents(socket, `/api/runs/${runId}/logs/kid2?from=2`);
    assert.deepEqual(fromQuery.events.filter((e) => e.event === 'line').map((e) => e.id), ['2', '3']);

    const text = await call(socket, 'GET', `/api/runs/${runId}/logs/sack?format=text`);
    assert.equal(text.status, 200);
    assert.match(String(text.headers['content-type']), /text\/plain/);
    assert.equal(text.text, 'sack line 1\nsack line 2\nsack line 3\nsack line 4\n');
    const json = await call(socket, 'GET', `/api/runs/${runId}/logs/sack?format=json&from=3`);
    assert.deepEqual(json.json.lines.map((l: { text: string }) => l.text), ['sack line 4']);
    // Windows of the log (what the page reads; logWindow.test.ts has the big ones), with their bounds checked.
    const tail = await call(socket, 'GET', `/api/runs/${runId}/logs/sack?format=json&tail=2&cut=100`);
    assert.deepEqual([tail.json.from, tail.json.total, tail.json.lines.map((l: { n: number }) => l.n)], [2, 4, [2, 3]]);
    const page = await call(socket, 'GET', `/api/runs/${runId}/logs/sack?format=json&from=1&limit=2`);
    assert.deepEqual(page.json.lines.map((l: { text: string }) => l.text), ['sack line 2', 'sack line 3']);
    for (const [query, says] of [
      ['limit=10001', /'limit' must be a whole number from 0 to 10000, got '10001'/],
      ['tail=-1', /'tail' must be a whole number from 0 to 10000/],
      ['cut=5', /'cut' must be a whole number from 100 to 1000000/],
      ['tail=2&from=1', /'from' or 'tail', not both/],
    ] as const) {
      const bad = await call(socket, 'GET', `/api/runs/${runId}/logs/sack?format=json&${query}`);
      assert.equal(bad.status, 400, query);
      assert.match(bad.json.error.message, says);
    }
    const slice = await call(socket, 'GET', `/api/runs/${runId}/logs/sack/lines/1?start=5&length=4`);
    assert.deepEqual([slice.status, slice.json.text, slice.json.length, slice.json.n], [200, 'line', 11, 1]);
    assert.equal((await call(socket, 'GET', `/api/runs/${runId}/logs/sack/lines/4`)).status, 404);
    assert.equal((await call(socket, 'GET', `/api/runs/${runId}/logs/sack/lines/x`)).status, 400);
    assert.equal((await call(socket, 'GET', `/api/runs/${runId}/logs/sack/lines/1?length=0`)).status, 400);

    const noStep = await call(socket, 'GET', `/api/runs/${runId}/logs/kid9?format=text`);
    assert.equal(noStep.status, 404);
    assert.match(noStep.json.error.hint, /sack, kid1, kid2, kid3/);

    const list = await call(socket, 'GET', `/api/runs?notebook=${encodeURIComponent('work/candies.ipynb')}`);
    assert.equal(list.status, 200);
    assert.ok(list.json.runs.some((r: { id: string }) => r.id === runId));
    const one = await call(socket, 'GET', `/api/runs/${runId}`);
    assert.equal(one.status, 200);
    assert.equal(one.json.state, 'succeeded');
    assert.deepEqual(one.json.parameters, { CANDIES: 7 });

    // Runs live next to the notebook, where the CLI keeps them too.
    const onDisk = await new RunStore(path.join(ws.root, 'work', '.cellpipe')).get(runId);
    assert.equal(onDisk?.state, 'succeeded');

    const again = await call(socket, 'POST', `/api/runs/${runId}/cancel`);
    assert.equal(again.status, 409);
    assert.match(again.json.error.message, /already succeeded/);
  });

  test('following a running step\'s log delivers lines as they are written and ends when the run is cancelled', async () => {
    script = (step) => (step === 'kid1' ? { lines: 0, untilCancelled: true } : { lines: 1 });
    const started = await call(socket, 'POST', '/api/runs', { path: 'work/candies.ipynb', cache: false });
    assert.equal(started.status, 201, started.text);
    const runId = started.json.runId as string;
    assert.equal(runtimes.flatMap((r) => r.submitted).at(-1)!.cache, false);

    let cancelSent: Promise<unknown> | undefined;
    const followed = await readEvents(socket, `/api/runs/${runId}/logs/kid1?follow=1`, {
      onEvent: (e) => {
        // Once five lines arrived live, cancel the run from another request.
        if (e.event === 'line' && e.id === '4') cancelSent = call(socket, 'POST', `/api/runs/${runId}/cancel`);
      },
    });
    const cancel = (await cancelSent) as { status: number; json: { state: string } };
    assert.equal(cancel.status, 202);
    assert.equal(cancel.json.state, 'cancelled');
    const lines = followed.events.filter((e) => e.event === 'line');
    assert.ok(lines.length >= 5);
    assert.deepEqual(lines.slice(0, 5).map((e) => e.data.text), [1, 2, 3, 4, 5].map((i) => `kid1 line ${i}`));
    assert.deepEqual(followed.events.at(-1)!.event, 'end');
    assert.deepEqual(followed.events.at(-1)!.data.state, 'cancelled');

    const rec = await call(socket, 'GET', `/api/runs/${runId}`);
    assert.equal(rec.json.state, 'cancelled');
    assert.deepEqual(rec.json.steps.map((s: { state: string }) => s.state), ['succeeded', 'cancelled', 'cancelled', 'cancelled']);
  });

  test('a run started elsewhere (the CLI) is found through ?notebook=, and only then', async () => {
    // Another backend process on the same root knows nothing about runs yet.
    const socket2 = path.join(ws.base, 'backend2.sock');
    const other = await startServer({
      root: ws.root,
      socket: socket2,
      backend: {
        kubeflow: { loadProfiles: async () => new Map(), stateFile: path.join(ws.base, 'state2', 'kubeflow-runs.json') },
        localBackend: (dir) => { const store = new RunStore(dir); return { store, runtime: new ScriptedRuntime(store) }; },
      },
    });
    try {
      const list = await call(socket, 'GET', `/api/runs?notebook=work/candies.ipynb`);
      const runId = list.json.runs[0].id as string;
      const blind = await call(socket2, 'GET', `/api/runs/${runId}`);
      assert.equal(blind.status, 404);
      assert.match(blind.json.error.hint, /\?notebook=/);
      const found = await call(socket2, 'GET', `/api/runs/${runId}?notebook=work%2Fcandies.ipynb`);
      assert.equal(found.status, 200);
      assert.equal(found.json.id, runId);
    } finally {
      await other.close();
    }
  });
});
