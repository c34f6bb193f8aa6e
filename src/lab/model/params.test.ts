import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readParameterInput, showParameter, textMeans } from './params.js';

test('a float parameter shows as a float, as the code writes it; other values as they are', () => {
  assert.equal(showParameter(1, 'float'), '1.0');
  assert.equal(showParameter(14, 'float'), '14.0');
  assert.equal(showParameter(0.25, 'float'), '0.25');
  assert.equal(showParameter(3, 'int'), '3');
  assert.equal(showParameter('wine', 'str'), 'wine');
  assert.equal(showParameter([1, 2], 'list'), '[1,2]');
  assert.equal(showParameter(true, 'bool'), 'true');
});

test('the sidebar reads a typed value with the backend\'s parser: what it accepts, a run accepts', () => {
  assert.deepEqual(readParameterInput({ name: 'C', type: 'float' }, '0.5'), { value: 0.5 });
  assert.deepEqual(readParameterInput({ name: 'n', type: 'int' }, ' 20 '), { value: 20 });
  assert.deepEqual(readParameterInput({ name: 'on', type: 'bool' }, 'yes'), { value: true });
  assert.deepEqual(readParameterInput({ name: 'xs', type: 'list' }, '[1, 2]'), { value: [1, 2] });
  assert.deepEqual(readParameterInput({ name: 's', type: 'str' }, ' a b '), { value: ' a b ' });
});

test('what the backend would refuse, the sidebar refuses with the parameter\'s name and an example (the looser reading took it as text)', () => {
  assert.deepEqual(readParameterInput({ name: 'n', type: 'int' }, '2.5'), { error: "n: '2.5' is not an int; write an int, e.g. 20" });
  assert.deepEqual(readParameterInput({ name: 'n', type: 'int' }, '99999999999999999999'), { error: "n: '99999999999999999999' is too large; write an int, e.g. 20" });
  assert.deepEqual(readParameterInput({ name: 'C', type: 'float' }, ''), { error: "C: '' is empty; write a float, e.g. 0.5" });
  assert.deepEqual(readParameterInput({ name: 'C', type: 'float' }, '1,5'), { error: "C: '1,5' is not a float; write a float, e.g. 0.5" });
  assert.deepEqual(readParameterInput({ name: 'xs', type: 'list' }, '{"a": 1}'), { error: "xs: '{\"a\": 1}' is not a JSON array; write a list, e.g. [1, 2]" });
  assert.deepEqual(readParameterInput({ name: 'on', type: 'bool' }, 'maybe'), { error: "on: 'maybe' is not a bool; write a bool, e.g. true or false" });
});

test('a box keeps the spelling the user typed while it means the value in force', () => {
  assert.equal(textMeans({ name: 'C', type: 'float' }, '2.50', 2.5), true);
  assert.equal(textMeans({ name: 'xs', type: 'list' }, '[1, 2]', [1, 2]), true);
  assert.equal(textMeans({ name: 'C', type: 'float' }, '2.5', 3), false);
  assert.equal(textMeans({ name: 'C', type: 'float' }, 'x', 'x'), false);
});
