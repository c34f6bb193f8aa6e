/**
 * `cellpipe export` as a user runs it: a fixture notebook run with the real CLI and the real step runtime, its
 * executed notebook written and checked by nbformat itself; a cached rerun exports the same outputs; a notebook
 * changed since the run still gets each output under its cell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../../runs/store.js';
import { BIN, FIXTURES, PYTHON } from '../../runs/testing.js';

interface Result { code: number; stdout: string; stderr: string }

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, CELLPIPE_PYTHON: PYTHON, ...env }, timeout: 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}
const cellpipe = (args: string[], cwd: string) => run(process.execPath, [BIN, ...args], cwd);
/** nbformat's own validation, as Jupyter would read the file. */
const validate = (file: string, cwd: string) =>
  run(PYTHON, ['-c', 'import nbformat,sys; nbformat.validate(nbformat.read(sys.argv[1], 4))', file], cwd);

type Cell = { cell_type: string; id: string; source: string | string[]; outputs?: Output[]; execution_count?: number | null; metadata: Record<string, unknown> };
type Output = { output_type: string; name?: string; text?: string; data?: Record<string, string>; execution_count?: number };
const readNb = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Cell[]; metadata: Record<string, unknown> };
const kinds = (c: Cell) => (c.outputs ?? []).map((o) => [o.output_type, ...Object.keys(o.data ?? {}).sort()].join(' '));

test('export writes the executed notebook of a run: table, plot and values under their cells, valid for nbformat', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-export-'));
  try {
    fs.copyFileSync(path.join(FIXTURES, 'outputs.ipynb'), path.join(ws, 'outputs.ipynb'));
    const first = await cellpipe(['run', 'outputs.ipynb'], ws);
    assert.equal(first.code, 0, first.stderr);
    const store = new RunStore(path.join(ws, '.cellpipe'));
    const [rec] = await store.list();
    for (const s of rec.steps) {
      assert.equal(s.cellOutputs, path.join('runs', rec.id, 'steps', s.name, 'cell-outputs.json'));
      assert.ok(fs.existsSync(path.join(store.dir, s.cellOutputs!)));
    }

    const out = await cellpipe(['export', rec.id, '-o', 'executed.ipynb'], ws);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`executed\\.ipynb: 3 cells with outputs from run ${rec.id} \\(succeeded\\)`));
    const valid = await validate('executed.ipynb', ws);
    assert.equal(valid.code, 0, valid.stderr);

    const original = readNb(path.join(ws, 'outputs.ipynb'));
    const nb = readNb(path.join(ws, 'executed.ipynb'));
    // The count is of cells that show something, not of every cell that ran.
    assert.equal(nb.cells.filter((c) => (c.outputs ?? []).length > 0).length, 3, 'the three cells the message counts show outputs');
    assert.deepEqual(nb.cells.map((c) => c.source), original.cells.map((c) => c.source));
    // It says which run made it, and of which notebook it is a copy (the page marks it so).
    assert.deepEqual(nb.metadata.cellpipe_run, { run: rec.id, state: 'succeeded', notebook: 'outputs.ipynb' });
    const [, imports, params, table, plot, report] = nb.cells;
    assert.deepEqual([kinds(imports), kinds(params)], [[], []]);
    assert.deepEqual(kinds(table), ['stream', 'execute_result text/html text/plain']);
    assert.equal(table.outputs![0].text, 'rows: 3\n');
    assert.match(table.outputs![1].data!['text/html'], /<table[\s\S]*<td>4<\/td>/);
    assert.deepEqual(table.metadata.cellpipe_run, { run: rec.id, step: 'table' });
    assert.deepEqual(kinds(plot), ['display_data image/png text/plain']);
    assert.ok(Buffer.from(plot.outputs![0].data!['image/png'], 'base64').subarray(0, 8).equals(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1')));
    assert.deepEqual(kinds(report), ['display_data text/plain', 'display_data text/plain', 'execute_result text/plain']);
    assert.deepEqual(report.outputs!.map((o) => o.data!['text/plain']), ["'report'", "{'rows': 3}", '5']);

    // A rerun takes every step from the cache: its steps point at the first run's outputs, and export shows them.
    const again = await cellpipe(['run', 'outputs.ipynb'], ws);
    assert.equal(again.code, 0, again.stderr);
    const rerun = (await store.list())[0];
    assert.notEqual(rerun.id, rec.id);
    assert.deepEqual(rerun.steps.map((s) => [s.state, s.cellOutputs]), rec.steps.map((s) => ['cached', s.cellOutputs]));
    const cached = await cellpipe(['export', rerun.id, '-o', 'cached.ipynb'], ws);
    assert.equal(cached.code, 0, cached.stderr);
    assert.deepEqual(readNb(path.join(ws, 'cached.ipynb')).cells.map((c) => c.outputs), nb.cells.map((c) => c.outputs));

    // The notebook changed since: a cell added on top; the outputs still land under their cells (by id), with a note.
    const changed = readNb(path.join(ws, 'outputs.ipynb'));
    changed.cells.unshift({ cell_type: 'code', id: 'new', metadata: {}, source: 'print("added later")', outputs: [], execution_count: null });
    fs.writeFileSync(path.join(ws, 'outputs.ipynb'), JSON.stringify(changed));
    const moved = await cellpipe(['export', rec.id, '-o', 'moved.ipynb'], ws);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stderr, new RegExp(`the notebook changed since run ${rec.id}`));
    const movedNb = readNb(path.join(ws, 'moved.ipynb'));
    assert.deepEqual(kinds(movedNb.cells[0]), []);
    assert.deepEqual(movedNb.cells.slice(1).map((c) => c.outputs), nb.cells.map((c) => c.outputs));
    assert.equal((await validate('moved.ipynb', ws)).code, 0);

    const missing = await cellpipe(['export', 'nope'], ws);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cellpipe export: no run 'nope'/);
  } finally {
    fs.rmSync(ws, { recursive: true, force: true });
  }
});

test('a failed run exports the error under the failing cell', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-export-'));
  try {
    const nb = {
      nbformat: 4, nbformat_minor: 5, metadata: { kubeflow_notebook: { pipeline_name: 'fails' } },
      cells: [
        { cell_type: 'code', id: 'a', metadata: { tags: ['step:first'] }, source: 'print("before")\nvalue = 1', outputs: [], execution_count: null },
        { cell_type: 'code', id: 'b', metadata: { tags: [] }, source: 'value / 0', outputs: [], execution_count: null },
      ],
    };
    fs.writeFileSync(path.join(ws, 'fails.ipynb'), JSON.stringify(nb));
    const r = await cellpipe(['run', 'fails.ipynb'], ws);
    assert.equal(r.code, 1, r.stderr);
    const out = await cellpipe(['export', 'latest', '-o', 'executed.ipynb'], ws);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await validate('executed.ipynb', ws)).code, 0);
    const cells = readNb(path.join(ws, 'executed.ipynb')).cells;
    assert.deepEqual(cells[0].outputs, [{ output_type: 'stream', name: 'stdout', text: 'before\n' }]);
    const error = cells[1].outputs![0] as Output & { ename: string; evalue: string; traceback: string[] };
    assert.deepEqual([error.output_type, error.ename, error.evalue], ['error', 'ZeroDivisionError', 'division by zero']);
    assert.ok(error.traceback.includes('  cell 2 ("value / 0"), line 1, in <module>'), error.traceback.join('\n'));
  } finally {
    fs.rmSync(ws, { recursive: true, force: true });
  }
});
