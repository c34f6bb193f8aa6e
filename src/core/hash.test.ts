import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalHash, canonicalJson, sha256Hex } from './hash.js';

test('canonical JSON sorts object keys at every depth, so key order never changes the text', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: 'c' } }), '{"a":{"c":"c","d":[2,{"x":0,"y":1}]},"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

test('a key whose value is undefined is left out, as JSON.stringify does: a record reads the same after a round trip', () => {
  const made = { name: 'train', cachedFrom: undefined, env: { A: '1', B: undefined } };
  assert.equal(canonicalJson(made), '{"env":{"A":"1"},"name":"train"}');
  assert.equal(canonicalJson(made), canonicalJson(JSON.parse(JSON.stringify(made))));
});

test('undefined itself is the empty text, which no JSON value has: a missing value differs from null and from ""', () => {
  assert.equal(canonicalJson(undefined), '');
  assert.notEqual(canonicalJson(undefined), canonicalJson(null));
  assert.notEqual(canonicalJson(undefined), canonicalJson(''));
  assert.equal(canonicalJson([1, undefined, 2]), '[1,,2]');
});

test('canonicalHash is the sha256 of the canonical text, the same as Node computes it', () => {
  const value = { z: [1, 'two', { b: null, a: undefined }], a: true };
  assert.equal(canonicalHash(value), createHash('sha256').update('{"a":true,"z":[1,"two",{"b":null}]}').digest('hex'));
  assert.equal(sha256Hex('é'), createHash('sha256').update('é', 'utf8').digest('hex'));
});

test('cache keys made before canonical JSON moved into core stay the same (entries in existing stores still hit)', () => {
  // Hashes written by the step cache's own canonical JSON before it moved here (runtimes/local/cache.ts).
  assert.equal(canonicalHash({ z: [1, 'two', { b: null, a: undefined }], a: true }), 'bd7924b7072ddbeea20eeba935db864e57e0a3ef5ffed39dcd9ef25038920d23');
  assert.equal(canonicalHash('x'), 'ba2df4903a2c14e86dc3bcca58911b44ac1d2514b7227bf6eb08cfb978f55a1b');
  const parts = {
    v: 1,
    program: { name: 'train', cells: ['import x', 'y = x.f(1)'], inputs: ['a'], outputs: ['b'] },
    inputs: { a: 'abc' },
    parameters: { lr: '0.1' },
    runtimeVersion: 'rv1',
    env: undefined,
    files: { 'data.csv': 'deadbeef' },
  };
  assert.equal(canonicalHash(parts), '690e437137bef200e0fbbb8ec49f88308a659a27cabb0dbfaa1644d6d76fdc1a');
});
