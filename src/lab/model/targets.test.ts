import { test } from 'node:test';
import assert from 'node:assert/strict';
import { targetOptions, unavailableTargets, validTarget, runButtonLabel, showsSubmitStages, submitStages, runtimeLabel } from './targets.js';

test('the picker offers Local first, then each profile; a broken profile is disabled with its error as tooltip', () => {
  const opts = targetOptions({
    profiles: [
      { name: 'dev', kind: 'kubeflow', namespace: 'team-a', registry: '127.0.0.1:5000' },
      { name: 'prod', kind: 'kubeflow', namespace: 'prod', error: 'field "registry" is missing' },
    ],
  });
  assert.deepEqual(opts.map((o) => [o.value, o.disabled]), [['local', false], ['dev', false], ['prod', true]]);
  assert.equal(opts[0]!.label, 'Local (this machine)');
  assert.match(opts[1]!.label, /team-a/);
  assert.equal(opts[2]!.title, 'field "registry" is missing');
});

test('inside a Kubeflow notebook pod the profile nobody wrote is offered as this notebook\'s namespace', () => {
  const opts = targetOptions({ profiles: [{ name: 'kubeflow', kind: 'kubeflow', namespace: 'kubeflow-user-example-com', source: 'notebook-pod' }] });
  assert.deepEqual(opts.map((o) => [o.value, o.label, o.disabled]), [
    ['local', 'Local (this machine)', false],
    ['kubeflow', "kubeflow (this notebook's namespace · kubeflow-user-example-com)", false],
  ]);
  assert.match(opts[1]!.title, /this notebook's image as the steps' base[\s\S]*no profile written/);
  assert.equal(runButtonLabel('kubeflow'), 'Build & Submit');
});

test('"This machine, in containers" is offered from the answer to a settings change as from GET /api/profiles', () => {
  const opts = targetOptions({ profiles: [], containers: {} });
  assert.deepEqual(opts.map((o) => [o.value, o.label, o.disabled]), [['local', 'Local (this machine)', false], ['containers', 'This machine, in containers', false]]);
});

test('a profile the backend found unusable is disabled and listed with why and the backend\'s own fix', () => {
  const opts = targetOptions({
    profiles: [{ name: 'kf', kind: 'kubeflow', namespace: 'team-a', error: 'no kubeconfig found (looked at /home/me/.kube/config)', hint: "set 'kubeconfig' in profile 'kf', or KUBECONFIG" }],
    containers: { error: 'runc is not installed' },
  });
  assert.deepEqual(opts.map((o) => [o.value, o.disabled]), [['local', false], ['containers', true], ['kf', true]]);
  assert.match(opts[2]!.title, /no kubeconfig found[\s\S]*fix: set 'kubeconfig'/);
  assert.deepEqual(unavailableTargets(opts), [
    { name: 'containers', why: 'runc is not installed' },
    { name: 'kf', why: 'no kubeconfig found (looked at /home/me/.kube/config)', fix: "set 'kubeconfig' in profile 'kf', or KUBECONFIG" },
  ]);
  assert.equal(validTarget(opts, 'kf'), 'local');
});

test('without a profiles file only Local is offered, and a vanished or broken selection falls back to Local', () => {
  assert.deepEqual(targetOptions(undefined).map((o) => o.value), ['local']);
  assert.deepEqual(targetOptions({ profiles: [], error: 'cannot read profiles' }).map((o) => o.value), ['local']);
  const opts = targetOptions({ profiles: [{ name: 'dev', kind: 'kubeflow' }, { name: 'bad', kind: 'kubeflow', error: 'x' }] });
  assert.equal(validTarget(opts, 'dev'), 'dev');
  assert.equal(validTarget(opts, 'bad'), 'local');
  assert.equal(validTarget(opts, 'gone'), 'local');
});

test('the run button says Build & Submit for a profile', () => {
  assert.equal(runButtonLabel('local'), 'Run');
  assert.equal(runButtonLabel('dev'), 'Build & Submit');
});

test('submit stages show until KFP has a run id, with the failing stage marked', () => {
  assert.equal(showsSubmitStages({ runtime: 'local' }), false);
  assert.equal(showsSubmitStages({ runtime: 'kubeflow', stage: 'build' }), true);
  assert.equal(showsSubmitStages({ runtime: 'kubeflow', external: { kfpRunId: 'abc' } }), false);
  assert.deepEqual(submitStages({ runtime: 'kubeflow', state: 'running', stage: 'build', stageDetail: 'step 2/3' }), [
    { name: 'validate', state: 'done' },
    { name: 'build', state: 'current', detail: 'step 2/3' },
    { name: 'upload', state: 'pending' },
    { name: 'run', state: 'pending' },
  ]);
  assert.equal(submitStages({ runtime: 'kubeflow', state: 'failed', stage: 'upload', reason: 'upload failed: 403' })[2]!.state, 'failed');
});

test('history entries name the runtime and profile', () => {
  assert.equal(runtimeLabel({}), 'local');
  assert.equal(runtimeLabel({ runtime: 'kubeflow', target: 'dev' }), 'kubeflow · dev');
});

test('a profile\'s tooltip says where it is defined, so a user knows which to edit', () => {
  const opts = targetOptions({
    profiles: [
      { name: 'lab', kind: 'kubeflow', namespace: 'a', source: 'settings' },
      { name: 'shared', kind: 'kubeflow', namespace: 'b', source: 'file' },
    ],
  });
  assert.match(opts[1]!.title, /JupyterLab settings/);
  assert.match(opts[2]!.title, /profiles file/);
});

test('"This machine, in containers" is offered after Local when the backend reports it, disabled with why when it cannot run', () => {
  const ok = targetOptions({ profiles: [{ name: 'dev', kind: 'kubeflow' }, { name: 'containers', kind: 'kubeflow' }], containers: {} });
  assert.deepEqual(ok.map((o) => [o.value, o.disabled]), [['local', false], ['containers', false], ['dev', false]], 'a profile may not take the name of the target');
  assert.equal(ok[1]!.label, 'This machine, in containers');
  const no = targetOptions({ profiles: [], containers: { error: "runc is not installed: … install the Debian package 'runc'" } });
  assert.equal(no[1]!.disabled, true);
  assert.match(no[1]!.title, /Debian package 'runc'/);
  assert.equal(validTarget(no, 'containers'), 'local');
  assert.equal(runButtonLabel('containers'), 'Build & Run');
});
