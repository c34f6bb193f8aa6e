/**
 * examples/composing: a pipeline made of three notebooks (Kale 2.3's `notebook:` cells), run by `cellpipe run` as a
 * user runs it — real processes, the real step runtime — and its cache: a referenced notebook's step runs again when
 * that notebook's step changes, and only then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, PYTHON, REPO } from '../runs/testing.js';

function cellpipe(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CELLPIPE_PYTHON: PYTHON, CELLPIPE_STORE: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

/** Step → its state column in the run's step table ("succeeded", "cached"). */
function states(out: string): Record<string, string> {
  const table = out.slice(out.lastIndexOf('STEP '));
  return Object.fromEntries([...table.matchAll(/^(\S+)\s+(succeeded|cached|failed)/gm)].map((m) => [m[1], m[2]]));
}

/** Rewrites one cell's source of a notebook in the workspace. */
function edit(file: string, cellId: string, change: (source: string) => string): void {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  const cell = nb.cells.find((c: { id: string }) => c.id === cellId);
  cell.source = change(Array.isArray(cell.source) ? cell.source.join('') : cell.source);
  fs.writeFileSync(file, JSON.stringify(nb));
}

test('examples/composing runs locally as one pipeline of the three notebooks; a referenced step reruns only when its own notebook\'s step changes', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-composing-'));
  fs.cpSync(path.join(REPO, 'examples/composing'), ws, { recursive: true });

  const first = await cellpipe(['run', 'pipeline.ipynb'], ws);
  assert.equal(first.code, 0, first.out);
  assert.deepEqual(states(first.out), { 'features-load': 'succeeded', 'features-smooth': 'succeeded', 'labels-label': 'succeeded', train: 'succeeded', report: 'succeeded' });
  assert.match(first.out, /\[features-smooth\] smoothed \[12\.0, 13\.75, 12\.8333/, 'the root\'s WINDOW = 3 is handed down to features.ipynb (its own default is 2)');
  assert.match(first.out, /\[report\] a bag is full from 13\.67 g \(window 3\)/, 'values flow from both referenced notebooks into train, then report');

  const again = await cellpipe(['run', 'pipeline.ipynb'], ws);
  assert.deepEqual(new Set(Object.values(states(again.out))), new Set(['cached']), again.out);

  // A change in features.ipynb's smooth step: that step runs again; the others keep their cache (same values out).
  edit(path.join(ws, 'features.ipynb'), 'c4', (s) => s.replace("print('smoothed', smoothed)", "print('smoothed:', smoothed)"));
  const changed = await cellpipe(['run', 'pipeline.ipynb'], ws);
  assert.deepEqual(states(changed.out), { 'features-load': 'cached', 'features-smooth': 'succeeded', 'labels-label': 'cached', train: 'cached', report: 'cached' });

  // A change in the root notebook's own step leaves every referenced notebook's step cached.
  edit(path.join(ws, 'pipeline.ipynb'), 'c5', (s) => `${s}\n# reviewed`);
  const root = await cellpipe(['run', 'pipeline.ipynb'], ws);
  assert.deepEqual(states(root.out), { 'features-load': 'cached', 'features-smooth': 'cached', 'labels-label': 'cached', train: 'cached', report: 'succeeded' });
});

test('cellpipe compile --graph names each referenced step\'s notebook, and its cells by their index there', async () => {
  const r = await cellpipe(['compile', 'pipeline.ipynb', '--graph'], path.join(REPO, 'examples/composing'));
  assert.equal(r.code, 0, r.out);
  const graph = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { steps: { name: string; unit?: unknown; cells: number[] }[] };
  assert.deepEqual(graph.steps.map((s) => [s.name, s.unit ?? null, s.cells]), [
    ['features-load', { name: 'features', notebook: 'features.ipynb', step: 'load' }, [3]],
    ['features-smooth', { name: 'features', notebook: 'features.ipynb', step: 'smooth' }, [4]],
    ['labels-label', { name: 'labels', notebook: 'labels.ipynb', step: 'label' }, [1]],
    ['train', null, [4]],
    ['report', null, [5]],
  ]);
});

test('cellpipe compile names a missing referenced notebook on its notebook: cell and exits 1', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-composing-'));
  fs.cpSync(path.join(REPO, 'examples/composing'), ws, { recursive: true });
  fs.rmSync(path.join(ws, 'labels.ipynb'));
  const r = await cellpipe(['compile', 'pipeline.ipynb'], ws);
  assert.equal(r.code, 1);
  assert.match(r.out, /cell 4.*'notebook:labels' references 'labels\.ipynb', which cellpipe could not read: there is no such file/s);
});
