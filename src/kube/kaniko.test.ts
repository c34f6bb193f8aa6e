/**
 * Kaniko build Jobs against the real test cluster: the API server validates and stores the Job, the controller
 * manager and scheduler run it. Here KWOK plays the kaniko container (exit code and log from a file), so a
 * failure's exact log lines and the timing of cleanup can be driven; the real kaniko executor building a real
 * image on the kubelet node is kaniko-requirements.test.ts. Run through `bash scripts/test-k8s.sh`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { LogLine } from '../runs/types.js';
import { connect } from './connect.js';
import { KubeError } from './errors.js';
import { BuildFailedError, buildWithKaniko, dockerConfigJson, kanikoJob } from './kaniko.js';
import { SKIP_NO_CLUSTER, appendLines, freshNamespace, newLogFile, serveLogsFromFile, testCluster, type TestCluster } from './testing.js';

const cluster = testCluster();
/** The build pod goes to KWOK's node (its taint keeps every other pod off it). */
const onKwok = (c: TestCluster) => ({ nodeSelector: { 'kubernetes.io/hostname': c.kwokNode }, tolerations: [{ key: 'cellpipe.dev/kwok', operator: 'Exists', effect: 'NoSchedule' }] });

const KANIKO_LOG = [
  'INFO[0000] Retrieving image manifest python:3.12-slim',
  'INFO[0001] Built cross stage deps: map[]',
  'INFO[0002] RUN pip install --no-cache-dir -r requirements.txt',
  'Collecting pandas==2.2.3',
  'Successfully installed pandas-2.2.3',
  'INFO[0031] Pushing image to registry.example.com/team/train:3f2a9c',
];

