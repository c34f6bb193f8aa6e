/**
 * Which outputs the page asks the backend for, and when: a step's once it has ended and written them (again only when
 * it wrote new ones), none for a run no longer shown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Signal } from '@lumino/signaling';
import { RunOutputsModel } from './runOutputs.js';
import type { PipelineModel } from './pipeline.js';
import type { RunRecord, StepRecord } from '../runs/types.js';

const step = (name: string, state: StepRecord['state'], cellOutputs?: string): StepRecord => ({ name, state, attempts: 1, outputs: [], metrics: {}, cellOutputs });
const run = (id: string, steps: StepRecord[]): RunRecord =>
  ({ id, notebook: 'nb.ipynb', notebookHash: '', specHash: '', runtime: 'local', parameters: {}, state: 'running', createdAt: '', steps }) as RunRecord;

/** A page model with the one signal and the one request RunOutputsModel uses; answers wait until released. */
function page() {
  const asked: string[] = [];
  const pending: (() => void)[] = [];
  const errors: unknown[] = [];
  const model = {
    path: 'nb.ipynb',
    run: undefined as RunRecord | undefined,
    runChanged: undefined as unknown as Signal<unknown, RunRecord | undefined>,
    reportError: (err: unknown) => errors.push(err),
    api: {
      stepOutputs: (id: string, name: string) => {
        asked.push(`${id}/${name}`);
        return new Promise((resolve) => pending.push(() => resolve({ run: id, step: name, recorded: true, fromRun: id, cells: { '0': { outputs: [{ output_type: 'stream', name: 'stdout', text: name }] } } })));
      },
    },
  };
  model.runChanged = new Signal(model);
  const show = (r: RunRecord) => {
    model.run = r;
    model.runChanged.emit(r);
  };
  const release = async () => {
    for (const p of pending.splice(0)) p();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { model: model as unknown as PipelineModel, asked, show, release, errors };
}

test('a step\'s outputs are fetched once it ended and wrote them, again only when it wrote new ones', async () => {
  const p = page();
  const outputs = new RunOutputsModel(p.model);
  let changes = 0;
  outputs.changed.connect(() => changes++);
  p.show(run('r1', [step('a', 'running'), step('b', 'pending')]));
  assert.deepEqual(p.asked, []);
  p.show(run('r1', [step('a', 'succeeded', 'runs/r1/steps/a/cell-outputs.json'), step('b', 'running')]));
  p.show(run('r1', [step('a', 'succeeded', 'runs/r1/steps/a/cell-outputs.json'), step('b', 'running')]));
  assert.deepEqual(p.asked, ['r1/a']);
  await p.release();
  assert.deepEqual(outputs.steps().map((s) => s.step), ['a']);
  assert.ok(changes >= 2);
  // A retried step writes a new file: asked again.
  p.show(run('r1', [step('a', 'succeeded', 'runs/r1/steps/a/attempt-2/cell-outputs.json'), step('b', 'failed', 'runs/r1/steps/b/cell-outputs.json')]));
  assert.deepEqual(p.asked, ['r1/a', 'r1/a', 'r1/b']);
  await p.release();
  assert.deepEqual(outputs.steps().map((s) => s.step), ['a', 'b']);
  assert.deepEqual(p.errors, []);
  outputs.dispose();
});

test('answers for a run that is no longer shown are dropped', async () => {
  const p = page();
  const outputs = new RunOutputsModel(p.model);
  p.show(run('old', [step('a', 'succeeded', 'runs/old/steps/a/cell-outputs.json')]));
  p.show(run('new', [step('a', 'running')]));
  await p.release();
  assert.equal(outputs.runId, 'new');
  assert.deepEqual(outputs.steps(), []);
  outputs.dispose();
});
