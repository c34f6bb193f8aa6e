/**
 * Kale's tag language, rule by rule: every notebook Kale compiles, cellpipe compiles, with Kale's meaning.
 *
 * Read from Kale's own parser (kubeflow-kale 2.3.0, kale/processors/nbprocessor.py, constants.py and
 * config/validators.py; for `block:`, the Kale releases that wrote the official example notebooks): its tag regexes,
 * how `parse_notebook` places untagged cells, and how `steps_defaults` is applied. Each test builds its notebook here,
 * compiles it, and states the step graph Kale gives (checked once against Kale 2.3.0 itself). Where cellpipe
 * deliberately reads more than Kale, or differs, the test name says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileNotebook, type CompileResult } from './compile.js';
import { taskName } from './graph.js';
import type { Step } from './model.js';
import { checkSpec } from '../kfp/testing/kfp-real.js';

type Cell = [tags: string[], source: string] | { markdown: string; tags?: string[] } | { code: string; tags: string[]; metadata: Record<string, unknown> };

/** A notebook as Kale's editor saves it: tags in cell metadata, settings in `metadata.kubeflow_notebook`. */
function notebook(cells: Cell[], settings: Record<string, unknown> = {}) {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3' }, kubeflow_notebook: { pipeline_name: 'conformance', ...settings } },
    cells: cells.map((c, i) =>
      Array.isArray(c)
        ? { cell_type: 'code', id: `c${i}`, metadata: { tags: c[0] }, source: c[1], outputs: [], execution_count: null }
        : 'code' in c
          ? { cell_type: 'code', id: `c${i}`, metadata: { tags: c.tags, ...c.metadata }, source: c.code, outputs: [], execution_count: null }
          : { cell_type: 'markdown', id: `c${i}`, metadata: { tags: c.tags ?? [] }, source: c.markdown },
    ),
  };
}

function compile(cells: Cell[], settings?: Record<string, unknown>): CompileResult {
  return compileNotebook(notebook(cells, settings), { path: 'conformance.ipynb' });
}

/** Every spec the rules below compile, for the last test (KFP's own backend must take each). */
const specs: { rule: string; yaml: string }[] = [];

/** Compiles and insists it worked, as Kale's compile would. */
function compiles(cells: Cell[], settings?: Record<string, unknown>): CompileResult {
  const r = compile(cells, settings);
  assert.ok(r.ok, `expected the notebook to compile: ${JSON.stringify(r.diagnostics.filter((d) => d.severity === 'error'))}`);
  specs.push({ rule: JSON.stringify(cells.map((c) => (Array.isArray(c) ? c[0] : c.tags ?? []))), yaml: r.yaml! });
  return r;
}

/** Step name → its cells (indices into the notebook's cells), in step order. */
const cellsOfSteps = (r: CompileResult) => Object.fromEntries(r.graph!.steps.map((s) => [s.name, s.cells]));
const step = (r: CompileResult, name: string): Step => r.graph!.steps.find((s) => s.name === name)!;
/** Diagnostics as `severity:code@cell`, for the ones a rule cares about. */
const found = (r: CompileResult, ...codes: string[]) =>
  r.diagnostics.filter((d) => !codes.length || codes.includes(d.code)).map((d) => `${d.severity}:${d.code}@${d.cell ?? '-'}`);

// ── Where cells go ────────────────────────────────────────────────────────────────────────────────────────────────

test('an untagged cell joins the step above it', () => {
  const r = compiles([[['step:load'], 'x = 1'], [[], 'y = x + 1'], [['step:use'], 'print(y)']]);
  assert.deepEqual(cellsOfSteps(r), { load: [0, 1], use: [2] });
  assert.deepEqual(r.graph!.edges, [['load', 'use']]);
});

test('an empty block: joins the step above, without a diagnostic (what Kale\'s editor wrote on the continuation cells of its example notebooks)', () => {
  const r = compiles([
    [['imports'], 'import math'],
    [['block:train'], 'w = 2'],
    [['block:'], 'w = w * 3'],
    [['block:'], 'loss = math.sqrt(w)'],
    [['block:report', 'prev:train'], 'print(loss)'],
  ]);
  assert.deepEqual(cellsOfSteps(r), { train: [1, 2, 3], report: [4] });
  assert.deepEqual(r.graph!.edges, [['train', 'report']]);
  assert.deepEqual(step(r, 'report').inputs, ['loss']);
  assert.deepEqual(r.diagnostics.filter((d) => d.cell === 2 || d.cell === 3), []);
});

test('an empty step: means the same as an empty block:', () => {
  const r = compiles([[['step:a'], 'v = 1'], [['step:'], 'v += 1'], [['step:b'], 'print(v)']]);
  assert.deepEqual(cellsOfSteps(r), { a: [0, 1], b: [2] });
  assert.deepEqual(found(r, 'invalid-step-name'), []);
});

test('an empty block: after imports, functions, pipeline-parameters or pipeline-metrics joins that block', () => {
  const r = compiles([
    [['imports'], 'import os'],
    [['block:'], 'import json'],
    [['functions'], 'def twice(v):\n    return 2 * v'],
    [['block:'], 'def thrice(v):\n    return 3 * v'],
    [['pipeline-parameters'], 'A = 1'],
    [['block:'], 'B = 2'],
    [['step:calc'], 'total = twice(A) + thrice(B)\nname = json.dumps(os.sep)'],
    [['pipeline-metrics'], 'print(total)'],
    [['block:'], 'print(name)'],
  ]);
  assert.deepEqual(r.graph!.prelude, [0, 1, 2, 3]);
  assert.deepEqual(r.graph!.parameters.map((p) => p.name), ['A', 'B']);
  assert.deepEqual(cellsOfSteps(r), { calc: [6] });
  assert.deepEqual(r.graph!.metrics, ['total', 'name']);
});

