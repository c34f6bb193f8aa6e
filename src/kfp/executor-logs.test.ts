import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KFP_DEFAULT_PIPELINE_ROOT, lastExecutorLog, pipelineRootPlace, taskPrefix } from './executor-logs.js';

test("a pipeline root is a bucket and a prefix: KFP's default, a multi-user profile's, an s3:// root with its query", () => {
  assert.deepEqual(pipelineRootPlace(KFP_DEFAULT_PIPELINE_ROOT), { bucket: 'mlpipeline', prefix: 'v2/artifacts' });
  assert.deepEqual(pipelineRootPlace('minio://mlpipeline/private-artifacts/team-a/v2/artifacts'), { bucket: 'mlpipeline', prefix: 'private-artifacts/team-a/v2/artifacts' });
  assert.deepEqual(pipelineRootPlace('s3://runs/kfp/?region=eu-west-1&endpoint=s3.example.com'), { bucket: 'runs', prefix: 'kfp' });
  assert.deepEqual(pipelineRootPlace('minio://bucket'), { bucket: 'bucket', prefix: '' });
  assert.equal(pipelineRootPlace('gs://bucket/root'), undefined, 'not an S3 store');
  assert.equal(pipelineRootPlace('/tmp/root'), undefined);
});

test("a task's executions live where KFP's drivers put them: <root prefix>/<pipeline>/<KFP run id>/<task>/", () => {
  const ref = { pipeline: 'candies-sharing', runId: '0c6f9a5e-4c1f-4f0e-9d55-3c1f1d5e9a10', task: 'sack' };
  assert.equal(taskPrefix({ bucket: 'mlpipeline', prefix: 'v2/artifacts' }, ref), 'v2/artifacts/candies-sharing/0c6f9a5e-4c1f-4f0e-9d55-3c1f1d5e9a10/sack/');
  assert.equal(taskPrefix({ bucket: 'b', prefix: '' }, ref), 'candies-sharing/0c6f9a5e-4c1f-4f0e-9d55-3c1f1d5e9a10/sack/');
  // A name that is more than one path segment would read another run's folder.
  assert.throws(() => taskPrefix({ bucket: 'b', prefix: '' }, { ...ref, task: '../other' }), /not a usable task/);
  assert.throws(() => taskPrefix({ bucket: 'b', prefix: '' }, { ...ref, pipeline: '' }), /not a usable pipeline/);
});

const PREFIX = 'v2/artifacts/p/run-1/train/';

test('the executor log of a task: its other artifacts, and tasks whose names start alike, are not it', () => {
  const log = lastExecutorLog([
    { key: `${PREFIX}5b9e/model`, lastModified: '2026-12-07T10:00:05.000Z' },
    { key: `${PREFIX}5b9e/executor-logs-0`, lastModified: '2026-12-07T10:00:04.000Z', size: 120 },
    { key: 'v2/artifacts/p/run-1/train-2/77aa/executor-logs-0', lastModified: '2026-12-07T10:09:00.000Z' },
    { key: `${PREFIX}5b9e/deeper/executor-logs-0`, lastModified: '2026-12-07T10:09:00.000Z' },
  ], PREFIX);
  assert.equal(log?.key, `${PREFIX}5b9e/executor-logs-0`);
  assert.equal(lastExecutorLog([{ key: `${PREFIX}5b9e/model` }], PREFIX), undefined, 'no log uploaded');
  assert.equal(lastExecutorLog([], PREFIX), undefined);
});

test('of several executions (a retried run draws a new uuid), the last written is the last attempt', () => {
  const log = lastExecutorLog([
    { key: `${PREFIX}ffff-first/executor-logs-0`, lastModified: '2026-12-07T10:00:04.000Z' },
    { key: `${PREFIX}0000-retry/executor-logs-0`, lastModified: '2026-12-07T10:05:00.000Z' },
    { key: `${PREFIX}aaaa-other/executor-logs-0`, lastModified: '2026-12-07T10:03:00.000Z' },
  ], PREFIX);
  assert.equal(log?.key, `${PREFIX}0000-retry/executor-logs-0`, 'by time, not by the order of the uuids');
});

test("Argo's retries of one execution count up the suffix: the highest wins when written in the same second", () => {
  const same = '2026-12-07T10:00:04.000Z';
  const log = lastExecutorLog([
    { key: `${PREFIX}5b9e/executor-logs-1`, lastModified: same },
    { key: `${PREFIX}5b9e/executor-logs-10`, lastModified: same },
    { key: `${PREFIX}5b9e/executor-logs-2`, lastModified: same },
  ], PREFIX);
  assert.equal(log?.key, `${PREFIX}5b9e/executor-logs-10`, 'numerically, not as text');
  // KFP before 2.17 wrote one unsuffixed `executor-logs`.
  assert.equal(lastExecutorLog([{ key: `${PREFIX}5b9e/executor-logs` }], PREFIX)?.key, `${PREFIX}5b9e/executor-logs`);
});
