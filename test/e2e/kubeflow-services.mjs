// What the e2e Kubeflow case talks to, started before JupyterLab so its backend finds the profiles file:
// a real registry (Debian's docker-registry, holding a real Debian Python base image made by mmdebstrap and cached
// per machine), the swagger-checked fake KFP API server (no real KFP can run here: see README, "Kubeflow Pipelines in
// the tests") and, on the real test cluster's kubelet node (scripts/k8s/cluster.sh, its env exported by
// test-e2e.sh), executor pods that run the step images cellpipe built and pushed (src/kfp/testing/executors.ts), so
// step output travels container → kubelet → Kubernetes API → cellpipe → the page. Writes the profiles file
// (argv[2]) — a usable profile `team`, `offline` whose registry refuses
// connections, and `broken` with a mistake in it — then prints `ready` and serves until
// SIGTERM. On exit it writes the fake's contract violations to argv[3] (empty file: none), which test-e2e.sh checks.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { FakeKfpServer } from '../../lib/kfp/testing/fake-server.js';
import { startRegistry } from '../../lib/images/testing.js';
import { freshNamespace, testCluster, trustRegistry } from '../../lib/kube/testing.js';
import { runExecutors } from '../../lib/kfp/testing/executors.js';
import { debianBase } from '../../lib/runtimes/containers/base-image.js';
import { execFileSync } from 'node:child_process';

const [profilesFile, violationsFile] = process.argv.slice(2);
if (!profilesFile || !violationsFile) {
  console.error('usage: node test/e2e/kubeflow-services.mjs PROFILES_FILE VIOLATIONS_FILE');
  process.exit(2);
}

const cluster = testCluster();
if (!cluster || cluster.nodeKind !== 'real') {
  console.error('kubeflow-services: no test cluster with a real node in the environment (CELLPIPE_K8S_KUBECONFIG, CELLPIPE_K8S_NODE_KIND=real); test-e2e.sh starts one');
  process.exit(1);
}
const registry = await startRegistry('open');
// The steps' base: Debian's python3 (with numpy and pandas), the image the containers tests use, cached per machine.
const base = await debianBase({ onLog: (l) => console.error(`[mmdebstrap] ${l}`) });
execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${base.layout}:${base.tag}`, `docker://${registry.host}/base/python:3.12`]);
await trustRegistry(cluster, registry.host);
const ns = await freshNamespace(cluster, 'e2e');
// Manual progress: the executor pods, not the fake's clock, move the tasks along.
const kfp = new FakeKfpServer({ multiUser: true, progress: 'manual', clock: 'real' });
await kfp.start();
const executors = runExecutors({ fake: kfp, cluster, conn: ns.conn, onError: (err) => kfp.violations.push(`executor pods: ${err.stack}`) });

writeFileSync(profilesFile, stringify({
  profiles: {
    team: {
      namespace: ns.name,
      kubeconfig: cluster.kubeconfig,
      registry: `${registry.host}/team/steps`,
      baseImage: `${registry.host}/base/python:3.12`,
      insecureRegistry: true,
      kfp: { host: kfp.url, auth: 'none', uiUrl: 'http://kubeflow.example.test/pipeline' },
    },
    // Port 9 (discard) refuses connections: the build stage cannot reach this registry.
    offline: {
      namespace: 'team-a',
      registry: '127.0.0.1:9/team/steps',
      baseImage: '127.0.0.1:9/base/python:3.12',
      insecureRegistry: true,
      kfp: { host: kfp.url, auth: 'none' },
    },
    broken: { namespace: 'team-c', kfp: { hots: 'a typo of host' } },
  },
}));
console.log('ready');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await executors.stop();
  writeFileSync(violationsFile, kfp.violations.join('\n'));
  await kfp.close();
  await ns.dispose().catch(() => undefined);
  await registry.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
