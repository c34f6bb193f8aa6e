import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isManagedTag, makeStepTags, readTagEdit, renameStep, setRoleTags, suggestStepName, validateTagEdit, writeTags,
} from './tags.js';

test('reading then writing unchanged tags gives the same tags back (Kale notebook cell)', () => {
  const original = ['step:kid3', 'prev:kid1', 'prev:kid2'];
  assert.deepEqual(writeTags(original, readTagEdit(original)), original);
});

test('every option the editor manages round-trips through its fields', () => {
  const original = ['step:train', 'prev:load', 'image:python:3.11-slim', 'limit:cpu:2', 'limit:memory:4Gi',
    'limit:nvidia.com/gpu:1', 'cache:disabled', 'retries:2', 'timeout:600', 'requirements:pandas==2.2,scikit-learn'];
  const edit = readTagEdit(original);
  assert.equal(edit.role, 'step');
  assert.equal(edit.step, 'train');
  assert.deepEqual(edit.prev, ['load']);
  assert.equal(edit.image, 'python:3.11-slim');
  assert.equal(edit.cpu, '2');
  assert.equal(edit.memory, '4Gi');
  assert.equal(edit.gpu, '1');
  assert.equal(edit.cache, 'disabled');
  assert.equal(edit.retries, '2');
  assert.equal(edit.timeout, '600');
  assert.equal(edit.requirements, 'pandas==2.2,scikit-learn');
  assert.deepEqual(writeTags(original, edit), original);
});

test('tags the editor does not manage are kept, in place, whatever is edited', () => {
  const original = ['secret:db:password:DB_PASS', 'step:load', 'label:team:ml', 'limit:ephemeral-storage:1Gi', 'my-own-tag'];
  const edit = { ...readTagEdit(original), step: 'load_data', cpu: '500m' };
  assert.deepEqual(writeTags(original, edit),
    ['secret:db:password:DB_PASS', 'label:team:ml', 'limit:ephemeral-storage:1Gi', 'my-own-tag', 'step:load_data', 'limit:cpu:500m']);
  assert.equal(isManagedTag('limit:ephemeral-storage:1Gi'), false);
  assert.equal(isManagedTag('limit:nvidia.com/gpu:2'), true);
});

test('an old Kale block: tag is read as a step and rewritten as step:', () => {
  assert.deepEqual(writeTags(['block:sack'], readTagEdit(['block:sack'])), ['step:sack']);
});

test('changing a step cell to a role drops its step options, a role cell never gets them', () => {
  const edit = { ...readTagEdit(['step:a', 'prev:b', 'limit:cpu:1']), role: 'functions' as const };
  assert.deepEqual(writeTags(['step:a', 'prev:b', 'limit:cpu:1'], edit), ['functions']);
  assert.deepEqual(setRoleTags(['step:a', 'prev:b', 'x'], 'none'), ['x']);
  assert.deepEqual(setRoleTags(['imports'], 'skip'), ['skip']);
});

test('step names are validated as typed, with messages naming the field', () => {
  const base = readTagEdit(['step:ok']);
  assert.deepEqual(validateTagEdit(base), []);
  assert.deepEqual(validateTagEdit({ ...base, step: 'kid-4' }), [], 'cellpipe allows - in step names');
  const bad = validateTagEdit({ ...base, step: '4kids' });
  assert.equal(bad.length, 1);
  assert.equal(bad[0].field, 'step');
  assert.match(bad[0].message, /not a valid step name/);
  assert.equal(validateTagEdit({ ...base, step: '' })[0].message, 'a step needs a name');
  assert.equal(validateTagEdit({ ...base, step: 'has space' })[0].field, 'step');
  assert.equal(validateTagEdit({ ...base, prev: ['ok'] })[0].field, 'prev');
  assert.deepEqual(validateTagEdit({ ...base, cpu: 'two', timeout: '0', retries: '-1' }).map((e) => e.field), ['cpu', 'retries', 'timeout']);
});

test('renaming a step rewrites its step:/block: tags and every prev: that names it, nothing else', () => {
  const cells = [['imports'], ['step:sack'], ['step:kid1', 'prev:sack'], ['block:sack'], ['step:kid3', 'prev:kid1', 'prev:sack'], ['step:sackful']];
  const out = renameStep(cells, 'sack', 'bag');
  assert.deepEqual(out, [['imports'], ['step:bag'], ['step:kid1', 'prev:bag'], ['block:bag'], ['step:kid3', 'prev:kid1', 'prev:bag'], ['step:sackful']]);
  assert.equal(out[0], cells[0], 'untouched cells keep their array');
});

test('renaming onto an existing prev: does not duplicate it', () => {
  assert.deepEqual(renameStep([['step:c', 'prev:a', 'prev:b']], 'a', 'b'), [['step:c', 'prev:b']]);
});

test('making a cell a new step keeps its foreign tags and suggests unused names', () => {
  assert.deepEqual(makeStepTags(['skip', 'mine'], 'kid4', ['kid3']), ['mine', 'step:kid4', 'prev:kid3']);
  assert.equal(suggestStepName(['step1', 'step2', 'x']), 'step3');
});

test('environment variables are edited as NAME=value lines and written as env: tags, checked as the compiler checks them', () => {
  const original = ['step:load', 'env:DATASET_URL=https://example.com/d.csv?a=1', 'env:MODE=batch'];
  const edit = readTagEdit(original);
  assert.equal(edit.env, 'DATASET_URL=https://example.com/d.csv?a=1\nMODE=batch');
  assert.deepEqual(writeTags(original, edit), original);
  assert.deepEqual(writeTags(original, { ...edit, env: 'MODE=stream\n\n  REGION=eu  ' }), ['step:load', 'env:MODE=stream', 'env:REGION=eu']);
  const error = (env: string) => validateTagEdit({ ...edit, env }).find((e) => e.field === 'env')?.message;
  assert.equal(error('MODE=stream'), undefined);
  assert.match(error('just-a-name')!, /write NAME=value/);
  assert.match(error('1X=2')!, /'1X' is not a valid environment variable name/);
  assert.match(error('API_TOKEN=abc')!, /named like a credential.*secret:<secret name>:<key>:API_TOKEN/);
  assert.match(error('LIST=a,b')!, /cannot hold a comma.*metadata\.cellpipe\.env/);
});
