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
    /** Whether the shown run is a composing notebook's, seen from a notebook it referenced (PipelineModel.partOf). */
    composedView: false,
    ranHere(s: StepRecord) {
      return !s.unit || this.composedView;
    },
    recordedStep(name: string) {
      const s = this.run?.steps.find((x) => x.name === name);
      return this.composedView && s?.unit ? `${s.unit.name}-${s.unit.step}` : name;
    },
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
  return { model: model as unknown as PipelineModel, fake: model, asked, show, release, errors };
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

test('a composing notebook\'s run: its cells take its own steps\' outputs only; a notebook it referenced asks for its steps by their names in the run', async () => {
  const unit = { name: 'features', notebook: 'features.ipynb', step: 'smooth' };
  const root = page();
  const rootOutputs = new RunOutputsModel(root.model);
  root.show(run('r1', [{ ...step('features-smooth', 'succeeded', 'x.json'), unit }, step('train', 'succeeded', 'y.json')]));
  assert.deepEqual(root.asked, ['r1/train'], 'features.ipynb\'s cells ran in features-smooth, not cells of this notebook');
  rootOutputs.dispose();

  const referenced = page();
  referenced.fake.composedView = true;
  const outputs = new RunOutputsModel(referenced.model);
  referenced.show(run('r1', [{ ...step('smooth', 'succeeded', 'x.json'), unit }]));
  assert.deepEqual(referenced.asked, ['r1/features-smooth']);
  await referenced.release();
  assert.deepEqual(outputs.steps().map((s) => s.step), ['smooth'], 'kept under the name the notebook knows the step by');
  outputs.dispose();
});
