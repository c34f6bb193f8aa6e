import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logFolded, readFoldChoices, writeFoldChoices } from './logFold.js';

test('a succeeded or reused step whose outputs show under its cells starts with its log folded', () => {
  assert.equal(logFolded('succeeded', true, undefined), true);
  assert.equal(logFolded('cached', true, undefined), true);
});

test('a log stays open while the step runs, when it failed, and when nothing of it shows under the cells', () => {
  assert.equal(logFolded('running', true, undefined), false);
  assert.equal(logFolded('failed', true, undefined), false);
  assert.equal(logFolded('succeeded', false, undefined), false);
  assert.equal(logFolded('cancelled', true, undefined), false);
});

test('the user\'s own fold or open wins in every state', () => {
  assert.equal(logFolded('succeeded', true, false), false);
  assert.equal(logFolded('running', false, true), true);
});

test('choices round-trip, and the older list of folded steps still reads', () => {
  const c = readFoldChoices(writeFoldChoices(new Map([['load', true], ['train', false]])));
  assert.deepEqual([...c], [['load', true], ['train', false]]);
  assert.deepEqual([...readFoldChoices('["slow"]')], [['slow', true]]);
  assert.deepEqual([...readFoldChoices('not json')], []);
  assert.equal(writeFoldChoices(new Map()), null);
});
