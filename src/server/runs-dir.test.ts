/**
 * Where the backend keeps runs, over real HTTP: the runs folder setting stays inside the Jupyter root (refused with
 * why otherwise, also when a bad one was kept by an earlier backend), runs in a shared runs folder belong to their
 * notebook's path in the root (not its file name), and a damaged run record is listed as damaged, the others as usual.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RunStore } from '../runs/store.js';
import { startServer, type RunningServer } from './index.js';
import { call, ScriptedRuntime } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const candies = readFileSync(path.resolve(repo, '../shared/corpus/kale/candies_sharing.ipynb'));

async function serve(base: string, root: string, warnings: string[] = []): Promise<{ server: RunningServer; socket: string; runtimes: ScriptedRuntime[] }> {
  const socket = path.join(base, `s-${Math.random().toString(16).slice(2, 8)}.sock`);
  const runtimes: ScriptedRuntime[] = [];
  const server = await startServer({
    root,
    socket,
    backend: {
      kubeflow: { loadProfiles: async () => new Map(), stateFile: path.join(base, 'state', 'kubeflow-runs.json') },
      settingsFile: path.join(base, 'state', 'lab-settings.json'),
      warn: (m) => warnings.push(m),
      localBackend: (dir) => {
        const store = new RunStore(dir);
        const runtime = new ScriptedRuntime(store);
        runtimes.push(runtime);
        return { store, runtime };
      },
    },
  });
  return { server, socket, runtimes };
}

describe('the runs folder and the run list', () => {
  let base: string;
  let root: string;

  before(() => {
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-runs-dir-'));
    root = path.join(base, 'root');
    for (const dir of ['t', 't3']) {
      mkdirSync(path.join(root, dir), { recursive: true });
      writeFileSync(path.join(root, dir, 'five.ipynb'), candies);
    }
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  test('a runs folder outside the Jupyter root is refused with a 400 that says why; one inside it is taken', async () => {
    const { server, socket } = await serve(base, root);
    try {
      for (const [runsDir, why] of [
        ['/tmp/elsewhere', /'runsDir' '\/tmp\/elsewhere' is refused: it is an absolute path; run records must stay inside the Jupyter root/],
        ['../../elsewhere', /'runsDir' '\.\.\/\.\.\/elsewhere' is refused: it leads outside the Jupyter root/],
        ['runs/../../out', /leads outside the Jupyter root/],
        ['~/runs', /'~' is not the home folder here/],
      ] as const) {
        const r = await call(socket, 'PUT', '/api/settings', { runsDir });
        assert.equal(r.status, 400, `${runsDir}: ${r.text}`);
        assert.match(r.json.error.message, why);
        assert.match(r.json.error.hint, /relative to the Jupyter root/);
      }
      assert.equal((await call(socket, 'GET', '/api/settings')).json.runsDir, '', 'a refused setting is not in force');
      const ok = await call(socket, 'PUT', '/api/settings', { runsDir: 'runs' });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await call(socket, 'GET', '/api/settings')).json.runsDir, 'runs');
    } finally {
      await server.close();
    }
  });

  test('a runs folder outside the root kept by an earlier backend is refused at start, with a message', async () => {
    mkdirSync(path.join(base, 'state'), { recursive: true });
    writeFileSync(path.join(base, 'state', 'lab-settings.json'), JSON.stringify({ profiles: {}, runsDir: '/tmp/elsewhere', concurrency: 3 }));
    const warnings: string[] = [];
    const { server, socket } = await serve(base, root, warnings);
    try {
      const settings = (await call(socket, 'GET', '/api/settings')).json;
      assert.equal(settings.runsDir, '', 'not used');
      assert.equal(settings.concurrency, 3, 'the other kept settings still are');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /^cellpipe backend: settings: 'runsDir' '\/tmp\/elsewhere' is refused: it is an absolute path.*\(kept in .*lab-settings\.json\); runs are kept next to each notebook/);
    } finally {
      await server.close();
    }
  });

  test('with a shared runs folder, a notebook lists its own runs, not those of a notebook of the same name elsewhere', async () => {
    const { server, socket, runtimes } = await serve(base, root);
    try {
      assert.equal((await call(socket, 'PUT', '/api/settings', { runsDir: 'runs' })).status, 200);
      const a = await call(socket, 'POST', '/api/runs', { path: 't/five.ipynb' });
      const b = await call(socket, 'POST', '/api/runs', { path: 't3/five.ipynb' });
      assert.equal(a.status, 201, a.text);
      assert.equal(b.status, 201, b.text);
      for (const rt of runtimes) for (const id of [a.json.runId, b.json.runId]) await rt.finished(id);
      const listA = await call(socket, 'GET', '/api/runs?notebook=t/five.ipynb');
      const listB = await call(socket, 'GET', '/api/runs?notebook=t3/five.ipynb');
      assert.deepEqual(listA.json.runs.map((r: { id: string }) => r.id), [a.json.runId]);
      assert.deepEqual(listB.json.runs.map((r: { id: string }) => r.id), [b.json.runId]);
      // A partial run reuses the notebook's own earlier run, not the other one's.
      const partial = await call(socket, 'POST', '/api/runs', { path: 't3/five.ipynb', only: ['kid1'] });
      assert.equal(partial.status, 201, partial.text);
      assert.equal(runtimes.at(-1)!.submitted.at(-1)!.reuse?.runId, b.json.runId);
    } finally {
      await server.close();
    }
  });

  test('a damaged run record is listed as damaged with its file and line; the other runs list as usual', async () => {
    const { server, socket } = await serve(base, root);
    try {
      assert.equal((await call(socket, 'PUT', '/api/settings', { runsDir: '' })).status, 200, 'runs next to the notebook');
      const good = await call(socket, 'POST', '/api/runs', { path: 't/five.ipynb' });
      assert.equal(good.status, 201, good.text);
      const store = path.join(root, 't', '.cellpipe', 'runs');
      const bad = (id: string, text: string | null) => {
        mkdirSync(path.join(store, id), { recursive: true });
        if (text === null) mkdirSync(path.join(store, id, 'run.jsonl'));
        else writeFileSync(path.join(store, id, 'run.jsonl'), text);
      };
      const goodLine = readFileSync(path.join(store, good.json.runId, 'run.jsonl'), 'utf8').split('\n')[0].replace(good.json.runId, 'x');
      bad('20260101-000000-null', `${goodLine}\nnull\n`);
      bad('20260101-000000-empty', `${goodLine}\n{}\n`);
      bad('20260101-000000-nonb', `${JSON.stringify({ t: 'create', record: { id: 'nonb', state: 'queued', createdAt: 'x', steps: [] } })}\n`);
      bad('20260101-000000-steps', `${JSON.stringify({ t: 'create', record: { id: 's', notebook: 't/five.ipynb', state: 'queued', createdAt: 'x', steps: {} } })}\n`);
      bad('20260101-000000-cut', `${goodLine.slice(0, 50)}\n`);
      bad('20260101-000000-dir', null);
      const list = await call(socket, 'GET', '/api/runs?notebook=t/five.ipynb');
      assert.equal(list.status, 200, list.text);
      assert.ok(list.json.runs.some((r: { id: string }) => r.id === good.json.runId));
      const damaged = Object.fromEntries(list.json.damaged.map((d: { id: string; line?: number; problem: string; file: string }) => [d.id.slice(16), `${path.relative(store, d.file)}:${d.line ?? ''} ${d.problem}`]));
      assert.deepEqual(damaged, {
        null: '20260101-000000-null/run.jsonl:2 the line is null, not a record change',
        empty: '20260101-000000-empty/run.jsonl:2 unknown kind of line null',
        nonb: "20260101-000000-nonb/run.jsonl:1 the create line's record has no 'notebook'",
        steps: "20260101-000000-steps/run.jsonl:1 the create line's 'steps' is not a list",
        cut: "20260101-000000-cut/run.jsonl:1 the run's create line is not valid JSON (cut short?)",
        dir: '20260101-000000-dir/run.jsonl: run.jsonl is a folder (or another kind of file), not the record file',
      });
      const one = await call(socket, 'GET', '/api/runs/20260101-000000-null?notebook=t/five.ipynb');
      assert.equal(one.status, 422, one.text);
      assert.match(one.json.error.message, /the record of run '20260101-000000-null' is damaged: .*run\.jsonl line 2: the line is null/);
    } finally {
      await server.close();
    }
  });
});
