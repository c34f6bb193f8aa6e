/**
 * Real notebooks, compiled by the real compiler and run by the local runtime with the real step runtime:
 * - the corpus notebooks run to success, parameters override, metrics land in the record;
 * - equivalence: the variables after the pipeline (every step's namespace, merged in graph order) equal the
 *   variables after running the notebook top to bottom in one Python process (skip cells left out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileNotebook } from '../../core/compile.js';
import type { JsonValue, StepProgram } from '../../core/model.js';
import { RunStore } from '../../runs/store.js';
import { LocalRuntime } from './runtime.js';
import type { RunRecord } from '../../runs/types.js';
import * as kit from '../../runs/testing.js';

const { FIXTURES: fixtures, CORPUS: corpus, PYTHON: python } = kit;
const harness = path.join(fixtures, 'harness.py');

/** The cell appended to every step's program: dump the step's variables for comparison. */
const DUMP_CELL = [
  'import importlib.util as _u, os as _o',
  `_s = _u.spec_from_file_location('_cellpipe_harness', ${JSON.stringify(harness)})`,
  '_m = _u.module_from_spec(_s); _s.loader.exec_module(_m)',
  "_m.dump(globals(), _o.path.join(_o.environ['CELLPIPE_TEST_DUMP'], _o.environ['CELLPIPE_STEP'] + '.json'))",
].join('\n');

interface Ran {
  record: RunRecord;
  dumps?: Record<string, Record<string, string>>;
  order: string[];
}

/** Compile a notebook (copied with its data into a temp folder) and run it; optionally dump each step's variables. */
async function runNotebook(
  source: string,
  opts: { params?: Record<string, JsonValue>; dump?: boolean; extra?: string[] } = {},
): Promise<Ran> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-eq-'));
  const nb = path.join(work, path.basename(source));
  fs.copyFileSync(source, nb);
  for (const e of opts.extra ?? []) fs.cpSync(path.join(path.dirname(source), e), path.join(work, e), { recursive: true });
  const text = fs.readFileSync(nb, 'utf8');
  const compiled = compileNotebook(text, { path: path.basename(nb) });
  assert.ok(compiled.ok && compiled.graph, `compiles: ${JSON.stringify(compiled.diagnostics)}`);
  const dumpDir = path.join(work, 'dumps');
  fs.mkdirSync(dumpDir);
  const programs: Record<string, StepProgram> = {};
  for (const [name, p] of Object.entries(compiled.programs)) {
    programs[name] = opts.dump ? { ...p, cells: [...p.cells, { index: 9999, role: 'step', source: DUMP_CELL }] } : p;
  }
  const store = new RunStore(path.join(work, '.cellpipe'));
  const runtime = new LocalRuntime({ store, python, env: { ...process.env, CELLPIPE_TEST_DUMP: dumpDir } });
  const id = await runtime.submit({
    notebookPath: nb,
    notebookHash: 'test',
    specHash: compiled.specHash ?? '',
    graph: compiled.graph,
    programs,
    parameters: opts.params ?? {},
  });
  const record = await runtime.wait(id);
  const order = compiled.graph.steps.map((s) => s.name);
  if (!opts.dump) return { record, order };
  const dumps: Record<string, Record<string, string>> = {};
  for (const step of order) {
    const f = path.join(dumpDir, `${step}.json`);
    if (fs.existsSync(f)) dumps[step] = JSON.parse(fs.readFileSync(f, 'utf8'));
  }
  return { record, dumps, order };
}

