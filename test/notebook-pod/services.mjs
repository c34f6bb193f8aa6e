// The Kubeflow notebook pod of scripts/test-notebook-pod.sh, on the test cluster's real node (scripts/k8s/cluster.sh,
// its env exported by the script):
//   - the notebook image, built by the builder cellpipe's requirements images use (buildah) from
//     containers/kubeflow-notebook/Containerfile — the README's — on the Debian Python base with pip (mmdebstrap,
//     cached per machine) with the wheel from dist/; buildah's layer cache (~/.cache/cellpipe/notebook-image) keeps
//     the JupyterLab layer, so only the wheel's layers are built again once the machine has built it;
//   - a real registry (docker-registry) and the swagger-checked fake KFP API server — the Kubeflow Pipelines this
//     cluster has for the e2e tests (KFP's own stack is opt-in: scripts/test-kfp.sh) — whose runs are executed by
//     real pods in the notebook's namespace (src/kfp/testing/executors.ts);
//   - what Kubeflow's installation gives a notebook pod: the `ml-pipeline` Service in namespace `kubeflow`, a
//     profile namespace with the service account `default-editor` (the rights Kubeflow's kubeflow-edit role gives on
//     what cellpipe uses), the PodDefault "access-ml-pipeline" (a service account token projected for the audience
//     pipelines.kubeflow.org at /var/run/secrets/kubeflow/pipelines/token) and the pod as Kubeflow's notebook
//     controller makes it (container named after the notebook, NB_PREFIX=/notebook/<namespace>/<name>, port 8888);
//   - what stands in for kube-proxy and CoreDNS here (the test cluster has neither): an iptables DNAT rule per
//     Service address (the `kubernetes` Service to the API server, ml-pipeline:8888 to the fake KFP server, the
//     registry's Service to docker-registry), and `hostAliases` naming ml-pipeline.kubeflow.svc.cluster.local.
// In front of the fake KFP server a recording proxy checks that every request carries the projected token (a JWT
// for the audience pipelines.kubeflow.org, subject default-editor of the namespace).
// Prints `image-build SECONDS cold|warm`, `pod-created MS` (epoch), `url URL`, `pod NAMESPACE/NAME`, then `ready`;
// on SIGTERM removes what it made and writes contract violations to argv[2] (empty: none).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { FakeKfpServer } from '../../lib/kfp/testing/fake-server.js';
import { startRegistry } from '../../lib/images/testing.js';
import { apiAddress, freshNamespace, testCluster, trustRegistry, waitFor } from '../../lib/kube/testing.js';
import { runExecutors } from '../../lib/kfp/testing/executors.js';
import { cacheRoot, debianBase } from '../../lib/runtimes/containers/base-image.js';
import { hostCaBundle, run } from '../../lib/images/requirements.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const [violationsFile] = process.argv.slice(2);
if (!violationsFile) {
  console.error('usage: node test/notebook-pod/services.mjs VIOLATIONS_FILE | --build-only');
  process.exit(2);
}
// --build-only: the image alone, into a registry of its own (warms buildah's layer cache; prints the time).
const buildOnly = violationsFile === '--build-only';
const say = (line) => console.log(line);
const note = (line) => console.error(`[notebook-pod] ${line}`);
const violations = [];
const cleanups = [];
let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of cleanups.reverse()) await c().catch((err) => note(`clean-up: ${err.message}`));
  if (!buildOnly) writeFileSync(violationsFile, violations.join('\n'));
  process.exit(code);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

try {
  await main();
} catch (err) {
  console.error(`notebook-pod services: ${err.stack ?? err}`);
  await stop(1);
}