test('a notebook whose first cells carry a bare block: leaves them out, as Kale does (with a warning)', () => {
  const r = compiles([[['block:'], 'early = 1'], [['step:main'], 'print(2)']]);
  assert.deepEqual(cellsOfSteps(r), { main: [1] });
  assert.deepEqual(found(r, 'unassigned-cell'), ['warning:unassigned-cell@0']);
});

test('skip leaves out only its own cell: untagged and bare block: cells after it join the step before it', () => {
  const r = compiles([
    [['step:prep'], 'a = 1'],
    [['skip'], 'print("only interactively")'],
    [[], 'a += 1'],
    [['block:'], 'a += 1'],
    [['step:use'], 'print(a)'],
  ]);
  assert.deepEqual(cellsOfSteps(r), { prep: [0, 2, 3], use: [4] });
  assert.equal(r.placement!.get(1)?.kind, 'skipped');
});

test('a cell that names an earlier step again adds its code to that step', () => {
  const r = compiles([[['step:a'], 'x = 1'], [['step:b', 'prev:a'], 'y = x'], [['step:a'], 'z = 3']]);
  assert.deepEqual(cellsOfSteps(r), { a: [0, 2], b: [1] });
});

test('block:<name> names a step exactly as step:<name> does', () => {
  // Kale's editor wrote block: (and a bare block: on continuation cells) into every official example notebook, and
  // Kale read it as step:. Kale 2.3 refuses block: tags altogether; cellpipe keeps the meaning they were written with.
  const r = compiles([[['block:load'], 'x = 1'], [['step:use', 'prev:load'], 'print(x)']]);
  assert.deepEqual(cellsOfSteps(r), { load: [0], use: [1] });
  assert.deepEqual(r.graph!.edges, [['load', 'use']]);
});

test('a role tag wins over a step name on the same cell, and the first role tag wins over later ones (a warning, not an error)', () => {
  const r = compiles([
    [['step:a'], 'x = 1'],
    [['block:b', 'skip'], 'print("not in the pipeline")'],
    [['imports', 'step:c'], 'import os'],
    [['pipeline-parameters', 'imports'], 'N = 3'],
    [['step:d'], 'print(x, N, os.sep)'],
  ]);
  assert.equal(r.placement!.get(1)?.kind, 'skipped');
  assert.deepEqual(r.graph!.prelude, [2]);
  assert.deepEqual(r.graph!.parameters.map((p) => p.name), ['N']);
  assert.deepEqual(cellsOfSteps(r), { a: [0], d: [4] });
  assert.deepEqual(found(r, 'conflicting-tags'), ['warning:conflicting-tags@1', 'warning:conflicting-tags@2', 'warning:conflicting-tags@3']);
});

test('two different step names on one cell are an error (Kale refuses them too)', () => {
  const r = compile([[['step:a', 'block:b'], 'x = 1']]);
  assert.equal(r.ok, false);
  assert.deepEqual(found(r, 'conflicting-tags'), ['error:conflicting-tags@0']);
});

test('tags on markdown cells are ignored (cellpipe says so)', () => {
  const r = compiles([{ markdown: '# Title', tags: ['step:title'] }, [['step:work'], 'x = 1']]);
  assert.deepEqual(cellsOfSteps(r), { work: [1] });
  assert.deepEqual(found(r, 'tag-on-markdown'), ['warning:tag-on-markdown@0']);
});

test('every cellpipe tag on a markdown cell is named in the warning, env: and report: included; other tools\' tags are not', () => {
  const r = compiles([{ markdown: '# Setup', tags: ['env:DATASET_URL=https://example.com/d.csv', 'report:enabled', 'hide-input'] }, [['step:work'], 'x = 1']]);
  const warning = r.diagnostics.find((d) => d.code === 'tag-on-markdown')!;
  assert.equal(warning.cell, 0);
  assert.match(warning.message, /\(env:DATASET_URL=https:\/\/example\.com\/d\.csv, report:enabled\) are ignored$/);
});

test('an unknown tag is a warning, not an error (Kale refuses the notebook; other tools\' tags live here too)', () => {
  const r = compiles([[['step:a', 'parameters'], 'x = 1']]);
  assert.deepEqual(found(r, 'unknown-tag'), ['warning:unknown-tag@0']);
});

// ── Names ─────────────────────────────────────────────────────────────────────────────────────────────────────────

test('step and prev: names take Kale\'s characters: lowercase letters, digits and _, a leading _ included', () => {
  const r = compiles([[['step:_prepare'], 'x = 1'], [['step:train_2', 'prev:_prepare'], 'print(x)']]);
  assert.deepEqual(cellsOfSteps(r), { _prepare: [0], train_2: [1] });
  assert.deepEqual(r.graph!.edges, [['_prepare', 'train_2']]);
  // Kubeflow's task names, sanitised as the KFP compiler does.
  assert.equal(taskName('_prepare'), 'prepare');
  assert.equal(taskName('train_2'), 'train-2');
  assert.match(r.yaml!, /\n {6}prepare:\n/);
  assert.match(r.yaml!, /\n {6}train-2:\n/);
  assert.match(r.yaml!, /producerTask: prepare\n/);
});

