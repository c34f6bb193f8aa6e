import { test } from 'node:test';
import assert from 'node:assert/strict';
import { showParameter } from './params.js';

test('a float parameter shows as a float, as the code writes it; other values as they are', () => {
  assert.equal(showParameter(1, 'float'), '1.0');
  assert.equal(showParameter(14, 'float'), '14.0');
  assert.equal(showParameter(0.25, 'float'), '0.25');
  assert.equal(showParameter(3, 'int'), '3');
  assert.equal(showParameter('wine', 'str'), 'wine');
  assert.equal(showParameter([1, 2], 'list'), '[1,2]');
  assert.equal(showParameter(true, 'bool'), 'true');
});
