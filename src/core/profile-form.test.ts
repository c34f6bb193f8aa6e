import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_PROFILE_FORM, profileFormErrors, profileSettings, readProfileForm, type ProfileFormValues } from './profile-form.js';

const form = (v: Partial<ProfileFormValues>): ProfileFormValues => ({ ...EMPTY_PROFILE_FORM, ...v });

test('an empty form: the name and the namespace are missing, each message naming its field', () => {
  const errors = profileFormErrors(EMPTY_PROFILE_FORM);
  assert.deepEqual(Object.keys(errors).sort(), ['name', 'namespace']);
  assert.match(errors.name!, /^Name: missing/);
  assert.match(errors.namespace!, /^Namespace: missing: set the Kubernetes namespace/);
});

test('a name and a namespace are enough; the rest is optional', () => {
  assert.deepEqual(profileFormErrors(form({ name: 'team-a', namespace: 'kubeflow-user' })), {});
  assert.deepEqual(profileSettings(form({ name: ' team-a ', namespace: 'kubeflow-user' })), { name: 'team-a', settings: { namespace: 'kubeflow-user' } });
});

test('each field is checked on its own, with what to do', () => {
  const errors = profileFormErrors(form({
    name: 'local', namespace: 'Team_A', kubeconfig: 'kube/config', registry: 'https://registry.example.com/team',
    kfpHost: 'ftp://kf', kfpAuth: 'password', kfpTokenFile: 'token', kfpTokenEnv: 'eyJhbGciOi.J9.x', build: 'docker',
  }));
  assert.match(errors.name!, /^Name: 'local' is a built-in target's name/);
  assert.match(errors.namespace!, /^Namespace: 'Team_A' is not a Kubernetes namespace name/);
  assert.match(errors.kubeconfig!, /^Kubeconfig: 'kube\/config' must be an absolute path or start with ~\//);
  assert.match(errors.registry!, /^Registry: .*leave out the scheme \(write registry.example.com\/team\)/);
  assert.match(errors.kfpHost!, /^KFP host: 'ftp:\/\/kf' must be an http:\/\/ or https:\/\/ URL/);
  assert.match(errors.kfpAuth!, /^KFP auth: 'password' is not one of none, token-file, token, kube/);
  assert.match(errors.kfpTokenFile!, /^KFP token file: 'token' must be an absolute path/);
  assert.match(errors.kfpTokenEnv!, /^KFP token variable: .* is not an environment variable's name \(the token itself is never stored here\)/);
  assert.match(errors.build!, /^Requirements builds: 'docker' is not one of auto, buildah, kaniko/);
});

test('no credentials go into the profile: not in the KFP URL, not in the registry', () => {
  const errors = profileFormErrors(form({ name: 'a', namespace: 'a', kfpHost: 'https://me:secret@kf.example.com', registry: 'me:pw@registry.example.com/x' }));
  assert.match(errors.kfpHost!, /^KFP host: no credentials in the URL/);
  assert.match(errors.registry!, /^Registry: no credentials here/);
});

test("KFP's object store is its S3 endpoint alone: no path, no credentials; it goes under kfp.objectStore", () => {
  const bad = (kfpObjectStore: string) => profileFormErrors(form({ name: 'a', namespace: 'a', kfpObjectStore })).kfpObjectStore;
  assert.match(bad('seaweedfs.kubeflow:9000')!, /^KFP object store: .*must be an http:\/\/ or https:\/\/ URL|^KFP object store: .*is not a URL/);
  assert.match(bad('http://key:secret@seaweedfs.kubeflow:9000')!, /^KFP object store: no credentials in the URL/);
  assert.match(bad('http://seaweedfs.kubeflow:9000/mlpipeline')!, /^KFP object store: .*without a path \(the bucket comes from the pipeline root\)/);
  const v = form({ name: 'a', namespace: 'a', kfpObjectStore: 'http://seaweedfs.kubeflow:9000/' });
  assert.equal(bad(v.kfpObjectStore), undefined);
  assert.deepEqual(profileSettings(v).settings.kfp, { objectStore: { endpoint: 'http://seaweedfs.kubeflow:9000' } });
});

test("auth 'kube' takes no host, as the backend's own check says", () => {
  assert.match(profileFormErrors(form({ name: 'a', namespace: 'a', kfpAuth: 'kube', kfpHost: 'https://kf.example.com' })).kfpAuth!, /takes no KFP host/);
});

test('a full form becomes the profiles file format: kfp settings nested, the token by reference, empties left out', () => {
  const v = form({
    name: 'prod', namespace: 'team-a', kubeconfig: '~/.kube/config', context: 'ctx', registry: '127.0.0.1:5000/team/steps', insecureRegistry: true,
    baseImage: 'python:3.11-slim', build: 'kaniko', kfpHost: 'https://kf.example.com/pipeline/', kfpAuth: 'token-file', kfpTokenFile: '/var/run/token',
  });
  assert.deepEqual(profileFormErrors(v), {});
  assert.deepEqual(profileSettings(v), {
    name: 'prod',
    settings: {
      namespace: 'team-a', kubeconfig: '~/.kube/config', context: 'ctx', registry: '127.0.0.1:5000/team/steps', insecureRegistry: true,
      baseImage: 'python:3.11-slim', build: 'kaniko', kfp: { host: 'https://kf.example.com/pipeline', auth: 'token-file', tokenFile: '/var/run/token' },
    },
  });
});

test('a request body is read field by field; an unknown field (a token, say) is refused', () => {
  assert.deepEqual(readProfileForm({ name: 'a', namespace: 'b', insecureRegistry: true }).values, form({ name: 'a', namespace: 'b', insecureRegistry: true }));
  assert.match(readProfileForm({ name: 'a', token: 'x' }).error!, /^unknown field 'token'/);
  assert.match(readProfileForm({ name: 3 }).error!, /'name' must be text/);
  assert.match(readProfileForm({ insecureRegistry: 'yes' }).error!, /must be true or false/);
});