async function main() {
  if (buildOnly) {
    const registry = await startRegistry('open');
    cleanups.push(() => registry.stop());
    const image = await buildNotebookImage(registry.host);
    say(`image-build ${image.seconds.toFixed(1)} ${image.warm ? 'warm' : 'cold'}`);
    return stop();
  }
  const cluster = testCluster();
  if (!cluster || cluster.nodeKind !== 'real') throw new Error('no test cluster with a real node in the environment (scripts/test-notebook-pod.sh starts one)');
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);

  const registry = await startRegistry('open');
  cleanups.push(() => registry.stop());
  await trustRegistry(cluster, registry.host);

  // --- the notebook image -------------------------------------------------------------------------------------
  const image = await buildNotebookImage(registry.host);
  say(`image-build ${image.seconds.toFixed(1)} ${image.warm ? 'warm' : 'cold'}`);

  // --- Kubeflow's Services, and what stands in for kube-proxy and DNS -----------------------------------------
  await core.createNamespace({ body: { metadata: { name: 'kubeflow' } } }).catch(() => undefined);
  const service = async (name, port) => {
    const s = await core.createNamespacedService({ namespace: 'kubeflow', body: { metadata: { name }, spec: { type: 'ClusterIP', ports: [{ port, targetPort: port }] } } });
    cleanups.push(() => core.deleteNamespacedService({ name, namespace: 'kubeflow' }));
    return s.spec.clusterIP;
  };
  const kfpIp = await service('ml-pipeline', 8888);
  const registryIp = await service('cellpipe-registry', 5000);
  const kfp = new FakeKfpServer({ multiUser: true, progress: 'manual', clock: 'real' });
  await kfp.start();
  cleanups.push(() => kfp.close());
  const front = await tokenCheckingProxy(new URL(kfp.url));
  cleanups.push(() => new Promise((r) => front.server.close(() => r())));
  const bridge = bridgeOf(process.env.CELLPIPE_K8S_NODE_IP);
  const api = apiAddress(cluster);
  const rules = [
    [`10.0.0.1`, 443, api.port],
    [kfpIp, 8888, front.port],
    [registryIp, 5000, Number(registry.host.split(':')[1])],
  ].map(([ip, port, to]) => ['PREROUTING', '-i', bridge, '-d', `${ip}/32`, '-p', 'tcp', '--dport', String(port), '-m', 'comment', '--comment', 'cellpipe-nbpod', '-j', 'DNAT', '--to-destination', `127.0.0.1:${to}`]);
  execFileSync('sysctl', ['-q', '-w', `net.ipv4.conf.${bridge}.route_localnet=1`]);
  for (const r of rules) {
    execFileSync('iptables', ['-t', 'nat', '-A', ...r]);
    cleanups.push(async () => execFileSync('iptables', ['-t', 'nat', '-D', ...r]));
  }
  // The node pulls what the pod pushes to the registry's Service address from docker-registry itself.
  const inCluster = `${registryIp}:5000`;
  mkdirSync(join(cluster.registryConfig, inCluster), { recursive: true });
  writeFileSync(join(cluster.registryConfig, inCluster, 'hosts.toml'),
    `server = "http://${registry.host}"\n\n[host."http://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n`);

  // --- the profile namespace ----------------------------------------------------------------------------------
  const ns = await freshNamespace(cluster, 'kubeflow-user');
  cleanups.push(() => ns.dispose());
  await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'default-editor' } } });
  // What cellpipe uses of Kubeflow's kubeflow-edit ClusterRole, which a profile binds to default-editor.
  await rbac.createNamespacedRole({ namespace: ns.name, body: { metadata: { name: 'kubeflow-edit' }, rules: [
    { apiGroups: [''], resources: ['pods', 'pods/log', 'secrets', 'configmaps', 'persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch', 'update'] },
    { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch', 'update'] },
  ] } });
  await rbac.createNamespacedRoleBinding({ namespace: ns.name, body: { metadata: { name: 'default-editor' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kubeflow-edit' },
    subjects: [{ kind: 'ServiceAccount', name: 'default-editor', namespace: ns.name }] } });
  front.expect = { sub: `system:serviceaccount:${ns.name}:default-editor`, aud: 'pipelines.kubeflow.org' };
  const executors = runExecutors({ fake: kfp, cluster, conn: ns.conn, onError: (err) => violations.push(`executor pods: ${err.stack}`) });
  cleanups.push(() => executors.stop());
  cleanups.push(async () => {
    if (front.seen === 0) violations.push('the fake KFP server got no request from the notebook pod');
    violations.push(...front.problems);
    violations.push(...kfp.violations);
  });

  // --- the notebook pod, as Kubeflow's notebook controller and the PodDefault make it --------------------------
  const name = 'cellpipe-nb';
  const prefix = `/notebook/${ns.name}/${name}`;
  const pod = {
    metadata: { name: `${name}-0`, labels: { 'notebook-name': name, statefulset: name } },
    spec: {
      serviceAccountName: 'default-editor',
      securityContext: { fsGroup: 100 },
      hostAliases: [{ ip: kfpIp, hostnames: ['ml-pipeline.kubeflow.svc.cluster.local', 'ml-pipeline.kubeflow'] }],
      containers: [{
        name,
        image: `${inCluster}/notebooks/cellpipe-lab:${image.tag}`,
        env: [
          { name: 'NB_PREFIX', value: prefix },
          { name: 'KF_PIPELINES_SA_TOKEN_PATH', value: '/var/run/secrets/kubeflow/pipelines/token' },
          // The platform team's choice of registry for step images (see the README's Containerfile).
          { name: 'CELLPIPE_REGISTRY', value: `${inCluster}/${ns.name}/steps` },
          { name: 'CELLPIPE_INSECURE_REGISTRY', value: 'true' },
        ],
        ports: [{ name: 'notebook-port', containerPort: 8888 }],
        volumeMounts: [{ name: 'volume-kf-pipeline-token', mountPath: '/var/run/secrets/kubeflow/pipelines', readOnly: true }],
      }],
      volumes: [{ name: 'volume-kf-pipeline-token', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 7200, audience: 'pipelines.kubeflow.org' } }] } }],
    },
  };
  const created = Date.now();
  await core.createNamespacedPod({ namespace: ns.name, body: pod });
  say(`pod-created ${created}`);
  say(`pod ${ns.name}/${name}-0`);
  const running = await waitFor('the notebook pod to run', async () => {
    const p = await core.readNamespacedPod({ name: `${name}-0`, namespace: ns.name });
    if (p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded') throw new Error(`the notebook pod ended: ${JSON.stringify(p.status)}`);
    return p.status?.phase === 'Running' && p.status.podIP ? p : undefined;
  }, 300_000);
  const url = `http://${running.status.podIP}:8888${prefix}/`;
  // JupyterLab answers under NB_PREFIX; a container that exits (restarts) instead fails now, with its log.
  await waitFor('JupyterLab in the notebook pod to answer', async () => {
    const p = await core.readNamespacedPod({ name: `${name}-0`, namespace: ns.name });
    if ((p.status?.containerStatuses?.[0]?.restartCount ?? 0) > 0) {
      const text = await core.readNamespacedPodLog({ name: `${name}-0`, namespace: ns.name, previous: true }).catch((e) => String(e));
      throw new Error(`the notebook's container exited:\n${String(text).split('\n').slice(-30).join('\n')}`);
    }
    return fetch(`${url}api/status`).then((r) => r.ok, () => false);
  }, 300_000);
  say(`url ${url}`);
  say('ready');
}

