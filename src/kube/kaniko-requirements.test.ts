/**
 * A profile with `build: kaniko`: the requirements image of a step is built by a kaniko Job in the profile's
 * namespace on the real test cluster, then the step's code layer goes on top, the run is submitted, and the steps
 * run in pods (src/kfp/testing/executors.ts) — the step with requirements imports the package kaniko installed.
 * Everything is real and stays on this machine: kaniko's executor built from its Go module (scripts/k8s/build.sh)
 * in an image pushed with cellpipe's own layer builder, Debian's python3 + pip as the base, a package index on
 * 127.0.0.1 serving a wheel made here (the profile's `pip` settings point pip at it), docker-registry for images.
 * The build pod uses the node's network (`kaniko.hostNetwork`): the registry and the index listen on 127.0.0.1.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKfpServer } from '../kfp/testing/fake-server.js';
import { runExecutors } from '../kfp/testing/executors.js';
import { specDocument } from '../kfp/parameters.js';
import { RegistryClient } from '../images/registry.js';
import { pushBaseImage, startRegistry } from '../images/testing.js';
import { debianBase } from '../runtimes/containers/base-image.js';
import { RunStore } from '../runs/store.js';
import { KubeflowRuntime } from '../runtimes/kubeflow/runtime.js';
import { SKIP_NO_REAL_NODE, freshNamespace, testCluster, trustRegistry, waitFor } from './testing.js';

const found = testCluster();
const cluster = found?.nodeKind === 'real' && found.kanikoExecutor ? found : undefined;
const REPO = new URL('../../', import.meta.url);

function notebook(): string {
  const cell = (id: string, tags: string[], source: string) => ({ cell_type: 'code', id, metadata: { tags }, source, outputs: [], execution_count: null });
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      cell('a', ['step:load'], 'rows = [1, 2, 3]'),
      cell('b', ['step:train', 'prev:load', 'requirements:cellpipe-probe==1.0'], 'import cellpipe_probe\nprint(cellpipe_probe.describe(rows))'),
    ],
  });
}

/** A pure-Python wheel made here (zipfile; no build backend, nothing downloaded), for the index below. */
function makeWheel(dir: string): string {
  const script = `
import base64, hashlib, sys, zipfile
out = sys.argv[1] + '/cellpipe_probe-1.0-py3-none-any.whl'
files = {
  'cellpipe_probe/__init__.py': 'def describe(rows):\\n    return f"cellpipe_probe 1.0 saw {len(rows)} rows, sum {sum(rows)}"\\n',
  'cellpipe_probe-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: cellpipe-probe\\nVersion: 1.0\\n',
  'cellpipe_probe-1.0.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: cellpipe-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
record = []
with zipfile.ZipFile(out, 'w') as z:
  for name, text in files.items():
    data = text.encode()
    z.writestr(name, data)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    record.append(f'{name},sha256={digest},{len(data)}')
  record.append('cellpipe_probe-1.0.dist-info/RECORD,,')
  z.writestr('cellpipe_probe-1.0.dist-info/RECORD', '\\n'.join(record) + '\\n')
print(out)
`;
  return execFileSync(new URL('.venv/bin/python', REPO).pathname, ['-c', script, dir], { encoding: 'utf8' }).trim();
}