test('cellpipe also accepts capitals and - in step names (Kale does not)', () => {
  const r = compiles([[['step:Load-Data'], 'x = 1'], [['step:use', 'prev:Load-Data'], 'print(x)']]);
  assert.deepEqual(cellsOfSteps(r), { 'Load-Data': [0], use: [1] });
});

test('names neither accepts (a leading digit, a space, a dot) are errors naming the tag', () => {
  for (const tag of ['step:1st', 'block:two words', 'step:a.b', 'prev:9lives']) {
    const r = compile([[['step:ok'], 'x = 1'], [[tag, ...(tag.startsWith('prev:') ? ['step:other'] : [])], 'y = 2']]);
    const bad = r.diagnostics.find((d) => d.code === 'invalid-step-name');
    assert.ok(bad && bad.severity === 'error' && bad.cell === 1 && bad.message.includes(tag) && bad.hint, tag);
  }
});

test('two step names that become the same Kubeflow task are an error (KFP would rename one; cellpipe asks you to)', () => {
  const r = compile([[['step:_a'], 'x = 1'], [['step:a'], 'y = 2']]);
  assert.deepEqual(found(r, 'duplicate-step-name'), ['error:duplicate-step-name@1']);
});

// ── prev: ─────────────────────────────────────────────────────────────────────────────────────────────────────────

test('prev: may repeat: each names one parent, and a repeated name counts once', () => {
  const r = compiles([
    [['step:a'], 'x = 1'],
    [['step:b'], 'y = 2'],
    [['step:c', 'prev:a', 'prev:b', 'prev:a'], 'print("after both")'],
  ]);
  assert.deepEqual(r.graph!.edges, [['a', 'c'], ['b', 'c']]);
});

test('prev: of a step that does not exist is an error (Kale: "Step … does not exist")', () => {
  const r = compile([[['step:a'], 'x = 1'], [['step:b', 'prev:nope'], 'y = 2']]);
  assert.deepEqual(found(r, 'unknown-step'), ['error:unknown-step@1']);
});

// ── limit: ────────────────────────────────────────────────────────────────────────────────────────────────────────

test('limit:<resource>:<value> takes any resource name and every Kubernetes quantity form', () => {
  const r = compiles([
    [['step:gpu', 'limit:nvidia.com/gpu:2', 'limit:cpu:500m', 'limit:memory:2Gi'], 'a = 1'],
    [['step:frac', 'limit:cpu:.5', 'limit:memory:1e9', 'limit:ephemeral-storage:10G'], 'b = 1'],
    [['step:amd', 'limit:amd.com/gpu:1', 'limit:cpu:2', 'limit:memory:512M'], 'c = 1'],
  ]);
  assert.deepEqual(step(r, 'gpu').limits, { 'nvidia.com/gpu': '2', cpu: '500m', memory: '2Gi' });
  assert.deepEqual(step(r, 'frac').limits, { cpu: '.5', memory: '1e9', 'ephemeral-storage': '10G' });
  assert.deepEqual(step(r, 'amd').limits, { 'amd.com/gpu': '1', cpu: '2', memory: '512M' });
  // The IR's numeric fields read the same quantities.
  assert.match(r.yaml!, /cpuLimit: 0\.5\n/);
  assert.match(r.yaml!, /memoryLimit: 2\.147483648\n/);
  assert.match(r.yaml!, /memoryLimit: 1\n/);
  assert.match(r.yaml!, /resourceType: "?amd\.com\/gpu"?/);
});

test('the last limit: for a resource on a step wins', () => {
  const r = compiles([[['step:a', 'limit:cpu:1', 'limit:cpu:2'], 'x = 1']]);
  assert.deepEqual(step(r, 'a').limits, { cpu: '2' });
});

test('a limit value Kale takes but Kubernetes would refuse (2GB, lots) is left out with a warning on its cell', () => {
  for (const tag of ['limit:memory:2GB', 'limit:cpu:lots', 'limit:memory:2K']) {
    const r = compiles([[['step:a', tag], 'x = 1']]);
    assert.deepEqual(found(r, 'invalid-tag-value'), ['warning:invalid-tag-value@0'], tag);
    assert.deepEqual(step(r, 'a').limits, {}, tag);
  }
  // A limit without a value is refused by both.
  assert.deepEqual(found(compile([[['step:a', 'limit:cpu'], 'x = 1']]), 'invalid-tag-value'), ['error:invalid-tag-value@0']);
});

// ── secret:, image:, cache:, report: (Kale 2.3) ──────────────────────────────────────────────────────────────────

test('secret:<secret>:<key>:<ENV> takes Kale\'s names (dotted secret names, keys with - . _); the last one for an ENV wins', () => {
  const r = compiles([[['step:a', 'secret:db.prod:pass-word_1.txt:DB_PASS', 'secret:s3:id:AWS_KEY', 'secret:s3:other:AWS_KEY'], 'x = 1']]);
  assert.deepEqual(step(r, 'a').secrets, [{ secret: 'db.prod', key: 'pass-word_1.txt', env: 'DB_PASS' }, { secret: 's3', key: 'other', env: 'AWS_KEY' }]);
});