/** A small but real gzipped tar: a Dockerfile and requirements.txt. */
function buildContext(): Buffer {
  const files: [string, string][] = [
    ['Dockerfile', 'FROM python:3.12-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n'],
    ['requirements.txt', 'pandas==2.2.3\n'],
  ];
  const blocks: Buffer[] = [];
  for (const [name, text] of files) {
    const body = Buffer.from(text);
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0' + '00', 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

test('the build Job mounts the context parts and the registry secret only when credentials are given', () => {
  const job = kanikoJob('cellpipe-build-x', { conn: undefined as never, context: new Uint8Array(), destinations: ['r/img:1'], insecureRegistry: true }, 2, false);
  const pod = job.spec!.template.spec!;
  assert.equal(job.spec!.backoffLimit, 0);
  assert.deepEqual(pod.volumes!.map((v) => v.name), ['workspace', 'context-0', 'context-1']);
  assert.deepEqual(pod.initContainers![0].volumeMounts!.map((m) => m.mountPath), ['/workspace', '/cellpipe/context/000', '/cellpipe/context/001']);
  assert.ok(pod.containers[0].args!.includes('--destination=r/img:1'));
  assert.ok(pod.containers[0].args!.includes('--insecure'));
  assert.equal(job.spec!.template.metadata!.annotations!['sidecar.istio.io/inject'], 'false');
  const withAuth = kanikoJob('b', { conn: undefined as never, context: new Uint8Array(), destinations: ['r/i:1'] }, 1, true);
  assert.equal(withAuth.spec!.template.spec!.volumes!.at(-1)!.secret!.secretName, 'b-registry');
  assert.deepEqual(JSON.parse(dockerConfigJson([{ registry: 'r.io', username: 'u', password: 'p' }])), { auths: { 'r.io': { auth: 'dTpw' } } });
});

describe('kaniko builds in the real cluster', { skip: cluster ? false : SKIP_NO_CLUSTER, timeout: 120_000 }, () => {
  const c = cluster!;
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  before(async () => {
    ns = await freshNamespace(c, 'build');
  });
  after(async () => {
    await ns?.dispose();
  });

  const leftovers = async () => {
    const sel = { namespace: ns.name, labelSelector: 'cellpipe.dev/build' };
    const [secrets, configMaps, jobs] = await Promise.all([
      ns.conn.core.listNamespacedSecret(sel),
      ns.conn.core.listNamespacedConfigMap(sel),
      ns.conn.batch.listNamespacedJob({ namespace: ns.name }),
    ]);
    return {
      secrets: secrets.items.length,
      configMaps: configMaps.items.length,
      jobs: jobs.items.filter((j) => !j.metadata?.deletionTimestamp).map((j) => j.metadata!.name!),
    };
  };

  test('a Job accepted by the API server and completed by KWOK, its log streamed, nothing left behind', async () => {
    const file = await newLogFile(c, 'kaniko-ok');
    await appendLines(file, KANIKO_LOG.map((text) => ({ text })));
    await serveLogsFromFile(c, ns.name, file);
    const progress: LogLine[] = [];
    const result = await buildWithKaniko({
      conn: ns.conn,
      context: buildContext(),
      destinations: ['registry.example.com/team/train:3f2a9c'],
      credentials: [{ registry: 'registry.example.com', username: 'robot', password: 's3cret' }],
      annotations: { 'kwok.cellpipe.dev/exit-code': '0', 'kwok.cellpipe.dev/run-for': '2s' },
      ...onKwok(c),
      onProgress: (l) => void progress.push(l),
    });
    assert.match(result.job, /^cellpipe-build-[0-9a-f]{8}$/);
    assert.match(result.pod ?? '', new RegExp(`^${result.job}-`));
    assert.deepEqual(progress.filter((l) => l.stream === 'stdout').map((l) => l.text), KANIKO_LOG);
    assert.equal(result.logLines, KANIKO_LOG.length);
    const left = await leftovers();
    assert.equal(left.secrets, 0, 'the registry secret is deleted');
    assert.equal(left.configMaps, 0, 'the context ConfigMaps are deleted');
    assert.deepEqual(left.jobs, [], 'the Job is deleted');
  });

  test('a failing build is reported with its last log lines; on-success cleanup keeps the Job but never the secret', async () => {
    const file = await newLogFile(c, 'kaniko-fail');
    const failLog = [...KANIKO_LOG.slice(0, 3), 'ERROR: Could not find a version that satisfies the requirement pandsa==9', 'error building image: exit status 1'];
    await appendLines(file, failLog.map((text) => ({ text })));
    const fns = await freshNamespace(c, 'buildfail');
    try {
      await serveLogsFromFile(c, fns.name, file);
      const context = buildContext();
      const err = await buildWithKaniko({
        conn: fns.conn,
        context,
        destinations: ['registry.example.com/team/train:bad'],
        credentials: [{ registry: 'registry.example.com', username: 'robot', password: 's3cret' }],
        annotations: { 'kwok.cellpipe.dev/exit-code': '1', 'kwok.cellpipe.dev/run-for': '1s' },
        ...onKwok(c),
        cleanup: 'on-success',
        tailLines: 3,
      }).then(
        () => assert.fail('the build should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BuildFailedError, String(err));
      assert.match(err.message, /image build failed \(job cellpipe-build-[0-9a-f]+, pod cellpipe-build-/);
      assert.match(err.message, /BackoffLimitExceeded/);
      assert.deepEqual(err.logTail, failLog.slice(-3));
      assert.ok(err.message.endsWith(failLog.slice(-3).join('\n')));
      const secrets = await fns.conn.core.listNamespacedSecret({ namespace: fns.name, labelSelector: 'cellpipe.dev/build' });
      assert.equal(secrets.items.length, 0, 'no registry secret left behind');
      const job = await fns.conn.batch.readNamespacedJob({ name: err.job, namespace: fns.name });
      assert.ok(job.status?.conditions?.some((x) => x.type === 'Failed' && x.status === 'True'), 'the failed Job is kept for inspection');
      // The context the pod would unpack is exactly the bytes we sent.
      const cm = await fns.conn.core.readNamespacedConfigMap({ name: `${err.job}-context-0`, namespace: fns.name });
      assert.deepEqual(Buffer.from(cm.binaryData!.part, 'base64'), context);
    } finally {
      await fns.dispose();
    }
  });

  test('a build with an account that may not create Jobs fails with the verb and resource denied', async () => {
    const restricted = connect({ kubeconfig: c.restrictedKubeconfig, namespace: c.namespace });
    const err = await buildWithKaniko({
      conn: restricted,
      context: buildContext(),
      destinations: ['registry.example.com/team/train:x'],
      credentials: [{ registry: 'registry.example.com', username: 'robot', password: 's3cret' }],
    }).then(
      () => assert.fail('should be denied'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubeError, String(err));
    assert.equal(err.kind, 'forbidden');
    assert.equal(err.verb, 'create');
    assert.equal(err.resource, 'jobs.batch');
    assert.match(err.message, /permission denied: 'system:serviceaccount:cellpipe-test:cellpipe-restricted' may not create jobs\.batch in namespace 'cellpipe-test'/);
    assert.match(err.hint, /grant 'create' on 'jobs\.batch'/);
  });
});
