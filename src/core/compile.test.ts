import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileNotebook } from './compile.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../test/fixtures/notebooks/${name}`, import.meta.url)), 'utf8');
const corpus = (name: string) => readFileSync(fileURLToPath(new URL(`../../../shared/corpus/${name}`, import.meta.url)), 'utf8');
const codes = (r: ReturnType<typeof compileNotebook>) => r.diagnostics.map((d) => `${d.severity}:${d.code}@${d.cell ?? '-'}:${d.line ?? '-'}`);

test('malformed notebooks give a diagnostic, never an exception', () => {
  for (const text of ['', '{', '[]', 'null', '{"cells": []}', '{"nbformat": 3, "cells": []}', '{"nbformat": 4, "cells": {}}',
    '{"nbformat": 4, "cells": [42, {"cell_type": "code"}, {"cell_type": "weird", "source": ""}]}']) {
    const r = compileNotebook(text);
    assert.equal(r.ok, false, text);
    assert.ok(r.diagnostics.some((d) => d.severity === 'error' && d.hint), text);
  }
  assert.match(compileNotebook('{"nbformat": 3, "cells": []}').diagnostics[0].message, /nbformat 3/);
});

test('candies_sharing: four steps, explicit edges, CANDIES read by every kid', () => {
  const r = compileNotebook(corpus('kale/candies_sharing.ipynb'), { path: 'candies_sharing.ipynb' });
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  const steps = Object.fromEntries(r.graph!.steps.map((s) => [s.name, s]));
  assert.deepEqual(r.graph!.steps.map((s) => s.name), ['sack', 'kid1', 'kid2', 'kid3']);
  assert.deepEqual(r.graph!.edges, [['kid1', 'kid2'], ['kid1', 'kid3'], ['kid2', 'kid3'], ['sack', 'kid1']]);
  assert.deepEqual(steps.kid2.inputs, ['kid1']);
  assert.deepEqual(steps.kid3.inputSources, { kid1: 'kid1', kid2: 'kid2' });
  assert.deepEqual(steps.kid1.outputs, ['kid1']);
  assert.deepEqual(steps.kid1.parameters, ['CANDIES']);
  assert.deepEqual(r.programs.kid1.cells.map((c) => [c.index, c.role]), [[1, 'imports'], [3, 'functions'], [5, 'step']]);
});

test('edges implied by data are added and reported; a function carries what its body reads', () => {
  const r = compileNotebook(fixture('implied_edges.ipynb'));
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  assert.deepEqual(r.graph!.edges, [['left', 'join'], ['right', 'join'], ['source', 'left'], ['source', 'right']]);
  const right = r.graph!.steps.find((s) => s.name === 'right')!;
  assert.deepEqual(right.inputs, ['numbers', 'offset', 'shift']);
  const source = r.graph!.steps.find((s) => s.name === 'source')!;
  assert.deepEqual(source.outputs, ['numbers', 'offset', 'shift']);
  const implied = r.diagnostics.filter((d) => d.code === 'implied-edge');
  assert.equal(implied.length, 4);
  assert.ok(implied.every((d) => d.severity === 'info' && d.cell !== undefined && d.hint?.startsWith('add the tag prev:')));
});

test('an untagged cell that joined the parameters cell is one error saying so, with the way out, not one per line', () => {
  const cell = (source: string, tags: string[]) => ({ cell_type: 'code', metadata: { tags }, outputs: [], execution_count: null, source });
  const r = compileNotebook(JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
    cell('from sklearn.datasets import load_wine', ['imports']),
    cell('TEST_SIZE = 0.25', ['pipeline-parameters']),
    cell('wine = load_wine(as_frame=True)\nX = wine.data\ny = wine.target', []),
  ] }));
  assert.deepEqual(codes(r), ['error:joined-parameters@2:-']);
  assert.equal(r.diagnostics[0].message, 'cell 3 ("wine = load_wine(as_frame=True)") has no tag, so it joined the pipeline-parameters cell above it, which holds only NAME = literal lines');
  assert.match(r.diagnostics[0].hint!, /^make it a step \(Shift\+Alt\+S/);
  // The parameters cell itself still gives its parameter.
  assert.deepEqual(r.graph?.parameters.map((p) => p.name), ['TEST_SIZE']);
  // The parameters cell's own mistakes are still reported line by line.
  const own = compileNotebook(JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [cell('A = 1\nB = f(2)', ['pipeline-parameters']), cell('print(A)', ['step:s'])] }));
  assert.deepEqual(codes(own), ['error:invalid-parameter@0:2']);
});