test('image:<ref> keeps the whole reference, registry port and digest included; cache: switches caching', () => {
  const ref = 'registry.example.com:5000/team/py@sha256:' + 'ab'.repeat(32);
  const r = compiles([[['step:a', `image:${ref}`, 'cache:disabled'], 'x = 1'], [['step:b', 'cache:enabled'], 'y = 1']]);
  assert.equal(step(r, 'a').image, ref);
  assert.deepEqual([step(r, 'a').cache, step(r, 'b').cache], [false, true]);
});

test('report:enabled|disabled is accepted (cellpipe records every cell\'s outputs anyway); other values are errors', () => {
  const r = compiles([[['step:a', 'report:enabled'], 'x = 1'], [['step:b', 'report:disabled'], 'y = 1']]);
  assert.deepEqual(cellsOfSteps(r), { a: [0], b: [1] });
  assert.deepEqual(r.diagnostics.filter((d) => d.severity !== 'info'), []);
  assert.deepEqual(found(compile([[['step:a', 'report:maybe'], 'x = 1']]), 'invalid-tag-value'), ['error:invalid-tag-value@0']);
});

// ── annotation: and label: ────────────────────────────────────────────────────────────────────────────────────────

test('annotation: and label: keys may carry a prefix (example.com/owner); values may be empty or contain colons', () => {
  const r = compiles([[[
    'step:a',
    'annotation:example.com/owner:ana',
    'annotation:docs:https://example.com:8443/run',
    'label:access-ml-pipeline:true',
    'label:team_1.ml:',
  ], 'x = 1']]);
  // Kale joins a value's parts without their colons (https//example.com8443/run); cellpipe keeps the value as written.
  assert.deepEqual(step(r, 'a').annotations, { 'example.com/owner': 'ana', docs: 'https://example.com:8443/run' });
  assert.deepEqual(step(r, 'a').labels, { 'access-ml-pipeline': 'true', 'team_1.ml': '' });
});

test('an annotation: or label: without a key and a value is an error naming the tag', () => {
  for (const tag of ['annotation:owner', 'label::x']) {
    const r = compile([[['step:a', tag], 'x = 1']]);
    const bad = r.diagnostics.find((d) => d.code === 'invalid-tag-value');
    assert.ok(bad && bad.cell === 0 && bad.message.includes(tag), tag);
  }
});

test('step options on a continuation cell apply to its step (Kale drops them; cellpipe extension)', () => {
  const r = compiles([[['step:a'], 'x = 1'], [['block:', 'limit:cpu:2', 'label:tier:gold'], 'x += 1']]);
  assert.deepEqual(step(r, 'a').limits, { cpu: '2' });
  assert.deepEqual(step(r, 'a').labels, { tier: 'gold' });
});

// ── steps_defaults ────────────────────────────────────────────────────────────────────────────────────────────────

test('steps_defaults tags apply to every step', () => {
  const r = compiles(
    [[['step:a'], 'x = 1'], [['step:b', 'prev:a'], 'print(x)']],
    { steps_defaults: ['label:access-ml-pipeline:true', 'annotation:example.com/team:ml', 'limit:memory:1Gi'] },
  );
  for (const name of ['a', 'b']) {
    assert.deepEqual(step(r, name).labels, { 'access-ml-pipeline': 'true' }, name);
    assert.deepEqual(step(r, name).annotations, { 'example.com/team': 'ml' }, name);
    assert.deepEqual(step(r, name).limits, { memory: '1Gi' }, name);
  }
});

test('steps_defaults may also carry secret:, image:, cache: and report: (in Kale 2.3\'s language; Kale itself then fails on all but secret:)', () => {
  const r = compiles([[['step:a'], 'x = 1'], [['step:b', 'image:own/img:2'], 'y = 1']],
    { steps_defaults: ['secret:s3:id:AWS_KEY', 'image:team/base:1', 'cache:disabled', 'report:enabled'] });
  assert.deepEqual(step(r, 'a').secrets, [{ secret: 's3', key: 'id', env: 'AWS_KEY' }]);
  assert.deepEqual([step(r, 'a').image, step(r, 'b').image], ['team/base:1', 'own/img:2']);
  assert.deepEqual([step(r, 'a').cache, step(r, 'b').cache], [false, false]);
});

test('steps_defaults in the parsed form Kale\'s SDK keeps ({labels, annotations, limits}) apply too', () => {
  const r = compiles([[['step:a'], 'x = 1']], { steps_defaults: { labels: { 'access-rok': 'true' }, annotations: { note: 'x' }, limits: { cpu: '1' } } });
  assert.deepEqual(step(r, 'a').labels, { 'access-rok': 'true' });
  assert.deepEqual(step(r, 'a').annotations, { note: 'x' });
  assert.deepEqual(step(r, 'a').limits, { cpu: '1' });
});

test('a step\'s own tag wins over a steps_defaults entry for the same key (in Kale the default overwrites it)', () => {
  const r = compiles(
    [[['step:big', 'limit:memory:8Gi', 'label:tier:gold'], 'x = 1'], [['step:small'], 'y = 1']],
    { steps_defaults: ['limit:memory:1Gi', 'label:tier:bronze'] },
  );
  assert.deepEqual([step(r, 'big').limits, step(r, 'big').labels], [{ memory: '8Gi' }, { tier: 'gold' }]);
  assert.deepEqual([step(r, 'small').limits, step(r, 'small').labels], [{ memory: '1Gi' }, { tier: 'bronze' }]);
});

