// The images of the test cluster's Kubeflow stack (cluster.sh start --kfp), made with cellpipe's own image builder
// (lib/images: reproducible layers, the registry API) and pushed to the cluster's registry:
//   kfp/driver, kfp/launcher   KFP 2.17.0's driver and launcher (user 65532, as upstream's Dockerfiles: KFP compiles
//                              driver pods with runAsNonRoot, and an image without a user fails to start)
//   kfp/argoexec               Argo v4.0.5's executor (user 8737, as upstream)
//   base/python:3.12           the steps' base: Debian's python3 with numpy and pandas (the containers tests' base,
//                              made once per machine by mmdebstrap)
// Each image is one layer (the static binary in /bin, /tmp writable by all) on nothing: no base to download.
// Layers are cached beside the binaries, so a start after the first only uploads (or finds) them.
// Usage: node kfp-images.mjs KFP_CACHE_DIR REGISTRY_HOST   → prints `export KFP_…_IMAGE=host/repo@sha256:…` lines.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { RegistryClient, MediaTypes, sha256 } from '../../lib/images/registry.js';
import { debianBase } from '../../lib/runtimes/containers/base-image.js';

const [cacheDir, registry] = process.argv.slice(2);
if (!cacheDir || !registry) {
  console.error('usage: node kfp-images.mjs KFP_CACHE_DIR REGISTRY_HOST');
  process.exit(2);
}
const client = new RegistryClient({ registry, insecure: true });
const layersDir = join(cacheDir, 'images');
mkdirSync(layersDir, { recursive: true });

async function fileHash(path) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk);
  return h.digest('hex');
}

/** One reproducible layer: /bin/<binary>, /etc/passwd naming the user, /tmp with mode 1777. */
async function layerFor(binary, name, uid) {
  const key = `${name}-${uid}-${(await fileHash(join(cacheDir, 'bin', binary))).slice(0, 24)}`;
  const file = join(layersDir, `${key}.tar.gz`);
  const meta = join(layersDir, `${key}.json`);
  if (existsSync(file) && existsSync(meta)) return { blob: readFileSync(file), ...JSON.parse(readFileSync(meta, 'utf8')) };
  const pack = tar.pack();
  const chunks = [];
  pack.on('data', (c) => chunks.push(c));
  const done = new Promise((resolve, reject) => { pack.on('end', resolve); pack.on('error', reject); });
  const epoch = new Date(0);
  const entry = (header, data) => new Promise((resolve, reject) => pack.entry({ uid: 0, gid: 0, mtime: epoch, ...header }, data, (e) => (e ? reject(e) : resolve())));
  await entry({ name: 'bin', type: 'directory', mode: 0o755 });
  await entry({ name: `bin/${binary}`, mode: 0o755 }, readFileSync(join(cacheDir, 'bin', binary)));
  await entry({ name: 'etc', type: 'directory', mode: 0o755 });
  await entry({ name: 'etc/passwd', mode: 0o644 }, `root:x:0:0:root:/:/bin/false\n${name}:x:${uid}:${uid}:${name}:/tmp:/bin/false\n`);
  await entry({ name: 'etc/group', mode: 0o644 }, `root:x:0:\n${name}:x:${uid}:\n`);
  await entry({ name: 'tmp', type: 'directory', mode: 0o1777 });
  pack.finalize();
  await done;
  const tarBytes = Buffer.concat(chunks);
  // Level 1: these are cached, and the first start should not spend a minute of CPU compressing.
  const blob = gzipSync(tarBytes, { level: 1 });
  const info = { digest: sha256(blob), diffId: sha256(tarBytes), size: blob.length };
  writeFileSync(`${file}.tmp`, blob);
  renameSync(`${file}.tmp`, file);
  writeFileSync(meta, JSON.stringify(info));
  return { blob, ...info };
}

async function pushImage(repository, binary, uid, entrypoint) {
  const layer = await layerFor(binary, repository.split('/').pop(), uid);
  await client.uploadBlob(repository, layer.blob, { digest: layer.digest });
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { User: String(uid), Env: ['PATH=/bin'], Entrypoint: entrypoint, WorkingDir: '/tmp' },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: `cellpipe: ${binary} (scripts/k8s/kfp-build.sh)` }],
  }));
  await client.uploadBlob(repository, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MediaTypes.ociLayer, digest: layer.digest, size: layer.size }],
  }));
  const digest = await client.putManifest(repository, 'v2.17.0', manifest, MediaTypes.ociManifest);
  return `${registry}/${repository}@${digest}`;
}

const t0 = Date.now();
const images = {
  KFP_DRIVER_IMAGE: await pushImage('kfp/driver', 'driver', 65532, ['/bin/driver']),
  KFP_LAUNCHER_IMAGE: await pushImage('kfp/launcher', 'launcher-v2', 65532, ['/bin/launcher-v2']),
  KFP_ARGOEXEC_IMAGE: await pushImage('kfp/argoexec', 'argoexec', 8737, ['/bin/argoexec']),
};
const base = await debianBase({ onLog: (l) => console.error(`[mmdebstrap] ${l}`) });
execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${base.layout}:${base.tag}`, `docker://${registry}/base/python:3.12`]);
images.KFP_BASE_IMAGE = `${registry}/base/python:3.12`;
for (const [k, v] of Object.entries(images)) console.log(`export ${k}=${v}`);
console.error(`kfp-images: pushed in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
