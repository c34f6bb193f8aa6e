/**
 * Inside a Kubeflow notebook pod, nobody writes a profile: the pod's service account namespace, `NB_PREFIX`, and the
 * projected KFP token make the profile `kubeflow`, offered while there is no profiles file. The pod's files are
 * made in a temporary folder laid out as Kubernetes and Kubeflow lay them out.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IN_CLUSTER_KFP, NOTEBOOK_POD_PROFILE, describeNotebookPodProfile, notebookPodProfile } from './notebook-pod.js';
import { loadProfile, loadProfiles, profileNames } from './profile.js';
import { kfpEndpoint } from '../kfp/endpoint.js';

describe('the profile a Kubeflow notebook pod implies', () => {
  let dir: string;
  let sa: string;
  let token: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-nbpod-'));
    sa = join(dir, 'serviceaccount');
    mkdirSync(sa);
    writeFileSync(join(sa, 'namespace'), 'kubeflow-user-example-com');
    token = join(dir, 'pipelines-token');
    writeFileSync(token, 'projected-token-1\n');
    env = {
      HOME: dir, // no ~/.config/cellpipe/profiles.yaml
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      HOSTNAME: 'my-notebook-0',
      NB_PREFIX: '/notebook/kubeflow-user-example-com/my-notebook',
      KF_PIPELINES_SA_TOKEN_PATH: token,
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('namespace from the service account, KFP from the in-cluster service, the token from the projected file', () => {
    const p = notebookPodProfile(env, { serviceAccountDir: sa });
    assert.deepEqual(p, {
      name: NOTEBOOK_POD_PROFILE,
      implicit: 'notebook-pod',
      inCluster: true,
      namespace: 'kubeflow-user-example-com',
      kfp: { host: IN_CLUSTER_KFP, auth: 'token-file', tokenFile: token, uiUrl: '/pipeline' },
    });
    // No base image: the steps' base is the notebook's own image, read from the pod when a run is submitted.
    assert.equal(p!.baseImage, undefined);
    assert.match(describeNotebookPodProfile(p!), /namespace 'kubeflow-user-example-com' from its service account/);
  });

  test('it is no notebook pod without the Kubernetes service, NB_PREFIX, the KFP token or the namespace file', () => {
    for (const missing of ['KUBERNETES_SERVICE_HOST', 'NB_PREFIX'] as const) {
      assert.equal(notebookPodProfile({ ...env, [missing]: undefined }, { serviceAccountDir: sa }), undefined, missing);
    }
    assert.equal(notebookPodProfile({ ...env, KF_PIPELINES_SA_TOKEN_PATH: join(dir, 'none') }, { serviceAccountDir: sa }), undefined, 'no token');
    assert.equal(notebookPodProfile(env, { serviceAccountDir: join(dir, 'none') }), undefined, 'no namespace file');
    writeFileSync(join(sa, 'namespace'), '  \n');
    assert.equal(notebookPodProfile(env, { serviceAccountDir: sa }), undefined, 'an empty namespace file');
  });

  test('the platform team names the registry for step images ($CELLPIPE_REGISTRY) and may move the KFP API (KF_PIPELINES_ENDPOINT)', () => {
    const p = notebookPodProfile({ ...env, CELLPIPE_REGISTRY: 'registry.example.com/team/steps', CELLPIPE_INSECURE_REGISTRY: 'true', KF_PIPELINES_ENDPOINT: 'http://ml-pipeline-ui.kubeflow:80' }, { serviceAccountDir: sa })!;
    assert.equal(p.registry, 'registry.example.com/team/steps');
    assert.equal(p.insecureRegistry, true);
    assert.equal((p.kfp as { host: string }).host, 'http://ml-pipeline-ui.kubeflow:80');
    assert.equal(notebookPodProfile({ ...env, CELLPIPE_INSECURE_REGISTRY: 'true' }, { serviceAccountDir: sa })!.insecureRegistry, undefined, 'no registry, nothing insecure');
  });

  test('with no profiles file it is the one profile; loadProfile names it when another is asked for', async () => {
    const pod = { serviceAccountDir: sa };
    assert.deepEqual(await profileNames(env, pod), ['kubeflow']);
    assert.deepEqual([...(await loadProfiles(env, pod)).keys()], ['kubeflow']);
    assert.equal((await loadProfile('kubeflow', env, pod)).namespace, 'kubeflow-user-example-com');
    await assert.rejects(loadProfile('prod', env, pod), /no profile 'prod': there is no profiles file at .*profiles\.yaml, and this Kubeflow notebook pod implies only 'kubeflow'/);
    // Outside a pod, no file is still no profile.
    assert.equal(await profileNames({ HOME: dir }, pod), undefined);
  });

  test('a profiles file adds to it: the pod\'s own profile stays, after the file\'s, unless the file names one \'kubeflow\'', async () => {
    const file = join(dir, 'profiles.yaml');
    writeFileSync(file, 'profiles:\n  prod:\n    namespace: team-a\n');
    const withFile = { ...env, CELLPIPE_PROFILES: file };
    const pod = { serviceAccountDir: sa };
    assert.deepEqual(await profileNames(withFile, pod), ['prod', 'kubeflow']);
    assert.deepEqual([...(await loadProfiles(withFile, pod)).keys()], ['prod', 'kubeflow']);
    assert.equal((await loadProfile('kubeflow', withFile, pod)).implicit, 'notebook-pod');
    await assert.rejects(loadProfile('dev', withFile, pod), /no profile 'dev' in .*known: prod, kubeflow/);
    // The file's own 'kubeflow' is the one used.
    writeFileSync(file, 'profiles:\n  kubeflow:\n    namespace: team-b\n');
    assert.deepEqual(await profileNames(withFile, pod), ['kubeflow']);
    const replaced = await loadProfile('kubeflow', withFile, pod);
    assert.equal(replaced.namespace, 'team-b');
    assert.equal(replaced.implicit, undefined);
    // Outside a pod, the file is all there is.
    writeFileSync(file, 'profiles:\n  prod:\n    namespace: team-a\n');
    assert.deepEqual(await profileNames({ HOME: dir, CELLPIPE_PROFILES: file }, pod), ['prod']);
  });

  test('the token is read at each request: a rotated token is the next request\'s', async () => {
    const endpoint = await kfpEndpoint(notebookPodProfile(env, { serviceAccountDir: sa })!, env);
    assert.equal(endpoint.baseUrl, IN_CLUSTER_KFP);
    assert.equal(endpoint.namespace, 'kubeflow-user-example-com');
    assert.equal(endpoint.authLabel, `bearer token from ${token}`);
    assert.deepEqual((await endpoint.auth()).headers, { Authorization: 'Bearer projected-token-1' });
    writeFileSync(token, 'projected-token-2\n');
    assert.deepEqual((await endpoint.auth()).headers, { Authorization: 'Bearer projected-token-2' });
  });
});
