import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kfpSettings } from './endpoint.js';

const settings = (kfp: Record<string, unknown>) => kfpSettings({ name: 'p', kfp }, {});

test("kfp.objectStore: off unless set; an endpoint alone takes KFP's Secret and signing region", () => {
  assert.equal(settings({ host: 'http://kfp' }).objectStore, undefined);
  assert.deepEqual(settings({ host: 'http://kfp', objectStore: { endpoint: 'http://seaweedfs.kubeflow:9000/' } }).objectStore, {
    endpoint: 'http://seaweedfs.kubeflow:9000',
    secret: 'mlpipeline-minio-artifact',
    region: 'minio',
  });
  assert.deepEqual(settings({ host: 'http://kfp', objectStore: { endpoint: 'https://s3.eu-west-1.amazonaws.com', secret: 'team-s3', region: 'eu-west-1' } }).objectStore, {
    endpoint: 'https://s3.eu-west-1.amazonaws.com',
    secret: 'team-s3',
    region: 'eu-west-1',
  });
});

test('kfp.objectStore is checked, each message naming the field and what to write', () => {
  const fails = (objectStore: unknown, re: RegExp) => assert.throws(() => settings({ host: 'http://kfp', objectStore }), re);
  fails('http://seaweedfs.kubeflow:9000', /kfp\.objectStore must be a mapping, e\.g\. \{ endpoint: http:\/\/seaweedfs\.kubeflow:9000 \}/);
  fails({}, /kfp\.objectStore\.endpoint is missing: set the object store's S3 URL/);
  fails({ endpoint: 'seaweedfs.kubeflow:9000' }, /kfp\.objectStore\.endpoint 'seaweedfs\.kubeflow:9000' must be an http:\/\/ or https:\/\/ URL/);
  fails({ endpoint: 'http://seaweedfs:9000/mlpipeline' }, /without a path \(the bucket comes from the pipeline root\)/);
  fails({ endpoint: 'http://seaweedfs:9000', bucket: 'mlpipeline' }, /kfp\.objectStore\.bucket is not a known setting \(known: endpoint, secret, region\)/);
  fails({ endpoint: 'http://seaweedfs:9000', secret: '' }, /kfp\.objectStore\.secret must be a non-empty string/);
});

test('an access key written into the endpoint is refused without being repeated', () => {
  let message = '';
  try {
    settings({ host: 'http://kfp', objectStore: { endpoint: 'http://AKIAEXAMPLE:s3cr3t@seaweedfs:9000/x' } });
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, /kfp\.objectStore\.endpoint must not hold credentials/);
  assert.doesNotMatch(message, /s3cr3t|AKIAEXAMPLE/);
});
