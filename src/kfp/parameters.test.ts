/** Runtime parameters as KFP checks them, and KFP states as cellpipe records them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileNotebook } from '../core/compile.js';
import { KfpParameterError, rootParameters, runtimeParameters, specDocument } from './parameters.js';
import { checkRuntimeParameters } from './testing/fake-server.js';
import { runState, stepPatches } from './states.js';
import type { KfpRun } from './client.js';

const PARAMS = new URL('../../../shared/corpus/kale/pipeline_parameters_and_metrics.ipynb', import.meta.url).pathname;

test('the parameters of a compiled corpus notebook, overridden from command-line text, pass the backend\'s own checks', () => {
  const r = compileNotebook(readFileSync(PARAMS, 'utf8'), { path: 'p.ipynb' });
  const spec = specDocument(r.yaml!);
  const params = rootParameters(spec);
  assert.deepEqual(params.map((p) => [p.name, p.type]).sort(), [['booltest', 'BOOLEAN'], ['d1', 'NUMBER_INTEGER'], ['d2', 'NUMBER_INTEGER'], ['strtest', 'STRING']]);
  const values = runtimeParameters(params, { texts: { d1: '10', booltest: 'false', strtest: '42' } });
  assert.equal(values.d1, 10);
  assert.equal(values.booltest, false);
  assert.equal(values.strtest, '42', 'a string parameter keeps the text as is');
  assert.equal(checkRuntimeParameters(spec, values), undefined);
  assert.match(checkRuntimeParameters(spec, { ...values, extra: 1 })!, /not required by pipeline: extra/);
});

test('wrong parameter text fails with the parameter name, its type and an example', () => {
  const params = [
    { name: 'n', type: 'NUMBER_INTEGER' as const, optional: true, default: 1 },
    { name: 'x', type: 'NUMBER_DOUBLE' as const, optional: true, default: 0.5 },
    { name: 'l', type: 'LIST' as const, optional: true, default: [] },
    { name: 'req', type: 'STRING' as const, optional: false },
  ];
  assert.throws(() => runtimeParameters(params, { texts: { n: '1.5', req: 'a' } }), (e: unknown) => e instanceof KfpParameterError && /n is an integer/.test(e.message) && /e\.g\. 3/.test(e.hint));
  assert.throws(() => runtimeParameters(params, { texts: { l: '{"a":1}', req: 'a' } }), /l is a JSON list/);
  assert.throws(() => runtimeParameters(params, {}), /parameter 'req' has no value/);
  assert.deepEqual(runtimeParameters(params, { texts: { x: '2', l: '[1,"b"]', req: '' } }), { n: 1, x: 2, l: [1, 'b'], req: '' });
});

test('run states: terminated runs end cancelled (KFP reports them FAILED); SKIPPED tasks are cache hits', () => {
  assert.equal(runState('FAILED'), 'failed');
  assert.equal(runState('FAILED', true), 'cancelled');
  assert.equal(runState('CANCELING'), 'running');
  assert.equal(runState(undefined), 'queued');
  const run: KfpRun = {
    run_id: 'r', state: 'SUCCEEDED', finished_at: '2026-01-01T00:00:09Z',
    run_details: {
      task_details: [
        { task_id: 'root', display_name: 'root', state: 'SUCCEEDED' },
        { task_id: 't1', display_name: 'load-data', parent_task_id: 'root', state: 'SKIPPED', start_time: '2026-01-01T00:00:01Z' },
        { task_id: 't2', display_name: 'train', parent_task_id: 'root', state: 'SUCCEEDED', start_time: '2026-01-01T00:00:02Z', end_time: '2026-01-01T00:00:08Z' },
        { task_id: 'e1', display_name: 'executor', parent_task_id: 't2', state: 'FAILED' },
        { task_id: 'e2', display_name: 'executor(1)', parent_task_id: 't2', state: 'SUCCEEDED' },
        { task_id: 'd', display_name: 'train-driver', parent_task_id: 'root', state: 'SUCCEEDED' },
      ],
    },
  };
  const p = stepPatches(run, [{ name: 'load_data', task: 'load-data' }, { name: 'train', task: 'train' }, { name: 'report', task: 'report' }]);
  assert.equal(p.load_data.state, 'cached');
  assert.deepEqual(p.train, { state: 'succeeded', startedAt: '2026-01-01T00:00:02Z', finishedAt: '2026-01-01T00:00:08Z', attempts: 2 });
  assert.equal(p.report.state, 'skipped', 'a step KFP never started in a finished run was skipped');
});
