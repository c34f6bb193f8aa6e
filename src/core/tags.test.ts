import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCellTags, nearestTag, isKnownTag, KNOWN_TAG_FORMS } from './tags.js';
import type { NotebookCell } from './model.js';

const cell = (tags: string[]): NotebookCell => ({ index: 3, id: 'abc', type: 'code', source: 'x = 1', tags });

test('Kale role tags give the cell its role', () => {
  for (const role of ['imports', 'functions', 'pipeline-parameters', 'pipeline-metrics', 'skip'] as const) {
    assert.equal(parseCellTags(cell([role])).tags.role, role);
  }
});

test('step: and the old block: spelling name a step; names may contain -', () => {
  assert.deepEqual(parseCellTags(cell(['step:load-data'])).tags.step, 'load-data');
  assert.deepEqual(parseCellTags(cell(['block:train_model'])).tags.step, 'train_model');
});

test('every step option is read with its value', () => {
  const { tags, diagnostics } = parseCellTags(cell([
    'step:train', 'prev:load', 'prev:clean', 'limit:nvidia.com/gpu:2', 'limit:memory:4Gi', 'image:repo/img:1',
    'cache:disabled', 'secret:db:password:DB_PASS', 'annotation:owner:ana', 'label:team:ml',
    'requirements:pandas==2.2,scikit-learn', 'timeout:600', 'retries:3',
  ]));
  assert.deepEqual(diagnostics.map((d) => [d.severity, d.code]), [['info', 'secret-outside-kubernetes']], 'only the note on what secret: does outside Kubernetes');
  assert.deepEqual(tags.prev, ['load', 'clean']);
  assert.deepEqual(tags.limits, { 'nvidia.com/gpu': '2', memory: '4Gi' });
  assert.equal(tags.image, 'repo/img:1');
  assert.equal(tags.cache, false);
  assert.deepEqual(tags.secrets, [{ secret: 'db', key: 'password', env: 'DB_PASS' }]);
  assert.deepEqual(tags.annotations, { owner: 'ana' });
  assert.deepEqual(tags.labels, { team: 'ml' });
  assert.deepEqual(tags.requirements, ['pandas==2.2', 'scikit-learn']);
  assert.equal(tags.timeout, 600);
  assert.equal(tags.retries, 3);
});

test('an unknown tag is a warning that suggests the nearest known tag, on the cell', () => {
  const { diagnostics } = parseCellTags(cell(['step:a', 'limt:cpu:1']));
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0].severity, 'warning');
  assert.equal(diagnostics[0].code, 'unknown-tag');
  assert.equal(diagnostics[0].cell, 3);
  assert.equal(diagnostics[0].cellId, 'abc');
  assert.match(diagnostics[0].hint!, /limit:cpu:1/);
  assert.equal(nearestTag('improts'), 'imports');
  // Names an object inherits are tags like any other.
  for (const odd of ['constructor', 'toString']) assert.equal(parseCellTags(cell([odd])).tags.role, undefined, odd);
  assert.equal(nearestTag('completely-unrelated-words'), undefined);
});

test('bad values are errors that say how to write the tag', () => {
  for (const bad of ['step:1abc', 'step:has space', 'limit:cpu', 'cache:maybe', 'secret:a:b', 'timeout:soon', 'timeout:0', 'retries:-1', 'requirements:']) {
    const { diagnostics } = parseCellTags(cell([bad]));
    assert.equal(diagnostics[0]?.severity, 'error', bad);
    assert.ok(diagnostics[0].hint, bad);
  }
});

test('two step names on one cell are an error; a second role or a step name beside a role is ignored with a warning', () => {
  const twoNames = parseCellTags(cell(['step:a', 'step:b'])).diagnostics;
  assert.deepEqual(twoNames.map((d) => [d.severity, d.code]), [['error', 'conflicting-tags']]);
  const roleAndStep = parseCellTags(cell(['step:a', 'imports']));
  assert.equal(roleAndStep.tags.role, 'imports');
  assert.equal(roleAndStep.tags.step, undefined);
  assert.deepEqual(roleAndStep.diagnostics.map((d) => [d.severity, d.code]), [['warning', 'conflicting-tags']]);
  assert.match(roleAndStep.diagnostics[0].message, /'step:a' is ignored: the cell is 'imports'/);
  assert.equal(parseCellTags(cell(['skip', 'functions'])).tags.role, 'skip');
});

test('an empty step: or block: is no step tag; names may start with _ and are trimmed', () => {
  for (const tags of [['block:'], ['step:'], ['block: ']]) {
    const { tags: parsed, diagnostics } = parseCellTags(cell(tags));
    assert.deepEqual([parsed.role, parsed.step, diagnostics], [undefined, undefined, []], tags[0]);
  }
  assert.equal(parseCellTags(cell(['step:_private'])).tags.step, '_private');
  assert.deepEqual(parseCellTags(cell(['step: load', 'prev: _a'])).tags.prev, ['_a']);
});

test('limit: values are Kubernetes quantities', () => {
  for (const ok of ['1', '0.5', '.5', '1.', '500m', '100n', '2u', '2Gi', '1Ei', '1e3', '1E3', '2k', '3M', '1E']) {
    assert.deepEqual(parseCellTags(cell([`limit:cpu:${ok}`])).diagnostics, [], ok);
  }
  for (const bad of ['2GB', '2K', '2gi', '-1', '1e', 'lots', '1.2.3']) {
    const { tags, diagnostics } = parseCellTags(cell([`limit:cpu:${bad}`]));
    assert.deepEqual([diagnostics[0]?.severity, diagnostics[0]?.code, tags.limits], ['warning', 'invalid-tag-value', {}], bad);
  }
  for (const malformed of ['limit:cpu:', 'limit:cpu', 'limit::1']) {
    assert.equal(parseCellTags(cell([malformed])).diagnostics[0]?.severity, 'error', malformed);
  }
});

test('one vocabulary: every documented tag form is known, whatever its value; other tools\' tags are not', () => {
  for (const form of KNOWN_TAG_FORMS) assert.ok(isKnownTag(form), form);
  for (const tag of ['env:A=1', 'report:enabled', 'requirements:pandas', 'block:']) assert.ok(isKnownTag(tag), tag);
  for (const tag of ['parameters', 'papermill', 'hide-input', 'env', ':step', 'stepx:a']) assert.equal(isKnownTag(tag), false, tag);
});
