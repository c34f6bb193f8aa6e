/**
 * A profile with `build: kaniko`: the requirements image of a step is built by a kaniko Job in the profile's
 * namespace on the real test cluster, then the step's code layer goes on top, and the run is submitted. KWOK runs no
 * container, so this test plays the kaniko executor: when the build pod runs, it pushes the image named by the pod's
 * `--destination` to the real registry (docker-registry), as kaniko would, and lets the pod exit 0.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKfpServer } from '../kfp/testing/fake-server.js';
import { specDocument } from '../kfp/parameters.js';
import { RegistryClient } from '../images/registry.js';
import { pushBaseImage, startRegistry } from '../images/testing.js';
import { RunStore } from '../runs/store.js';
import { KubeflowRuntime } from '../runtimes/kubeflow/runtime.js';
import { SKIP_NO_CLUSTER, annotatePod, freshNamespace, testCluster, waitFor } from './testing.js';

const cluster = testCluster();

function notebook(): string {
  const cell = (id: string, tags: string[], source: string) => ({ cell_type: 'code', id, metadata: { tags }, source, outputs: [], execution_count: null });
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [cell('a', ['step:load'], 'rows = [1, 2, 3]'), cell('b', ['step:train', 'prev:load', 'requirements:numpy==2.1.0'], 'import numpy\nm = numpy.mean(rows)')],
  });
}

describe('requirements images built by kaniko in the cluster', { skip: cluster ? false : SKIP_NO_CLUSTER }, () => {
  test('a step with requirements gets its image on top of the one the kaniko Job pushed; the Job is cleaned up', async () => {
    const c = cluster!;
    const ns = await freshNamespace(c, 'kaniko-req');
    const reg = await startRegistry('open');
    const fake = new FakeKfpServer();
    await fake.start();
    const dir = mkdtempSync(join(tmpdir(), 'cellpipe-kaniko-req-'));
    const client = new RegistryClient(reg.clientOptions());
    try {
      await pushBaseImage(client, 'base/python', '3.12', [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }]);
      const nbPath = join(dir, 'train.ipynb');
      writeFileSync(nbPath, notebook());
      const runtime = new KubeflowRuntime({
        store: new RunStore(join(dir, '.cellpipe')),
        profile: {
          name: 'kk', namespace: ns.name, registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`,
          insecureRegistry: true, build: 'kaniko', kfp: { host: fake.url, auth: 'none' },
        },
        kube: ns.conn,
        env: {},
      });
      // The executor's part: push what the Dockerfile would have produced, then end the pod.
      const executor = (async () => {
        const pod = await waitFor('the kaniko build pod', async () => {
          const pods = await ns.conn.core.listNamespacedPod({ namespace: ns.name });
          return pods.items.find((p) => p.metadata?.name?.startsWith('cellpipe-build-') && p.status?.phase === 'Running');
        }, 60_000);
        const args = pod.spec!.containers.find((x) => x.name === 'kaniko')!.args!;
        const destination = args.find((a) => a.startsWith('--destination='))!.slice('--destination='.length);
        const [repoAndHost, tag] = [destination.slice(0, destination.lastIndexOf(':')), destination.slice(destination.lastIndexOf(':') + 1)];
        const repository = repoAndHost.slice(reg.host.length + 1);
        await pushBaseImage(client, repository, tag, [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }], {
          extraLayers: [[{ path: '/usr/lib/python3/site-packages/numpy/__init__.py', data: '__version__ = "2.1.0"\n' }]],
        });
        await annotatePod(ns.conn, pod.metadata!.name!, { 'kwok.cellpipe.dev/exit-code': '0' });
        return { repository, tag, args };
      })();
      const r = await runtime.submitNotebook({ notebookPath: nbPath, watch: false });
      const built = await executor;
      assert.ok(built.args.includes('--dockerfile=Containerfile'), built.args.join(' '));
      assert.match(built.tag, /^req-/);
      // The train step's image is the requirements image plus its code layer; load's is not.
      const spec = specDocument(r.yaml) as { deploymentSpec: { executors: Record<string, { container: { image: string } }> } };
      const images = Object.fromEntries(Object.entries(spec.deploymentSpec.executors).map(([k, v]) => [k.replace(/^exec-/, ''), v.container.image]));
      const reqImage = await client.resolveImage(built.repository, built.tag);
      const trainImage = await client.resolveImage('team/steps', images.train.split('@')[1]);
      const loadImage = await client.resolveImage('team/steps', images.load.split('@')[1]);
      assert.deepEqual(trainImage.manifest.layers.slice(0, reqImage.manifest.layers.length).map((l) => l.digest), reqImage.manifest.layers.map((l) => l.digest));
      assert.ok(!loadImage.manifest.layers.some((l) => l.digest === reqImage.manifest.layers.at(-1)!.digest), 'a step without requirements stays on the plain base');
      await waitFor('the build Job deleted', async () => (await ns.conn.batch.listNamespacedJob({ namespace: ns.name })).items.every((j) => j.metadata?.deletionTimestamp) || undefined);
      assert.deepEqual(fake.violations, []);
    } finally {
      client.close();
      await fake.close();
      await reg.stop();
      await ns.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
