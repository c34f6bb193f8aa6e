/**
 * The object store reader against a real SeaweedFS (KFP 2.17's store; `weed mini` from scripts/k8s/kfp-build.sh's
 * cache, skipped with the reason when it is not built), with the objects laid out as KFP's launcher uploads them:
 * `<pipeline root>/<pipeline>/<KFP run id>/<task>/<uuid>/executor-logs-<retry>`. And what an unreachable or silent
 * store does to the reader, which needs no SeaweedFS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KFP_DEFAULT_PIPELINE_ROOT, pipelineRootPlace } from './executor-logs.js';
import { ObjectStore, ObjectStoreError, findExecutorLog } from './object-store.js';
import { seaweedSkip, startSeaweedFs, type SeaweedFs } from './testing/seaweedfs.js';

const ROOT = pipelineRootPlace(KFP_DEFAULT_PIPELINE_ROOT)!;
const RUN = '9b2f4c1e-7d0a-4e55-8f3c-2a6b1d0e5f77';

async function rejectsWith(p: Promise<unknown>, kind: ObjectStoreError['kind'], re: RegExp): Promise<ObjectStoreError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ObjectStoreError, `an ObjectStoreError, got ${(err as Error).stack}`);
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected a ${kind} error`);
}

describe('reading executor logs from a real SeaweedFS, laid out as KFP 2.17 writes them', { skip: seaweedSkip(), concurrency: false }, () => {
  let weed: SeaweedFs;
  let store: ObjectStore;
  const at = (pipeline: string, task: string, rest: string) => `${ROOT.prefix}/${pipeline}/${RUN}/${task}/${rest}`;
  before(async () => {
    weed = await startSeaweedFs();
    await weed.createBucket(ROOT.bucket);
    store = new ObjectStore({ endpoint: weed.endpoint, root: ROOT, credentials: { accessKey: weed.accessKey, secretKey: weed.secretKey } });
  });
  after(async () => {
    await weed?.stop();
  });

  test("a task's log is found under its run and read; its other artifacts and the other tasks' are left", async () => {
    await weed.put(ROOT.bucket, at('candies', 'sack', '2d6f0a8e-1b7c-4c55-9e1d-5a3f7b9c0d21/executor-logs-0'), 'loading candies\n[cellpipe] step sack done\n');
    await weed.put(ROOT.bucket, at('candies', 'sack', '2d6f0a8e-1b7c-4c55-9e1d-5a3f7b9c0d21/candies'), 'pickled data');
    await weed.put(ROOT.bucket, at('candies', 'sack-2', '0a0a0a0a-0000-4000-8000-000000000000/executor-logs-0'), 'another task\n');
    const log = await findExecutorLog(store, { pipeline: 'candies', runId: RUN, task: 'sack' });
    assert.equal(log?.text, 'loading candies\n[cellpipe] step sack done\n');
    assert.equal(log?.key, at('candies', 'sack', '2d6f0a8e-1b7c-4c55-9e1d-5a3f7b9c0d21/executor-logs-0'));
    assert.equal(log?.skippedBytes, 0);
    assert.ok(log?.lastModified && Math.abs(Date.parse(log.lastModified) - Date.now()) < 120_000, `a recent upload time: ${log?.lastModified}`);
    assert.equal(await findExecutorLog(store, { pipeline: 'candies', runId: RUN, task: 'share' }), undefined, 'a task with no log');
  });

  test('the last attempt is read: a retried run\'s newer execution, and the highest retry of one execution', async () => {
    await weed.put(ROOT.bucket, at('retried', 'train', 'ffffffff-0000-4000-8000-000000000001/executor-logs-0'), 'first execution\n');
    // S3 times are whole seconds: the retry is written in a later one.
    await new Promise((r) => setTimeout(r, 1100));
    await weed.put(ROOT.bucket, at('retried', 'train', '00000000-0000-4000-8000-000000000002/executor-logs-0'), 'retried execution, attempt 0\n');
    await weed.put(ROOT.bucket, at('retried', 'train', '00000000-0000-4000-8000-000000000002/executor-logs-1'), 'retried execution, attempt 1\n');
    const log = await findExecutorLog(store, { pipeline: 'retried', runId: RUN, task: 'train' });
    assert.equal(log?.text, 'retried execution, attempt 1\n');
  });

  test('a pipeline name with spaces and signs is signed and listed as the store sees it', async () => {
    await weed.put(ROOT.bucket, at('R&D pipeline+v2 (ü)', 'load', '11111111-0000-4000-8000-000000000000/executor-logs-0'), 'odd name, read back\n');
    const log = await findExecutorLog(store, { pipeline: 'R&D pipeline+v2 (ü)', runId: RUN, task: 'load' });
    assert.equal(log?.text, 'odd name, read back\n');
  });

  test('a listing longer than a page is read to its end', async () => {
    const paged = new ObjectStore({ endpoint: weed.endpoint, root: ROOT, credentials: { accessKey: weed.accessKey, secretKey: weed.secretKey }, pageSize: 2 });
    for (let i = 0; i < 5; i++) await weed.put(ROOT.bucket, at('paged', 'many', `0000000${i}-0000-4000-8000-000000000000/output-${i}`), `${i}`);
    await weed.put(ROOT.bucket, at('paged', 'many', 'zzzzzzzz-0000-4000-8000-000000000000/executor-logs-0'), 'after four other objects\n');
    const objects = await paged.list(`${ROOT.prefix}/paged/${RUN}/many/`);
    assert.equal(objects.length, 6);
    assert.equal((await findExecutorLog(paged, { pipeline: 'paged', runId: RUN, task: 'many' }))?.text, 'after four other objects\n');
  });

  test('of a log bigger than the reader takes, its end is read from a line start, and how much was left is said', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${String(i).padStart(2, '0')} of a long log`);
    const text = lines.join('\n') + '\n';
    await weed.put(ROOT.bucket, at('big', 'noisy', '22222222-0000-4000-8000-000000000000/executor-logs-0'), text);
    const small = new ObjectStore({ endpoint: weed.endpoint, root: ROOT, credentials: { accessKey: weed.accessKey, secretKey: weed.secretKey }, maxBytes: 100 });
    const log = (await findExecutorLog(small, { pipeline: 'big', runId: RUN, task: 'noisy' }))!;
    const kept = log.text.split('\n').filter(Boolean);
    assert.deepEqual(kept, lines.slice(-kept.length), 'whole lines from the end');
    assert.ok(kept.length >= 2 && kept.length <= 4, `about 100 bytes' worth: ${kept.length} lines`);
    assert.equal(log.skippedBytes + Buffer.byteLength(log.text), Buffer.byteLength(text));
  });

  test('a wrong secret is refused by the store: the error says so, names the Secret to check, and shows no key', async () => {
    const wrong = new ObjectStore({ endpoint: weed.endpoint, root: ROOT, credentials: { accessKey: weed.accessKey, secretKey: 'not-the-secret' } });
    const err = await rejectsWith(findExecutorLog(wrong, { pipeline: 'candies', runId: RUN, task: 'sack' }), 'denied', /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/);
    assert.match(err.hint ?? '', /mlpipeline-minio-artifact/);
    assert.doesNotMatch(`${err.message} ${err.hint}`, /not-the-secret|s3-[a-z0-9]{8}/);
    const unknown = new ObjectStore({ endpoint: weed.endpoint, root: ROOT, credentials: { accessKey: 'nobody', secretKey: weed.secretKey } });
    await rejectsWith(unknown.list('v2/'), 'denied', /InvalidAccessKeyId|AccessDenied|SignatureDoesNotMatch/);
  });

  test('a bucket that is not there is named', async () => {
    const elsewhere = new ObjectStore({ endpoint: weed.endpoint, root: { bucket: 'no-such-bucket', prefix: '' }, credentials: { accessKey: weed.accessKey, secretKey: weed.secretKey } });
    const err = await rejectsWith(elsewhere.list('x/'), 'not-found', /NoSuchBucket/);
    assert.match(err.hint ?? '', /pipeline root's bucket/);
  });
});

describe('an object store that does not answer costs the reader a bounded wait', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  before(async () => {
    // Accepts connections and never answers: a store behind a dead proxy.
    silent = createServer((s) => void (sockets.add(s), s.on('close', () => sockets.delete(s))));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  test('nothing listening: unreachable at once, naming the endpoint and the setting', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const store = new ObjectStore({ endpoint: `http://127.0.0.1:${port}`, root: ROOT, credentials: { accessKey: 'a', secretKey: 'b' } });
    const err = await rejectsWith(findExecutorLog(store, { pipeline: 'p', runId: RUN, task: 't' }), 'unreachable', new RegExp(`127\\.0\\.0\\.1:${port} \\(bucket mlpipeline\\): ECONNREFUSED`));
    assert.match(err.hint ?? '', /kfp\.objectStore\.endpoint/);
  });

  test('connected but silent: unreachable after the request timeout, also when garbage is collected meanwhile', async () => {
    const port = (silent.address() as { port: number }).port;
    const store = new ObjectStore({ endpoint: `http://127.0.0.1:${port}`, root: ROOT, credentials: { accessKey: 'a', secretKey: 'b' }, timeoutMs: 300 });
    // A timeout signal Node holds only weakly is collected before it fires (the request then waited 300 s).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collecting = setInterval(gc, 20);
    const t0 = Date.now();
    try {
      await rejectsWith(store.list('v2/'), 'unreachable', /no answer within 0\.3s/);
    } finally {
      clearInterval(collecting);
    }
    assert.ok(Date.now() - t0 < 5000, `bounded: ${Date.now() - t0} ms`);
  });
});