test('a steps_defaults entry that is no step option is left out with a warning; a bad value is an error; both name their place', () => {
  const ignored = compiles([[['step:a'], 'x = 1']], { steps_defaults: ['skip', 'prev:a', 'label:ok:yes'] });
  assert.deepEqual(step(ignored, 'a').labels, { ok: 'yes' });
  assert.deepEqual(step(ignored, 'a').cells, [0]);
  const warnings = ignored.diagnostics.filter((d) => d.code === 'misplaced-tag');
  assert.deepEqual(warnings.map((d) => d.message.split(':')[0]), ['metadata.kubeflow_notebook.steps_defaults[0]', 'metadata.kubeflow_notebook.steps_defaults[1]']);
  const bad = compile([[['step:a'], 'x = 1']], { steps_defaults: ['cache:sometimes'] });
  assert.equal(bad.ok, false);
  const error = bad.diagnostics.find((d) => d.severity === 'error')!;
  assert.match(error.message, /^metadata\.kubeflow_notebook\.steps_defaults\[0\]: 'cache:sometimes': cache must be 'enabled' or 'disabled'/);
  assert.equal(error.cell, undefined);
});

// ── pipeline-parameters and pipeline-metrics ──────────────────────────────────────────────────────────────────────

test('pipeline-parameters cells, and untagged cells after them, declare the pipeline parameters', () => {
  const r = compiles([[['pipeline-parameters'], 'LR = 0.1\nEPOCHS = 3'], [[], 'NAME = "run"'], [['step:train'], 'print(LR, EPOCHS, NAME)']]);
  assert.deepEqual(r.graph!.parameters.map((p) => [p.name, p.type, p.default]), [['LR', 'float', 0.1], ['EPOCHS', 'int', 3], ['NAME', 'str', 'run']]);
  assert.deepEqual(step(r, 'train').parameters, ['EPOCHS', 'LR', 'NAME']);
});

test('the pipeline-metrics cell names metrics with print(); each is written by the last step that binds it', () => {
  const r = compiles([[['step:a'], 'score = 1'], [['step:b', 'prev:a'], 'score = 2\nloss = 0.5'], [['pipeline-metrics'], 'print(score)\nprint(loss)']]);
  assert.deepEqual(r.graph!.metrics, ['score', 'loss']);
  assert.deepEqual(step(r, 'b').metrics, ['loss', 'score']);
  assert.deepEqual(step(r, 'a').metrics, []);
});

// ── Composing notebooks: notebook:<name> cells (Kale 2.3) ────────────────────────────────────────────────────────
//
// Each rule here is also run through kubeflow-kale 2.3.0 itself (test/kale/kale_graph.py, in the venv
// bench/setup-baselines.sh makes, installed on first use), and cellpipe's graph must equal Kale's: the same steps
// (a referenced notebook's step `s` of `notebook:<name>` is `<name>-s`), inputs, outputs, edges (an edge to or from a
// referenced notebook expanded to its first/last steps), parameters — or both refuse the notebook.

type Files = Record<string, Cell[] | { cells: Cell[]; settings: Record<string, unknown> }>;
/** A `notebook:<name>` cell referencing `path`, as Kale 2.3's editor writes it (the path in the cell's metadata). */
const ref = (name: string, path: string | undefined, source = '# the ' + name + ' notebook'): Cell => ({ code: source, tags: [`notebook:${name}`], metadata: path ? { notebook_path: path } : {} });

function files(f: Files): Record<string, ReturnType<typeof notebook>> {
  return Object.fromEntries(Object.entries(f).map(([path, nb]) => [path, Array.isArray(nb) ? notebook(nb) : notebook(nb.cells, nb.settings)]));
}

/** Compiles `pipeline.ipynb` of a composition, reading the others from memory as the CLI reads them from disk. */
function compose(f: Files): CompileResult {
  const all = files(f);
  return compileNotebook(all['pipeline.ipynb'], { path: 'pipeline.ipynb', readNotebook: (p) => all[p] });
}

interface KaleGraph { error?: string; dsl?: Record<string, { cache: boolean; env: Record<string, string> }>; dsl_error?: string; steps?: Record<string, { ins: string[]; outs: string[]; labels: Record<string, string>; limits: Record<string, string> }>; edges?: [string, string][]; parameters?: Record<string, unknown> }
const kaleCases = new Map<string, Files>();
let kaleResults: Record<string, KaleGraph> | undefined;
/** Registers a composition for Kale to read (all in one Kale process, before the tests). */
function forKale(name: string, f: Files): Files {
  kaleCases.set(name, f);
  return f;
}

/** Kale's reading of every registered composition: one Kale process, on first use (each takes seconds to start). */
function readByKale(): Record<string, KaleGraph> {
  if (kaleResults) return kaleResults;
  const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
  const python = process.env.CELLPIPE_KALE_PYTHON ?? execFileSync('bash', [join(repo, 'bench/setup-baselines.sh'), 'kale'], { encoding: 'utf8' }).trim();
  const root = mkdtempSync(join(tmpdir(), 'cellpipe-kale-'));
  const roots: string[] = [];
  for (const [name, f] of kaleCases) {
    const dir = join(root, name.replace(/[^a-z0-9]+/gi, '-'));
    for (const [path, nb] of Object.entries(files(f))) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), JSON.stringify(nb));
    }
    roots.push(join(dir, 'pipeline.ipynb'));
  }
  const out = JSON.parse(execFileSync(python, [join(repo, 'test/kale/kale_graph.py'), ...roots], { encoding: 'utf8', maxBuffer: 1 << 24 }));
  kaleResults = Object.fromEntries([...kaleCases.keys()].map((name, i) => [name, out[roots[i]]]));
  return kaleResults!;
}