test('all the problems of a broken notebook are reported on their cells', () => {
  const r = compileNotebook(fixture('broken.ipynb'));
  assert.equal(r.ok, false);
  const found = codes(r);
  for (const expected of [
    'error:invalid-parameter@1:2', 'error:unknown-step@2:-', 'warning:unknown-tag@2:-', 'error:syntax-error@2:1',
    'warning:undefined-name@3:1', 'error:empty-step@4:-', 'warning:opaque-code@5:1', 'warning:opaque-code@5:2', 'error:invalid-metric@6:2',
  ]) assert.ok(found.includes(expected), `${expected} not in ${found.join(', ')}`);
  assert.ok(r.diagnostics.every((d) => d.message && (d.severity !== 'error' || d.hint)));
  assert.ok(r.diagnostics.filter((d) => d.cell !== undefined).every((d) => d.cellId === `c${String(d.cell).padStart(2, '0')}`));
  assert.equal(r.yaml, undefined);
});

test('a cycle is named', () => {
  const r = compileNotebook(fixture('cycle.ipynb'));
  const cycle = r.diagnostics.find((d) => d.code === 'cycle');
  assert.ok(cycle);
  assert.match(cycle.message, /first → second → third → first|second → third → first → second|third → first → second → third/);
  assert.ok(r.diagnostics.some((d) => d.code === 'prev-later-step'));
});

test('an untagged notebook is one step', () => {
  const r = compileNotebook(fixture('untagged.ipynb'), { path: 'untagged.ipynb' });
  assert.ok(r.ok);
  assert.deepEqual(r.graph!.steps.map((s) => [s.name, s.cells]), [['untagged', [1, 2]]]);
  assert.ok(r.diagnostics.some((d) => d.code === 'single-step'));
});

test('skip excludes only its cell; a later step: tag continues the step', () => {
  const r = compileNotebook(fixture('all_options.ipynb'));
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  const steps = Object.fromEntries(r.graph!.steps.map((s) => [s.name, s]));
  assert.deepEqual(steps['load-data'].cells, [4, 5]);
  assert.deepEqual(steps.train.cells, [6, 9]);
  assert.ok(!r.graph!.steps.some((s) => s.cells.includes(8)));
  assert.deepEqual(steps.evaluate.inputs, ['loss']);
  // epochs: a metric that is a parameter is written by the last step, which therefore receives it
  assert.deepEqual(steps.evaluate.parameters, ['config', 'epochs', 'layers', 'name', 'verbose']);
  assert.deepEqual(steps.train.metrics, ['loss']);
  assert.deepEqual(steps.evaluate.metrics, ['accuracy', 'epochs']);
  assert.deepEqual(r.graph!.metrics, ['accuracy', 'loss', 'epochs']);
  assert.equal(steps['load-data'].cache, false);
  assert.deepEqual(steps.train.requirements, ['scikit-learn', 'pandas==2.2.2']);
});

test('the same notebook always compiles to byte-identical YAML', () => {
  const text = fixture('all_options.ipynb');
  const a = compileNotebook(text, { path: 'all_options.ipynb' });
  const b = compileNotebook(JSON.parse(text), { path: 'all_options.ipynb' });
  assert.ok(a.yaml && a.yaml === b.yaml);
  assert.equal(a.specHash, b.specHash);
  assert.match(a.specHash!, /^[0-9a-f]{64}$/);
});

test('the user\'s default base image serves the steps of a notebook that names none; a notebook\'s own image wins', () => {
  const untagged = compileNotebook(fixture('untagged.ipynb'), { path: 'untagged.ipynb', defaultBaseImage: 'registry.example.com/team/py:3.12' });
  assert.equal(untagged.graph!.pipeline.baseImage, 'registry.example.com/team/py:3.12');
  assert.match(untagged.yaml!, /image: "registry\.example\.com\/team\/py:3\.12"/);
  assert.equal(compileNotebook(fixture('untagged.ipynb')).graph!.pipeline.baseImage, 'python:3.11-slim');
  const own = JSON.parse(fixture('untagged.ipynb')) as { metadata: Record<string, unknown> };
  own.metadata.kubeflow_notebook = { docker_image: 'gcr.io/own/image:1' };
  assert.equal(compileNotebook(own, { defaultBaseImage: 'registry.example.com/team/py:3.12' }).graph!.pipeline.baseImage, 'gcr.io/own/image:1');
});

test('a step with metrics hands KFP v2 an ExecutorOutput path, so its Metrics artifact gets the numbers', () => {
  const r = compileNotebook(corpus('kale/pipeline_parameters_and_metrics.ipynb'), { path: 'params.ipynb' });
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  const withMetrics = r.yaml!.split('\n').filter((l) => l.includes('--kfp-executor-output'));
  assert.equal(withMetrics.length, 1, 'only the step that reports metrics');
  assert.match(r.yaml!, /- "?--kfp-executor-output"?\n\s+- "?\{\{\$\.outputs\.output_file\}\}"?/);
});
