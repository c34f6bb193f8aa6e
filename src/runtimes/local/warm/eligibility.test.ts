/** Which imports cells a fork server may run ahead (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StepProgram } from '../../../core/model.js';
import { warmPlan } from './eligibility.js';

const program = (cells: [StepProgram['cells'][number]['role'], string][], parameters: string[] = []): StepProgram => ({
  format: 'cellpipe.step/v1', pipeline: 'p', step: 's', notebook: 'n.ipynb',
  cells: cells.map(([role, source], index) => ({ index, role, source })),
  parameters: parameters.map((name) => ({ name, type: 'int' })), inputs: [], outputs: [], metrics: [],
});

test('the leading imports cells run ahead; functions and step cells run in the step', () => {
  const plan = warmPlan(program([['imports', 'import json'], ['imports', 'import re'], ['functions', 'def f(): pass'], ['imports', 'import os'], ['step', 'x = 1']]));
  assert.ok('cells' in plan);
  assert.deepEqual(plan.cells.map((c) => c.source), ['import json', 'import re']);
});

test('no imports cells: nothing runs ahead, the step still forks from a warm runtime', () => {
  const plan = warmPlan(program([['step', 'x = 1']]));
  assert.deepEqual(plan, { cells: [] });
});

test('a %% cell magic in an imports cell means a cold start, naming the cell as JupyterLab numbers it', () => {
  assert.deepEqual(warmPlan(program([['imports', 'import json'], ['imports', '\n%%bash\necho hi']])), {
    cold: 'imports cell 2 ("%%bash") is a %%bash cell magic, which a fork server does not run ahead',
  });
  assert.ok('cells' in warmPlan(program([['imports', 'import json\n%time import re']])), 'line magics are fine');
});

test('an imports cell reading a parameter means a cold start; other names that contain it do not', () => {
  assert.match((warmPlan(program([['imports', 'import numpy as np\nnp.random.seed(SEED)']], ['SEED'])) as { cold: string }).cold, /uses the pipeline parameter SEED/);
  assert.ok('cells' in warmPlan(program([['imports', 'import cfg\nSEED_BASE = cfg.SEED + 1']], ['SEED'])), 'SEED_BASE and cfg.SEED are other names');
});