/** Builds containers/kubeflow-notebook/Containerfile on the Debian Python base with the wheel from dist/. */
async function buildNotebookImage(registryHost) {
  const wheels = readdirSync(join(repo, 'dist')).filter((f) => /^cellpipe-.*\.whl$/.test(f));
  if (wheels.length !== 1) throw new Error(`expected one cellpipe wheel in dist/, found: ${wheels.join(', ') || 'none'} (scripts/build-wheel.sh)`);
  // The Debian Python base with pip, and libstdc++ for the wheels JupyterLab's kernels need (pyzmq).
  const base = await debianBase({ packages: ['python3', 'python3-pip', 'libstdc++6'], onLog: (l) => note(`[mmdebstrap] ${l}`) });
  const digestFile = join(mkdtempSync(join(tmpdir(), 'cellpipe-nbimage-')), 'digest');
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--digestfile', digestFile, `oci:${base.layout}:${base.tag}`, `docker://${registryHost}/base/python-pip:3`]);
  const baseRef = `${registryHost}/base/python-pip@${readFileSync(digestFile, 'utf8').trim()}`;
  const context = mkdtempSync(join(tmpdir(), 'cellpipe-nbimage-ctx-'));
  cleanups.push(async () => rmSync(dirname(digestFile), { recursive: true, force: true }));
  cleanups.push(async () => rmSync(context, { recursive: true, force: true }));
  copyFileSync(join(repo, 'containers/kubeflow-notebook/Containerfile'), join(context, 'Containerfile'));
  copyFileSync(join(repo, 'dist', wheels[0]), join(context, wheels[0]));
  // buildah's own storage for this image only: its layer cache is what makes the second build quick.
  const store = join(cacheRoot(), 'notebook-image', 'buildah');
  const storage = ['--root', join(store, 'root'), '--runroot', join(store, 'run')];
  const tag = `e2e-${Date.now()}`;
  const target = `${registryHost}/notebooks/cellpipe-lab:${tag}`;
  // pip inside the build verifies PyPI the way this machine does (a TLS-inspecting proxy's CA): the host's bundle,
  // bind-mounted read-only where Debian's pip reads it; nothing of it stays in the image.
  const ca = hostCaBundle();
  const t0 = performance.now();
  let cached = 0;
  await run('buildah', [...storage, 'bud', '--isolation=chroot', '--layers', '--tls-verify=false',
    ...(ca ? ['-v', `${ca}:/etc/ssl/certs/ca-certificates.crt:ro`] : []),
    '--build-arg', `BASE=${baseRef}`, '-f', join(context, 'Containerfile'), '-t', target, context], (l) => {
    if (/Using cache/.test(l)) cached++;
    note(`[buildah] ${l}`);
  });
  await run('buildah', [...storage, 'push', '--tls-verify=false', target, `docker://${target}`], (l) => note(`[buildah] ${l}`));
  // The image stays in the store under a name of its own (removing it would remove its layers, the cache with them);
  // the one it replaces there is dropped.
  await run('buildah', [...storage, 'tag', target, 'localhost/cellpipe/notebook-image:cache']);
  await run('buildah', [...storage, 'rmi', target]).catch(() => undefined);
  await run('buildah', [...storage, 'rmi', '--prune']).catch(() => undefined);
  return { tag, seconds: (performance.now() - t0) / 1000, warm: cached > 0 };
}

