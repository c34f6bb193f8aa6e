import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileNotebook } from '../../core/compile.js';
import type { RunRecord, StepRecord } from '../../runs/types.js';
import { cellToSelect, loadCode, partialChoice, reuseWording, reusesEarlierRun, runToLoad, saidOf, shellQuote, stepToDebug } from './debug.js';

const code = (tags: string[], source: string) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
const graph = compileNotebook(JSON.stringify({
  nbformat: 4, nbformat_minor: 5, metadata: {},
  cells: [
    code(['imports'], 'import math'),
    code(['step:load'], 'total = 10'),
    code(['step:divide', 'prev:load'], 'half = total / 2'),
    code([], 'share = total / 0'),
  ],
}), { path: 'nb.ipynb' }).graph!;

const step = (name: string, state: StepRecord['state'], extra: Partial<StepRecord> = {}): StepRecord => ({ name, state, attempts: 1, outputs: [], metrics: {}, ...extra });
const run = (id: string, createdAt: string, steps: StepRecord[]): RunRecord =>
  ({ id, notebook: 'nb.ipynb', notebookHash: '', specHash: '', runtime: 'local', parameters: {}, state: 'failed', createdAt, steps });

test('the actions on a step ask the backend what cellpipe run --only / --from / --no-cache ask', () => {
  assert.deepEqual(partialChoice('only', 'divide'), { only: ['divide'] });
  assert.deepEqual(partialChoice('from', 'divide'), { from: 'divide' });
  assert.deepEqual(partialChoice('no-cache'), { cache: false });
  assert.throws(() => partialChoice('only'), /needs a step/);
  assert.equal(reusesEarlierRun('local'), true);
  assert.equal(reusesEarlierRun('containers'), true);
  assert.equal(reusesEarlierRun('kf'), false, 'a Kubeflow profile');
  assert.match(reuseWording('local'), /from the latest run that has them/);
  assert.match(reuseWording('kf'), /KFP's cached outputs where their inputs are unchanged/);
});

test('the debugging panel starts on the failed step of the shown run, else the first step', () => {
  const failed = run('r1', '2026-01-01', [step('load', 'succeeded'), step('divide', 'failed')]);
  assert.equal(stepToDebug(graph, failed), 'divide');
  assert.equal(stepToDebug(graph, undefined), 'load');
  assert.equal(stepToDebug(undefined, undefined), undefined);
});

test('the kernel code runs the imports cells, loads the extension, then the step of that run from its store, quoted for shlex', () => {
  assert.equal(loadCode({ step: 'divide', runId: '20260101-000000-abc', store: "/data/my runs/it's/.cellpipe", prelude: ['import math', '  '] }),
    "import math\n%load_ext cellpipe\n%cellpipe load divide --run 20260101-000000-abc --store '/data/my runs/it'\"'\"'s/.cellpipe'");
  assert.equal(loadCode({ step: 'a-b', runId: 'r', what: 'outputs' }), '%load_ext cellpipe\n%cellpipe load a-b --run r --outputs');
  assert.equal(shellQuote('plain/path-1.x'), 'plain/path-1.x');
  assert.equal(shellQuote('two words'), "'two words'");
});

test('after loading, the cell that raised is selected; for a step that did not fail, its first cell', () => {
  const failed = run('r1', '2026-01-01', [step('load', 'succeeded'), step('divide', 'failed', { error: { message: 'ZeroDivisionError: division by zero', cell: 3 } })]);
  assert.equal(cellToSelect('divide', failed, graph), 3);
  assert.equal(cellToSelect('load', failed, graph), 1);
  assert.equal(cellToSelect('divide', undefined, graph), 2);
});

test('values are loaded from the shown run when the step started there, else from the newest run in which it did', () => {
  const older = run('r1', '2026-01-01', [step('load', 'succeeded'), step('divide', 'failed')]);
  const newer = run('r2', '2026-01-02', [step('load', 'failed'), step('divide', 'skipped')]);
  assert.equal(runToLoad('divide', newer, [older, newer])?.id, 'r1', 'divide was skipped in the shown run');
  assert.equal(runToLoad('load', newer, [older, newer])?.id, 'r2');
  assert.equal(runToLoad('divide', undefined, [newer]), undefined);
});

test('saidOf reads what %cellpipe load said from the execute reply\'s user expression (a Python str repr, either quote)', () => {
  const reply = (text: string, status = 'ok') => ({ status: 'ok', user_expressions: { said: { status, data: { 'text/plain': text } } } });
  assert.equal(saidOf(reply(`"cellpipe: inputs of step 'divide' loaded: DIVISOR (int), total (int), unit (str)"`)), "cellpipe: inputs of step 'divide' loaded: DIVISOR (int), total (int), unit (str)");
  assert.equal(saidOf(reply(`'cellpipe: outputs of step "a" loaded: x (int)'`)), 'cellpipe: outputs of step "a" loaded: x (int)');
  assert.equal(saidOf(reply(`'it\\'s'`)), "it's");
  assert.equal(saidOf(reply("''")), undefined, 'nothing said yet');
  assert.equal(saidOf(reply('NameError', 'error')), undefined, 'the expression failed (cellpipe not loaded)');
  assert.equal(saidOf({ status: 'ok' }), undefined);
});
