import { test } from 'node:test';
import assert from 'node:assert/strict';
import { versionMismatch } from './version.js';

test('a page and a backend of the same version say nothing', () => {
  assert.equal(versionMismatch('0.1.0', '0.1.0'), null);
});

test('different versions name both and say what to do: reload, else one install of cellpipe', () => {
  const m = versionMismatch('0.1.0', '0.2.0');
  assert.ok(m);
  assert.match(m.text, /page is version 0\.1\.0 but its backend is version 0\.2\.0/);
  assert.match(m.hint, /Reload this browser page/);
  assert.match(m.hint, /pip install --upgrade cellpipe/);
});