/** The bridge the real node's pods are on: the link holding the node's address. */
function bridgeOf(nodeIp) {
  const out = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(` ${nodeIp}/`));
  if (!line) throw new Error(`no link has the node address ${nodeIp}`);
  return line.split(/\s+/)[1];
}

/**
 * An HTTP proxy in front of the fake KFP server that checks each request's bearer token is the projected one: a
 * service account JWT for `expect.aud`, of `expect.sub` (its signature is the API server's business, not KFP's here).
 */
async function tokenCheckingProxy(target) {
  const state = { seen: 0, problems: [], expect: undefined, port: 0, server: undefined };
  state.server = http.createServer((req, res) => {
    state.seen++;
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(auth);
    if (!m) state.problems.push(`${req.method} ${req.url}: no bearer JWT (Authorization: ${auth ? 'not a JWT' : 'absent'})`);
    else if (state.expect) {
      const claims = JSON.parse(Buffer.from(m[2], 'base64url').toString('utf8'));
      const aud = [].concat(claims.aud ?? []);
      if (!aud.includes(state.expect.aud) || claims.sub !== state.expect.sub) {
        state.problems.push(`${req.method} ${req.url}: token for ${claims.sub} (audience ${aud.join(', ')}), not ${state.expect.sub} for ${state.expect.aud}`);
      }
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (err) => res.writeHead(502).end(err.message));
    req.pipe(up);
  });
  await new Promise((r) => state.server.listen(0, '127.0.0.1', () => r()));
  state.port = state.server.address().port;
  return state;
}