/** cellpipe's graph in kale_graph.py's shape. */
function asKale(r: CompileResult): KaleGraph {
  return {
    steps: Object.fromEntries(r.graph!.steps.map((s) => [s.name, { ins: s.inputs, outs: s.outputs, labels: s.labels, limits: s.limits }])),
    edges: r.graph!.edges,
    parameters: Object.fromEntries(r.graph!.parameters.map((p) => [p.name, p.default])),
  };
}

/** Asserts cellpipe reads the composition as Kale does: the same graph, or both refuse it (Kale's message matching `kaleSays`). */
function sameAsKale(name: string, r: CompileResult, kaleSays?: RegExp) {
  const kale = readByKale()[name];
  assert.ok(kale, `Kale did not read '${name}'`);
  if (kaleSays) {
    assert.equal(r.ok, false, 'cellpipe refuses it');
    assert.match(kale.error ?? '(Kale compiled it)', kaleSays);
  } else {
    assert.equal(kale.error, undefined, `Kale refused it: ${kale.error}`);
    assert.ok(r.ok, JSON.stringify(r.diagnostics.filter((d) => d.severity === 'error')));
    const { dsl: _dsl, dsl_error: _dslError, ...graph } = kale; // what Kale's compiler writes per step: the rules below
    assert.deepEqual(asKale(r), graph);
  }
}

const features: Cell[] = [
  [['imports'], 'import math'],
  [['pipeline-parameters'], 'SCALE = 2'],
  [['step:load'], 'raw = [1, 2, 3]'],
  [['step:scale', 'prev:load'], 'feats = [math.sqrt(x) * SCALE for x in raw]'],
];
const labels: Cell[] = [[['step:make'], 'labels = [0, 1, 1]']];
const three = forKale('three notebooks', {
  'features.ipynb': features,
  'labels.ipynb': labels,
  'pipeline.ipynb': {
    cells: [
      [['pipeline-parameters'], 'SCALE = 10'],
      ref('features', 'features.ipynb'),
      ref('labels', 'labels.ipynb', ''),
      [[], 'pairs = list(zip(feats, labels))'],
      [['step:train'], 'model = len(pairs)'],
      [['step:report'], 'print(model)'],
    ],
    settings: { steps_defaults: ['label:team:ml'] },
  },
});

test('notebook:<name> with notebook_path brings in that notebook\'s steps; data flows between the notebooks by name, as in Kale', () => {
  const r = compose(three);
  sameAsKale('three notebooks', r);
  specs.push({ rule: 'three notebooks', yaml: r.yaml! });
  assert.deepEqual(r.graph!.steps.map((s) => s.name), ['features-load', 'features-scale', 'labels-make', 'train', 'report']);
  assert.deepEqual(step(r, 'train').inputSources, { feats: 'features-scale', labels: 'labels-make' });
  assert.deepEqual(step(r, 'features-scale').unit, { name: 'features', notebook: 'features.ipynb', step: 'scale' });
});

test('two notebook: cells with no step between them are independent; a step runs after every notebook above it (Kale\'s reading order)', () => {
  const r = compose(three);
  const edges = r.graph!.edges.map((e) => e.join(' → '));
  assert.ok(!edges.some((e) => /features.* → labels|labels.* → features/.test(e)), edges.join(', '));
  assert.ok(edges.includes('labels-make → report') && edges.includes('features-scale → report'), edges.join(', '));
});

test('the root\'s pipeline parameters are handed down: where both notebooks declare one, the root\'s value wins', () => {
  const r = compose(three);
  assert.deepEqual(r.graph!.parameters.map((p) => [p.name, p.default]), [['SCALE', 10]]);
  assert.deepEqual(step(r, 'features-scale').parameters, ['SCALE']);
});

test('the root\'s steps_defaults apply to the referenced notebooks\' steps too', () => {
  const r = compose(three);
  for (const s of r.graph!.steps) assert.deepEqual(s.labels, { team: 'ml' }, s.name);
});

test('a referenced notebook\'s imports run before its own steps only (its step program names its notebook and its own cells)', () => {
  const r = compose(three);
  const program = r.programs['features-scale'];
  assert.equal(program.notebook, 'features.ipynb');
  assert.deepEqual(program.cells.map((c) => [c.index, c.role, c.source]), [[0, 'imports', 'import math'], [3, 'step', 'feats = [math.sqrt(x) * SCALE for x in raw]']]);
  assert.deepEqual(r.programs.train.cells.map((c) => c.role), ['step', 'step']);
});

const held = forKale('untagged code after a notebook cell', {
  'labels.ipynb': labels,
  'pipeline.ipynb': [[['step:start'], 'n = 3'], ref('labels', 'labels.ipynb'), [[], 'pairs = labels * n'], [['step:train'], 'model = len(pairs)']],
});

test('untagged code after a notebook: cell belongs to the next step: cell, not to the step above (Kale 2.3)', () => {
  const r = compose(held);
  sameAsKale('untagged code after a notebook cell', r);
  assert.deepEqual(cellsOfSteps(r), { start: [0], 'labels-make': [4], train: [2, 3] });
});