function topDown(source: string, params: Record<string, JsonValue> = {}, extra: string[] = []): Record<string, string> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-topdown-'));
  const nb = path.join(work, path.basename(source));
  fs.copyFileSync(source, nb);
  for (const e of extra) fs.cpSync(path.join(path.dirname(source), e), path.join(work, e), { recursive: true });
  const out = path.join(work, 'vars.json');
  execFileSync(python, [harness, 'topdown', nb, out, ...Object.entries(params).map(([k, v]) => `${k}=${JSON.stringify(v)}`)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return JSON.parse(fs.readFileSync(out, 'utf8'));
}

/** Every step's variables merged in graph (dependency) order: what "the notebook's final variables" are for a pipeline. */
function merged(ran: Ran): Record<string, string> {
  const all: Record<string, string> = {};
  for (const step of ran.order) Object.assign(all, ran.dumps?.[step] ?? {});
  return all;
}

function assertEquivalent(pipeline: Record<string, string>, notebook: Record<string, string>, parameters: string[]) {
  // Parameters no step reads are not in any step; everything else the notebook binds must be there, equal.
  for (const [name, value] of Object.entries(notebook)) {
    if (parameters.includes(name) && !(name in pipeline)) continue;
    assert.ok(name in pipeline, `variable '${name}' exists after the pipeline`);
    assert.equal(pipeline[name], value, `variable '${name}' has the same value`);
  }
  for (const name of Object.keys(pipeline)) assert.ok(name in notebook, `pipeline variable '${name}' exists in the notebook run`);
}

const haveCorpus = fs.existsSync(corpus);

test('corpus candies_sharing runs to success: 4 steps, data passed along, the parameter overridable', { skip: !haveCorpus && 'no ../shared/corpus' }, async () => {
  const src = path.join(corpus, 'candies_sharing.ipynb');
  const ran = await runNotebook(src, { dump: true });
  assert.equal(ran.record.state, 'succeeded', JSON.stringify(ran.record.steps.map((s) => [s.name, s.state, s.error])));
  assert.deepEqual(ran.record.steps.map((s) => s.state), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  assert.deepEqual(ran.record.parameters, { CANDIES: 20 });
  // Random handfuls, but the invariants hold across the steps' processes: kid3 saw what kid1 and kid2 took.
  const v = merged(ran);
  const [k1, k2, k3] = [Number(v.kid1), Number(v.kid2), Number(v.kid3)];
  assert.ok(k1 >= 1 && k1 <= 20 && k1 + k2 + k3 <= 20 && k2 >= 0 && k3 >= 0, JSON.stringify(v));
  assert.equal(ran.dumps!.kid3.kid1, v.kid1, 'kid3 received the kid1 value that kid1 produced');

  const small = await runNotebook(src, { params: { CANDIES: 1 }, dump: true });
  assert.equal(small.record.state, 'succeeded');
  assert.deepEqual(small.record.parameters, { CANDIES: 1 });
  const s = merged(small);
  assert.deepEqual([s.kid1, s.kid2, s.kid3, s.CANDIES], ['1', '0', '0', '1'], 'with one candy, kid1 takes it and the others get none');
});

test('corpus pipeline_parameters_and_metrics runs, parameters override, metrics land in the record', { skip: !haveCorpus && 'no ../shared/corpus' }, async () => {
  const src = path.join(corpus, 'pipeline_parameters_and_metrics.ipynb');
  const ran = await runNotebook(src, { params: { d1: 3, strtest: 'hello' }, dump: true });
  assert.equal(ran.record.state, 'succeeded', JSON.stringify(ran.record.steps.map((s) => [s.name, s.state, s.error])));
  assert.deepEqual(ran.record.parameters, { d1: 3, d2: 6, booltest: true, strtest: 'hello' });
  const sum = ran.record.steps.find((s) => s.name === 'sum_matrix')!;
  assert.equal(sum.metrics.d1, 3);
  assert.equal(sum.metrics.d2, 6);
  const matrix = JSON.parse(ran.dumps!.sum_matrix.rnd_matrix) as number[][];
  assert.equal(matrix.length, 3, 'd1=3 rows');
  assert.equal(matrix[0].length, 6, 'd2=6 columns');
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(Number(sum.metrics.sum_result) - total) < 1e-9, 'sum_result metric is the sum of the matrix that create_matrix made');
  assert.equal(ran.dumps!.create_matrix.rnd_matrix, ran.dumps!.sum_matrix.rnd_matrix, 'the matrix arrives unchanged');
});

test('wordcount: the pipeline leaves the same variables as the notebook run top to bottom (skip cell excluded)', async () => {
  const src = path.join(fixtures, 'wordcount.ipynb');
  const ran = await runNotebook(src, { dump: true, extra: ['data'] });
  assert.equal(ran.record.state, 'succeeded', JSON.stringify(ran.record.steps.map((s) => [s.name, s.state, s.error])));
  const notebook = topDown(src, {}, ['data']);
  assertEquivalent(merged(ran), notebook, ['SOURCE', 'TOP', 'MIN_LEN']);
  assert.equal(merged(ran).total, '33');
  const metrics = Object.assign({}, ...ran.record.steps.map((s) => s.metrics));
  assert.deepEqual(metrics, { total: 33, ratio: 0.5152 }, 'the pipeline-metrics names are in the record');

  const override = { TOP: 5, MIN_LEN: 4 };
  const ran2 = await runNotebook(src, { dump: true, extra: ['data'], params: override });
  assertEquivalent(merged(ran2), topDown(src, override, ['data']), ['SOURCE', 'TOP', 'MIN_LEN']);
  assert.notEqual(merged(ran2).top, merged(ran).top, 'the override changed the result');
});

test('numbers: numpy and pandas values and list/dict/bool/float parameters give the same variables as top to bottom', async () => {
  const src = path.join(fixtures, 'numbers.ipynb');
  const ran = await runNotebook(src, { dump: true });
  assert.equal(ran.record.state, 'succeeded', JSON.stringify(ran.record.steps.map((s) => [s.name, s.state, s.error])));
  assertEquivalent(merged(ran), topDown(src), ['SCALE', 'NORMALISE', 'WEIGHTS', 'LABELS']);
  const override = { SCALE: 2.5, NORMALISE: false, WEIGHTS: [3, 0, 1], LABELS: { a: 'A', b: 'B' } };
  const ran2 = await runNotebook(src, { dump: true, params: override });
  assert.equal(ran2.record.state, 'succeeded');
  assertEquivalent(merged(ran2), topDown(src, override), ['SCALE', 'NORMALISE', 'WEIGHTS', 'LABELS']);
  assert.ok(merged(ran2).grouped.includes("'A'"), 'the dict parameter reached the step');
});

test('failing: the raising step names its cell and line, its downstream is skipped, the other branch finishes', async () => {
  const src = path.join(fixtures, 'failing.ipynb');
  const ran = await runNotebook(src);
  const by = Object.fromEntries(ran.record.steps.map((s) => [s.name, s]));
  assert.equal(ran.record.state, 'failed');
  assert.equal(by.divide.state, 'failed');
  assert.equal(by.divide.error?.type, 'ZeroDivisionError');
  assert.equal(by.divide.error?.cell, 2);
  assert.equal(by.divide.error?.line, 2);
  assert.equal(by.after.state, 'skipped');
  assert.equal(by.independent.state, 'succeeded');
});
