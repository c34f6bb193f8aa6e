import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeError } from './kubeflow-notebook.js';
import { CronError } from '../core/cron.js';
import { KfpError } from '../kfp/errors.js';
import { TargetError } from '../runtimes/targets/target.js';

test('describeError prints a KFP error as its own describe() does: message, then the fix', () => {
  const err = new KfpError('unreachable', 'cannot reach KFP at http://127.0.0.1:1', "start KFP or set 'kfp.host' of profile 'test'");
  assert.equal(describeError(err), err.describe());
  assert.equal(describeError(err), "cannot reach KFP at http://127.0.0.1:1\n  fix: start KFP or set 'kfp.host' of profile 'test'");
});

test('describeError gives the fix of any cellpipe error that has one, with no list of error classes to keep', () => {
  assert.equal(describeError(new CronError("'61 * * * *': minute 61 is out of range", 'minutes run 0-59')), "'61 * * * *': minute 61 is out of range\n  fix: minutes run 0-59");
  assert.equal(describeError(new TargetError('usage', "unknown target 'gpu'", "pick one of: local, containers")), "unknown target 'gpu'\n  fix: pick one of: local, containers");
});

test('describeError prints only the message of an error without a fix, and a thrown non-error as text', () => {
  assert.equal(describeError(new TargetError('conflict', 'a run of this notebook is already going')), 'a run of this notebook is already going');
  assert.equal(describeError(new Error('socket hang up')), 'socket hang up');
  assert.equal(describeError('plain text'), 'plain text');
});