const codeInRef = forKale('code in a notebook cell', { 'labels.ipynb': labels, 'pipeline.ipynb': [ref('labels', 'labels.ipynb', '# labels\nx = 1'), [['step:a'], 'print(labels)']] });
test('a notebook: cell holds no code of its own (comments are fine): an error on the cell', () => {
  const r = compose(codeInRef);
  sameAsKale('code in a notebook cell', r, /cell contains code/);
  assert.deepEqual(found(r, 'notebook-cell-code'), ['error:notebook-cell-code@0']);
});

const heldToEnd = forKale('untagged code and no step below', { 'labels.ipynb': labels, 'pipeline.ipynb': [ref('labels', 'labels.ipynb'), [[], 'print(labels)']] });
test('untagged code after a notebook: cell with no step: cell below is an error on that code\'s cell', () => {
  const r = compose(heldToEnd);
  sameAsKale('untagged code and no step below', r, /must be followed by a `step:` cell/);
  assert.deepEqual(found(r, 'held-code'), ['error:held-code@1']);
});

const noPath = forKale('no notebook_path', { 'pipeline.ipynb': [ref('labels', undefined), [['step:a'], 'x = 1']] });
test('a notebook: cell without notebook_path in its metadata is an error that says where the path goes', () => {
  const r = compose(noPath);
  sameAsKale('no notebook_path', r, /missing a 'notebook_path'/);
  assert.match(r.diagnostics.find((d) => d.code === 'missing-notebook-path')!.hint!, /metadata "notebook_path"/);
});

const self = forKale('a notebook referencing itself', { 'pipeline.ipynb': [[['step:a'], 'x = 1'], ref('me', 'pipeline.ipynb')] });
test('a notebook referencing itself is a reference cycle, named with its chain', () => {
  const r = compose(self);
  sameAsKale('a notebook referencing itself', r, /reference cycle \(pipeline\.ipynb -> pipeline\.ipynb\)/);
  assert.match(r.diagnostics.find((d) => d.code === 'notebook-cycle')!.message, /reference cycle \(pipeline\.ipynb -> pipeline\.ipynb\)/);
});

const nested = forKale('nested references', {
  'labels.ipynb': labels,
  'middle.ipynb': [[['step:m'], 'y = 1'], ref('labels', 'labels.ipynb')],
  'pipeline.ipynb': [ref('middle', 'middle.ipynb'), [['step:a'], 'print(y)']],
});
test('a referenced notebook that references another (nesting) is refused, the chain named; so is a cycle through it', () => {
  const r = compose(nested);
  sameAsKale('nested references', r, /nested inside 'middle\.ipynb'.*Nested references are not supported/);
  assert.match(r.diagnostics.find((d) => d.code === 'nested-notebook')!.message, /pipeline\.ipynb -> middle\.ipynb -> labels\.ipynb/);
  const cycle = compose({ 'other.ipynb': [[['step:o'], 'y = 1'], ref('back', 'pipeline.ipynb')], 'pipeline.ipynb': [ref('other', 'other.ipynb'), [['step:a'], 'print(y)']] });
  assert.match(cycle.diagnostics.find((d) => d.code === 'nested-notebook')!.message, /pipeline\.ipynb -> other\.ipynb -> pipeline\.ipynb/);
});

const ambiguous = forKale('a name two notebooks define', {
  'a.ipynb': [[['step:one'], 'table = [1]']],
  'b.ipynb': [[['step:two'], 'table = [2]']],
  'pipeline.ipynb': [ref('a', 'a.ipynb'), ref('b', 'b.ipynb'), [['step:use'], 'print(table)']],
});
test('a name two referenced notebooks define, read by a later step, is an error naming both (not a silent pick)', () => {
  const r = compose(ambiguous);
  sameAsKale('a name two notebooks define', r, /consumes 'table', but it is defined in multiple notebooks\/steps \(a, b\)/);
  const e = r.diagnostics.find((d) => d.code === 'ambiguous-name')!;
  assert.match(e.message, /'use' reads 'table', which 'a' \(a\.ipynb\) and 'b' \(b\.ipynb\) both define/);
  assert.match(e.hint!, /rename 'table' in all but one of them/);
  assert.equal(e.cell, 2);
});

test('a referenced notebook cellpipe cannot read is an error on the notebook: cell naming the path (Kale: "could not find a notebook")', () => {
  const r = compose({ 'pipeline.ipynb': [ref('gone', 'data/gone.ipynb'), [['step:a'], 'x = 1']] });
  const e = r.diagnostics.find((d) => d.code === 'notebook-unreadable')!;
  assert.equal(e.cell, 0);
  assert.match(e.message, /'notebook:gone' references 'data\/gone\.ipynb', which cellpipe could not read: there is no such file/);
});

test('a finding in a referenced notebook is shown on the notebook: cell, naming that notebook and its own cell', () => {
  const r = compose({ 'bad.ipynb': [[['step:x'], 'print(undefined_thing)']], 'pipeline.ipynb': [[['step:a'], 'v = 1'], ref('bad', 'bad.ipynb')] });
  const w = r.diagnostics.find((d) => d.code === 'undefined-name')!;
  assert.equal(w.cell, 1);
  assert.match(w.message, /^bad\.ipynb, cell 1: step 'bad-x' reads 'undefined_thing'/);
});

// ── Kale 2.3's pipeline settings: enable_caching, volumes exposed as environment variables ──────────────────────
//
// Checked against what Kale's own compiler writes for each step (its KFP DSL, read back by kale_graph.py): the
// step's caching option and its environment. Kale also gives every step HOME=/tmp and a security context (user
// 65534); cellpipe deliberately leaves both as the step's image has them, so only KALE_VOLUME_* variables are compared.

