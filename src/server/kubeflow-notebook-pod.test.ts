/**
 * The backend inside a Kubeflow notebook pod with no profiles file: the target picker's list (`GET /api/profiles`)
 * offers the profile the pod implies, marked as the pod's, and runs can name it. The pod's files are laid out in a
 * temporary folder as Kubernetes and Kubeflow lay them out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfiles } from '../kube/profile.js';
import { KubeflowTargets } from './kubeflow.js';

test('in a notebook pod with no profiles file, the picker lists "kubeflow" in the notebook\'s namespace, without the token', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cellpipe-backend-nbpod-'));
  try {
    const sa = join(dir, 'serviceaccount');
    mkdirSync(sa);
    writeFileSync(join(sa, 'namespace'), 'team-a\n');
    writeFileSync(join(dir, 'token'), 's3cret-projected-token');
    const env = { HOME: dir, KUBERNETES_SERVICE_HOST: '10.0.0.1', NB_PREFIX: '/notebook/team-a/nb', KF_PIPELINES_SA_TOKEN_PATH: join(dir, 'token') };
    const targets = new KubeflowTargets({ env, stateFile: join(dir, 'state.json'), loadProfiles: () => loadProfiles(env, { serviceAccountDir: sa }) });
    const listed = await targets.summaries();
    assert.deepEqual(listed.profiles, [{ name: 'kubeflow', kind: 'kubeflow', namespace: 'team-a', kfpUi: '/pipeline', source: 'notebook-pod' }]);
    assert.doesNotMatch(JSON.stringify(listed), /s3cret|token/);
    assert.equal((await targets.profile('kubeflow')).implicit, 'notebook-pod');
    // A profile from JupyterLab's settings joins it.
    targets.setLabProfiles({ prod: { namespace: 'team-b', kfp: { host: 'https://kf.example.com/pipeline', auth: 'none' } } });
    assert.deepEqual((await targets.summaries()).profiles.map((p) => [p.name, p.source]), [['kubeflow', 'notebook-pod'], ['prod', 'settings']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
