import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const cli = (...args: string[]) =>
  promisify(execFile)('node', ['bin/cellpipe.js', ...args], { cwd: repo }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

test('cellpipe compile prints the spec of a corpus notebook and exits 0', async () => {
  const r = await cli('compile', '../shared/corpus/kale/candies_sharing.ipynb');
  assert.equal(r.code, 0, r.stderr);
  const spec = parse(r.stdout.split('\n---\n')[0]);
  assert.equal(spec.pipelineInfo.name, 'candies-sharing');
  assert.deepEqual(Object.keys(spec.root.dag.tasks).sort(), ['kid1', 'kid2', 'kid3', 'sack']);
});

test('a plain spec whose run would outgrow Argo\'s Workflow limit is written with a warning naming the limit and the way out', async () => {
  // candies_sharing's 4 steps each carry the inlined step runtime (~56 KB, 7 copies once run): over Argo's 1 MB.
  const big = await cli('compile', '../shared/corpus/kale/candies_sharing.ipynb');
  assert.equal(big.code, 0, big.stderr);
  assert.ok(big.stdout.includes('pipelineInfo'), 'the spec is still written');
  assert.match(big.stderr, /warning: .*candies_sharing\.ipynb: this pipeline's run would not fit in Argo: 4 steps .*over Argo's 1 MB limit/);
  assert.match(big.stderr, /hint: build the step images/);
  // One step fits: no warning.
  const dir = await mkdtemp(join(tmpdir(), 'cellpipe-compile-'));
  const cell = (tags: string[], source: string) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
  await writeFile(join(dir, 'one.ipynb'), JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [cell(['step:only'], 'x = 1\nprint(x)')] }));
  const small = await cli('compile', join(dir, 'one.ipynb'));
  assert.equal(small.code, 0, small.stderr);
  assert.doesNotMatch(small.stderr, /would not fit in Argo/);
});

test('cellpipe compile --graph prints steps, edges, parameters, metrics and diagnostics as JSON', async () => {
  const r = await cli('compile', '../shared/corpus/kale/pipeline_parameters_and_metrics.ipynb', '--graph');
  assert.equal(r.code, 0, r.stderr);
  const graph = JSON.parse(r.stdout);
  assert.deepEqual(graph.steps.map((s: { name: string }) => s.name), ['create_matrix', 'sum_matrix']);
  assert.deepEqual(graph.edges, [['create_matrix', 'sum_matrix']]);
  assert.deepEqual(graph.parameters.map((p: { name: string }) => p.name), ['d1', 'd2', 'booltest', 'strtest']);
  assert.deepEqual(graph.metrics, ['d1', 'd2', 'sum_result']);
  assert.deepEqual(graph.steps[0].resources, { 'nvidia.com/gpu': '2' });
  assert.ok(Array.isArray(graph.diagnostics));
});

test('errors are printed with notebook, cell and line, and exit 1', async () => {
  const r = await cli('compile', 'test/fixtures/notebooks/broken.ipynb');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /broken\.ipynb, cell 3, line 1: error: .*syntax/i);
  assert.match(r.stderr, /hint:/);
});

test('usage errors exit 2; a missing file exits 1 with a message', async () => {
  assert.equal((await cli('compile')).code, 2);
  assert.equal((await cli('compile', '--bogus', 'x.ipynb')).code, 2);
  assert.equal((await cli('frobnicate')).code, 2);
  const missing = await cli('compile', 'nope.ipynb');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read nope\.ipynb: no such file/);
});

test('-o writes the spec to a file', async () => {
  const { mkdtemp, readFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(`${tmpdir()}/cellpipe-`);
  const r = await cli('compile', 'test/fixtures/notebooks/all_options.ipynb', '-o', `${dir}/spec.yaml`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await readFile(`${dir}/spec.yaml`, 'utf8'), /^# PIPELINE DEFINITION/);
});

test('cellpipe compile --graph lists the files each step reads and whether they travel into the images', async () => {
  const r = await cli('compile', 'examples/quickstart.ipynb', '--graph');
  assert.equal(r.code, 0, r.stderr);
  const graph = JSON.parse(r.stdout);
  const files = Object.fromEntries(graph.steps.map((s: { name: string; files: unknown[] }) => [s.name, s.files]));
  const size = (await import('node:fs')).statSync(`${repo}examples/data/weather.csv`).size;
  assert.deepEqual(files, {
    load: [{ reader: 'open', cell: 4, line: 1, path: 'data/weather.csv', status: 'travels', travels: true, bytes: size }],
    clean: [],
    summarise: [],
  });
  // The plain spec carries no files: compile says so.
  const spec = await cli('compile', 'examples/quickstart.ipynb');
  assert.match(spec.stderr, /the steps read 1 file of the notebook's folder; they travel in built images only/);
});