const volume = (name: string, mountPoint: string, expose = true) => ({ name, mount_point: mountPoint, type: 'pvc', expose_as_env_var: expose });

/** Each step's caching and KALE_VOLUME_* variables, from cellpipe's graph and from Kale's DSL. */
function stepConfigs(name: string, r: CompileResult) {
  const kale = readByKale()[name];
  assert.ok(kale?.dsl, `Kale wrote no DSL for '${name}': ${kale?.error ?? kale?.dsl_error}`);
  const volumeVars = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('KALE_VOLUME_')));
  return {
    cellpipe: Object.fromEntries(r.graph!.steps.map((s) => [s.name, { cache: s.cache, env: volumeVars(s.env) }])),
    kale: Object.fromEntries(Object.entries(kale.dsl).map(([step, c]) => [step, { cache: c.cache, env: volumeVars(c.env) }])),
  };
}

const noCaching = forKale('enable_caching false', {
  'pipeline.ipynb': { cells: [[['step:a'], 'x = 1'], [['step:b', 'prev:a', 'cache:enabled'], 'y = x + 1'], [['step:c', 'prev:b'], 'print(y)']], settings: { enable_caching: false } },
});
test('enable_caching: false turns caching off for every step but one whose own cache: tag turns it on (Kale 2.3)', () => {
  const r = compose(noCaching);
  sameAsKale('enable_caching false', r);
  const { cellpipe, kale } = stepConfigs('enable_caching false', r);
  assert.deepEqual(cellpipe, kale);
  assert.deepEqual(Object.fromEntries(Object.entries(cellpipe).map(([k, v]) => [k, v.cache])), { a: false, b: true, c: false });
});

const exposedVolumes = forKale('volumes exposed as env', {
  'pipeline.ipynb': {
    cells: [[['step:a'], 'x = 1'], [['step:b', 'prev:a'], 'print(x)']],
    settings: { volumes: [volume('train-data-2', '/data'), volume('scratch', '/scratch', false)] },
  },
});
test('a volume with expose_as_env_var gives every step KALE_VOLUME_<CLAIM> = its mount point, named as Kale names it', () => {
  const r = compose(exposedVolumes);
  sameAsKale('volumes exposed as env', r);
  const { cellpipe, kale } = stepConfigs('volumes exposed as env', r);
  assert.deepEqual(cellpipe, kale);
  assert.deepEqual(step(r, 'b').env, { KALE_VOLUME_TRAIN_DATA_2: '/data' });
  assert.deepEqual(r.graph!.pipeline.volumes.map((v) => v.name), ['train-data-2', 'scratch'], 'both volumes are mounted');
});

const clashingVolumes = forKale('two volumes, one env name', {
  'pipeline.ipynb': { cells: [[['step:a'], 'x = 1']], settings: { volumes: [volume('my-data', '/a'), volume('my.data', '/b')] } },
});
test('two claims that give one variable name (my-data, my.data) are refused, both named (Kale refuses them sooner: it takes no dot in a claim\'s name, which Kubernetes allows)', () => {
  const r = compose(clashingVolumes);
  sameAsKale('two volumes, one env name', r, /Not a valid K8s resource name: 'my\.data'/);
  const e = r.diagnostics.find((d) => d.code === 'volume-env-clash')!;
  assert.match(e.message, /volumes 1 \('my-data'\) and 2 \('my\.data'\) in the notebook settings both expose their mount path as KALE_VOLUME_MY_DATA/);
  assert.match(e.hint!, /rename one of the claims, or turn off expose_as_env_var/);
});

test('a variable set in metadata.cellpipe.env wins over the one a volume implies (cellpipe\'s own setting; Kale has none)', () => {
  const nb = notebook([[['step:a'], 'x = 1']], { volumes: [volume('data', '/data')] });
  (nb.metadata as Record<string, unknown>).cellpipe = { env: { KALE_VOLUME_DATA: '/mnt/elsewhere' } };
  const r = compileNotebook(nb, { path: 'conformance.ipynb' });
  assert.deepEqual(step(r, 'a').env, { KALE_VOLUME_DATA: '/mnt/elsewhere' });
});

test('a claim name Kubernetes would refuse is an error naming the volume (Kale too refuses it)', () => {
  const r = compile([[['step:a'], 'x = 1']], { volumes: [volume('data', '/data'), volume('My Data', '/mine')] });
  const e = r.diagnostics.find((d) => d.code === 'invalid-volume')!;
  assert.equal(e.severity, 'error');
  assert.match(e.message, /volume 2 in the notebook settings: 'My Data' is not a name Kubernetes gives a claim/);
});

test('enable_caching that is not true or false is a warning naming the setting, and caching stays on', () => {
  const r = compile([[['step:a'], 'x = 1']], { enable_caching: 'no' });
  assert.deepEqual(found(r, 'invalid-setting'), ['warning:invalid-setting@-']);
  assert.equal(step(r, 'a').cache, true);
});

// ── What Kubeflow makes of it ─────────────────────────────────────────────────────────────────────────────────────

test('every spec compiled above passes KFP\'s own backend (kfp-real check: upload, Argo compiler, validator)', async () => {
  assert.ok(specs.length >= 20, `only ${specs.length} specs were compiled`);
  for (const { rule, yaml } of specs) {
    const checked = await checkSpec(yaml);
    assert.ok(checked.ok, `${rule}: ${checked.error}`);
  }
});
