import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parameterFromText, valueFits } from './parameter-values.js';

test('text becomes a value of the parameter type, or undefined when it is not one', () => {
  assert.equal(parameterFromText('int', ' 42 '), 42);
  assert.equal(parameterFromText('int', '4.2'), undefined);
  assert.equal(parameterFromText('int', '99999999999999999999'), undefined);
  assert.equal(parameterFromText('float', '1e-3'), 0.001);
  assert.equal(parameterFromText('float', ''), undefined);
  assert.equal(parameterFromText('float', 'NaN'), undefined);
  assert.equal(parameterFromText('bool', 'True'), true);
  assert.equal(parameterFromText('bool', 'no'), false);
  assert.equal(parameterFromText('bool', 'maybe'), undefined);
  assert.equal(parameterFromText('str', ' kept as typed '), ' kept as typed ');
  assert.deepEqual(parameterFromText('list', '[1, "a"]'), [1, 'a']);
  assert.equal(parameterFromText('list', '{"a": 1}'), undefined);
  assert.deepEqual(parameterFromText('dict', '{"a": [1]}'), { a: [1] });
  assert.equal(parameterFromText('dict', 'not json'), undefined);
});

test('typed JSON values are checked against the type; an int is a valid float', () => {
  assert.ok(valueFits('float', 3));
  assert.ok(!valueFits('int', 3.5));
  assert.ok(!valueFits('str', 3));
  assert.ok(!valueFits('bool', 'true'));
  assert.ok(valueFits('dict', {}));
  assert.ok(!valueFits('dict', []));
  assert.ok(!valueFits('dict', null));
});
