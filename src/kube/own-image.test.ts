/**
 * The notebook pod's own image as the steps' default base: which container is the notebook, its pulled digest as
 * each container runtime reports it, and reading a running pod from the real test cluster: its kubelet pulled the
 * image from a registry on 127.0.0.1 and reports the digest it pulled, as it does for a Kubeflow notebook pod.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { notebookImage, ownPod, readOwnImage } from './own-image.js';
import { connect } from './connect.js';
import { SKIP_NO_REAL_NODE, freshNamespace, testCluster, trustRegistry, waitForPhase } from './testing.js';
import { RegistryClient } from '../images/registry.js';
import { pushBaseImage, startRegistry } from '../images/testing.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;

function pod(containers: { name: string; image: string; imageID?: string }[]): V1Pod {
  return {
    spec: { containers: containers.map(({ name, image }) => ({ name, image })) },
    status: { containerStatuses: containers.map(({ name, image, imageID }) => ({ name, image, imageID: imageID ?? '', ready: true, restartCount: 0 })) },
  };
}

test('the notebook container is the one named in NB_PREFIX, else the only one that is not a sidecar', () => {
  const p = pod([
    { name: 'istio-proxy', image: 'istio/proxyv2:1.22', imageID: `docker.io/istio/proxyv2@${DIGEST}` },
    { name: 'my-notebook', image: 'kubeflownotebookswg/jupyter-scipy:v1.9', imageID: `docker.io/kubeflownotebookswg/jupyter-scipy@${DIGEST}` },
  ]);
  assert.deepEqual(notebookImage(p, { NB_PREFIX: '/notebook/team-a/my-notebook' }), { image: `docker.io/kubeflownotebookswg/jupyter-scipy@${DIGEST}`, byDigest: true, container: 'my-notebook' });
  assert.equal(notebookImage(p, {})!.container, 'my-notebook');
  const two = pod([{ name: 'a', image: 'x:1' }, { name: 'b', image: 'y:1' }]);
  assert.equal(notebookImage(two, {}), undefined, 'two candidates and no NB_PREFIX: no guess');
});

test('the pulled digest is used as Docker, containerd and CRI-O report it; a bare local image id falls back to the tag', () => {
  const by = (imageID: string) => notebookImage(pod([{ name: 'nb', image: 'repo/nb:v1', imageID }]), {});
  assert.equal(by(`docker-pullable://repo/nb@${DIGEST}`)!.image, `repo/nb@${DIGEST}`);
  assert.equal(by(`registry.example.com:5000/repo/nb@${DIGEST}`)!.image, `registry.example.com:5000/repo/nb@${DIGEST}`);
  assert.deepEqual(by(DIGEST), { image: 'repo/nb:v1', byDigest: false, container: 'nb' });
  assert.deepEqual(by(''), { image: 'repo/nb:v1', byDigest: false, container: 'nb' });
});

test('this process is in a pod only with the service host, a hostname and the service account namespace file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cellpipe-sa-'));
  try {
    assert.equal(ownPod({ HOSTNAME: 'nb-0' }, dir), undefined);
    assert.equal(ownPod({ KUBERNETES_SERVICE_HOST: '10.0.0.1', HOSTNAME: 'nb-0' }, dir), undefined, 'no namespace file');
    writeFileSync(join(dir, 'namespace'), 'team-a\n');
    assert.deepEqual(ownPod({ KUBERNETES_SERVICE_HOST: '10.0.0.1', HOSTNAME: 'nb-0' }, dir), { name: 'nb-0', namespace: 'team-a' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const found = testCluster();
const cluster = found?.nodeKind === 'real' ? found : undefined;
describe('reading the notebook pod from the API server', { skip: cluster ? false : SKIP_NO_REAL_NODE, timeout: 120_000 }, () => {
  test('gives the running notebook container\'s image by the digest its kubelet pulled; a pod it may not read gives the reason instead', async () => {
    const c = cluster!;
    const ns = await freshNamespace(c, 'own-image');
    const registry = await startRegistry('open');
    try {
      // A notebook image of our own (a static busybox that sleeps), pushed by tag; the kubelet resolves the digest.
      const client = new RegistryClient(registry.clientOptions());
      const digest = await pushBaseImage(client, 'team/nb', 'v1', [{ path: '/bin/busybox', data: readFileSync('/bin/busybox'), executable: true }]);
      client.close();
      await trustRegistry(c, registry.host);
      await ns.conn.core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name: 'notebook-0' },
          spec: {
            nodeName: c.node,
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'main', image: `${registry.host}/team/nb:v1`, command: ['/bin/busybox', 'sleep', '600'] }],
          },
        },
      });
      await waitForPhase(ns.conn, 'notebook-0', 'Running', 60_000);
      const found = await readOwnImage(ns.conn, 'notebook-0', {});
      assert.deepEqual(found.image, { image: `${registry.host}/team/nb@${digest}`, byDigest: true, container: 'main' });
      const denied = await readOwnImage(connect({ kubeconfig: c.restrictedKubeconfig, namespace: ns.name }), 'notebook-0', {});
      assert.equal(denied.image, undefined);
      assert.match(denied.why!, /cannot read this notebook's pod .*notebook-0.*(forbidden|denied|not allowed)/i);
    } finally {
      await ns.dispose();
      await registry.stop();
    }
  });
});