/** A PEP 503 simple index on 127.0.0.1 serving one wheel. */
async function serveIndex(wheel: string): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const data = readFileSync(wheel);
  const name = wheel.slice(wheel.lastIndexOf('/') + 1);
  const sha = createHash('sha256').update(data).digest('hex');
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/simple/cellpipe-probe/') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(`<!DOCTYPE html><html><body><a href="/files/${name}#sha256=${sha}">${name}</a></body></html>`);
    } else if (req.url === `/files/${name}`) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length }).end(data);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('requirements images built by kaniko in the cluster', { skip: cluster ? false : SKIP_NO_REAL_NODE, timeout: 600_000 }, () => {
  test('kaniko builds the requirements image on the node; the step runs on it and imports the package; the Job is cleaned up', async () => {
    const c = cluster!;
    const ns = await freshNamespace(c, 'kaniko-req');
    const reg = await startRegistry('open');
    const fake = new FakeKfpServer({ progress: 'manual', clock: 'real' });
    await fake.start();
    const executors = runExecutors({ fake, cluster: c, conn: ns.conn });
    const dir = mkdtempSync(join(tmpdir(), 'cellpipe-kaniko-req-'));
    const client = new RegistryClient(reg.clientOptions());
    const index = await serveIndex(makeWheel(dir));
    try {
      await trustRegistry(c, reg.host);
      // Debian's python3 with pip: what a requirements build installs into.
      const base = await debianBase({ packages: ['python3', 'python3-pip'], onLog: (l) => process.stderr.write(`[mmdebstrap] ${l}\n`) });
      execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${base.layout}:${base.tag}`, `docker://${reg.host}/base/python:3.12`]);
      // kaniko's debug image, as gcr.io ships it: the executor, a busybox shell for the context init container.
      await pushBaseImage(client, 'tools/kaniko', 'v1.23.2-debug', [
        { path: '/kaniko/executor', data: readFileSync(c.kanikoExecutor!), executable: true },
        { path: '/busybox/sh', data: readFileSync('/bin/busybox'), executable: true },
        { path: '/kaniko/ssl/certs/ca-certificates.crt', data: readFileSync('/etc/ssl/certs/ca-certificates.crt') },
      ], {
        config: {
          Env: ['PATH=/usr/local/bin:/kaniko:/busybox', 'HOME=/root', 'USER=root', 'SSL_CERT_DIR=/kaniko/ssl/certs', 'DOCKER_CONFIG=/kaniko/.docker/'],
          Entrypoint: ['/kaniko/executor'], Cmd: [], WorkingDir: '/workspace',
        },
      });
      const nbPath = join(dir, 'train.ipynb');
      writeFileSync(nbPath, notebook());
      const runtime = new KubeflowRuntime({
        store: new RunStore(join(dir, '.cellpipe')),
        profile: {
          name: 'kk', namespace: ns.name, registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`,
          insecureRegistry: true, build: 'kaniko', kfp: { host: fake.url, auth: 'none' },
          pip: { indexUrl: index.url, trustedHost: '127.0.0.1' },
          kaniko: { image: `${reg.host}/tools/kaniko:v1.23.2-debug`, hostNetwork: true },
        },
        kube: ns.conn,
        env: {},
      });
      const r = await runtime.submitNotebook({ notebookPath: nbPath, watch: false });
      const kfpId = r.record.external!.kfpRunId;
      assert.ok(index.requests.some((u) => u.startsWith('/files/cellpipe_probe-1.0')), `pip in the kaniko pod fetched the wheel from the local index (requests: ${index.requests.join(', ')})`);
      // The train step's image is the requirements image plus its code layer; load's is not.
      const spec = specDocument(r.yaml) as { deploymentSpec: { executors: Record<string, { container: { image: string } }> } };
      const images = Object.fromEntries(Object.entries(spec.deploymentSpec.executors).map(([k, v]) => [k.replace(/^exec-/, ''), v.container.image]));
      const { tags } = await (await fetch(`http://${reg.host}/v2/team/steps/tags/list`)).json() as { tags: string[] };
      const reqTag = tags.find((t) => t.startsWith('req-'));
      assert.ok(reqTag, `a req- tag was pushed by kaniko (tags: ${tags.join(', ')})`);
      const reqImage = await client.resolveImage('team/steps', reqTag!);
      const trainImage = await client.resolveImage('team/steps', images.train.split('@')[1]);
      const loadImage = await client.resolveImage('team/steps', images.load.split('@')[1]);
      assert.deepEqual(trainImage.manifest.layers.slice(0, reqImage.manifest.layers.length).map((l) => l.digest), reqImage.manifest.layers.map((l) => l.digest));
      assert.ok(!loadImage.manifest.layers.some((l) => l.digest === reqImage.manifest.layers.at(-1)!.digest), 'a step without requirements stays on the plain base');
      // The run, executed by pods on the node: the train step imports what kaniko installed.
      await waitFor('the run to finish', async () => ['SUCCEEDED', 'FAILED'].includes(fake.runs.get(kfpId)?.run.state ?? '') || undefined, 240_000);
      const pods = (await ns.conn.core.listNamespacedPod({ namespace: ns.name, labelSelector: `pipeline/runid=${kfpId}` })).items;
      const trainPod = pods.find((p) => p.metadata?.annotations?.['workflows.argoproj.io/node-name']?.endsWith('.root.train.executor'));
      assert.ok(trainPod, 'the train executor pod exists');
      const log = await ns.conn.core.readNamespacedPodLog({ name: trainPod!.metadata!.name!, namespace: ns.name, container: 'main' });
      assert.equal(fake.runs.get(kfpId)?.run.state, 'SUCCEEDED', `the run succeeded; train's log:\n${log}`);
      assert.match(log, /cellpipe_probe 1\.0 saw 3 rows, sum 6/);
      // The step's system.HTML artifact (what the Kubeflow UI shows): its cells' outputs, on the run's artifact volume.
      const page = readFileSync(join(c.logDir, 'kfp-artifacts', kfpId, 'train', 'cellpipe_cell_outputs'), 'utf8');
      assert.match(page, /<h2>Cell 2<\/h2><pre>cellpipe_probe 1\.0 saw 3 rows, sum 6\n<\/pre>/);
      await waitFor('the build Job deleted', async () => (await ns.conn.batch.listNamespacedJob({ namespace: ns.name })).items.every((j) => j.metadata?.deletionTimestamp) || undefined);
      assert.deepEqual(fake.violations, []);
    } finally {
      client.close();
      await executors.stop();
      await index.close();
      await fake.close();
      await reg.stop();
      await ns.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
