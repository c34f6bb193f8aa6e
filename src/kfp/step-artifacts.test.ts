/**
 * Which objects hold a Kubeflow step's variables: from the spec cellpipe compiles (debug.ipynb: load → divide →
 * report, load → other; divide reads the parameter DIVISOR) and from listings laid out as KFP 2.17's launcher
 * uploads a succeeded execution's output artifacts, `<task root>/<uuid>/<key>/<file>`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileNotebook } from '../core/compile.js';
import { specDocument } from './parameters.js';
import { artifactObjects, pipelineSpecOf, stepArtifactPlan } from './step-artifacts.js';
import type { SpecDoc } from './tasks.js';

const DEBUG = new URL('../../test/e2e/notebooks/debug.ipynb', import.meta.url).pathname;

function spec(): SpecDoc {
  const r = compileNotebook(readFileSync(DEBUG, 'utf8'), { path: 'debug.ipynb' });
  assert.ok(r.ok && r.yaml, JSON.stringify(r.diagnostics));
  return specDocument(r.yaml) as unknown as SpecDoc;
}

describe('what to fetch for a step of a Kubeflow run', () => {
  test("a step's inputs are its upstream tasks' outputs under the variable's name, with the parameters it reads", () => {
    const plan = stepArtifactPlan(spec(), 'divide', 'inputs', { DIVISOR: 0 });
    assert.deepEqual(plan.artifacts, [
      { name: 'total', task: 'load', step: 'load', key: 'total' },
      { name: 'unit', task: 'load', step: 'load', key: 'unit' },
    ]);
    assert.deepEqual(plan.parameters, { DIVISOR: 0 }, "the run's value");
    assert.equal(plan.task, 'divide');
  });

  test("a parameter the run does not set has the pipeline's default; a step reads only its own", () => {
    assert.deepEqual(stepArtifactPlan(spec(), 'divide', 'inputs', {}).parameters, { DIVISOR: 0 });
    assert.deepEqual(stepArtifactPlan(spec(), 'report', 'inputs', { DIVISOR: 4 }).parameters, {});
    assert.deepEqual(stepArtifactPlan(spec(), 'report', 'inputs', {}).artifacts, [{ name: 'share', task: 'divide', step: 'divide', key: 'share' }]);
  });

  test("a step's outputs are its own variables: not its metrics, its cells' page or KFP's log", () => {
    const plan = stepArtifactPlan(spec(), 'load', 'outputs', {});
    assert.deepEqual(plan.artifacts.map((a) => `${a.task}/${a.key}`), ['load/total', 'load/unit']);
    assert.deepEqual(plan.parameters, {});
    assert.deepEqual(stepArtifactPlan(spec(), 'report', 'outputs', {}).artifacts, [], 'a last step passes nothing on');
  });

  test('an unknown step is refused with the steps there are', () => {
    assert.throws(() => stepArtifactPlan(spec(), 'nope', 'inputs', {}), /no step 'nope'; its steps are: divide, load, other, report/);
  });

  test('the spec is read from a pipeline version with or without its Kubernetes platform document', () => {
    const s = spec();
    assert.equal(pipelineSpecOf({ pipeline_spec: s, platform_spec: {} } as unknown as Record<string, unknown>), s);
    assert.equal(pipelineSpecOf(s as unknown as Record<string, unknown>), s);
    assert.throws(() => pipelineSpecOf({}), /no pipeline spec/);
  });
});

describe("which execution's upload of an artifact is read", () => {
  const P = 'v2/artifacts/debug/run-1/load/';
  const at = (uuid: string, rest: string, time = '2026-12-07T10:00:00.000Z', size = 10) => ({ key: `${P}${uuid}/${rest}`, lastModified: time, size });

  test("the artifact's files under its key, each with its path inside the variable's folder", () => {
    const found = artifactObjects([at('aaa', 'total/cellpipe.json'), at('aaa', 'total/data.json'), at('aaa', 'totals/cellpipe.json'), at('aaa', 'executor-logs-0')], P, 'total');
    assert.equal(found?.prefix, `${P}aaa/total/`);
    assert.deepEqual(found?.files.map((f) => f.path).sort(), ['cellpipe.json', 'data.json'], "not another variable's whose name starts alike");
  });

  test('a retried run: the newest complete execution wins; one without cellpipe.json (cut short) is not complete', () => {
    const objects = [
      at('old', 'total/cellpipe.json', '2026-12-07T10:00:00.000Z'), at('old', 'total/data.json', '2026-12-07T10:00:00.000Z'),
      at('new', 'total/cellpipe.json', '2026-12-07T11:00:00.000Z'), at('new', 'total/data.json', '2026-12-07T11:00:00.000Z'),
      at('cut', 'total/data.json', '2026-12-07T12:00:00.000Z'),
    ];
    assert.equal(artifactObjects(objects, P, 'total')?.executionPrefix, `${P}new/`);
  });

  test('an execution that failed (only its log uploaded) or none at all: nothing', () => {
    assert.equal(artifactObjects([at('f', 'executor-logs-0')], P, 'total'), undefined);
    assert.equal(artifactObjects([], P, 'total'), undefined);
  });

  test("a key that would leave the variable's folder is not taken", () => {
    const found = artifactObjects([at('a', 'total/cellpipe.json'), at('a', 'total/../../x'), at('a', 'total//y')], P, 'total');
    assert.deepEqual(found?.files.map((f) => f.path), ['cellpipe.json']);
  });
});
