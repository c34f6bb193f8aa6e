/**
 * Real parts for the container tests and the benchmark: the Debian Python base (made once with mmdebstrap,
 * cached under ~/.cache/cellpipe), a real docker-registry on loopback holding it, an image store in a temp folder.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startRegistry, type TestRegistry } from '../../images/testing.js';
import { debianBase, type BaseImage } from './base-image.js';
import { ImageStore, isMounted, mountRootfs, unmountRootfs } from './images.js';
import { runtimeConfig } from './oci-spec.js';
import { deleteContainer, listContainers, runcPath } from './runc.js';
import { findTool, runTool } from './tools.js';

export interface ContainerScene {
  registry: TestRegistry;
  base: BaseImage;
  /** The base in the registry: `127.0.0.1:PORT/base:TAG`. */
  baseRef: string;
  /** The base as a local layout reference: `oci:DIR:TAG`. */
  baseLayoutRef: string;
  images: ImageStore;
  dir: string;
  stop(): Promise<void>;
}

/** Why container tests cannot run here, or undefined when they can. */
export function containersUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'runc needs root here';
  for (const [tool, pkg] of [['runc', 'runc'], ['skopeo', 'skopeo'], ['mmdebstrap', 'mmdebstrap'], ['docker-registry', 'docker-registry']]) {
    if (!findTool(tool)) return `${tool} is not installed (Debian package ${pkg})`;
  }
  return undefined;
}

export async function containerScene(): Promise<ContainerScene> {
  const base = await debianBase({ onLog: (l) => process.stderr.write(`[mmdebstrap] ${l}\n`) });
  const registry = await startRegistry('open');
  const baseRef = `${registry.host}/base:${base.tag}`;
  await runTool(findTool('skopeo')!, ['copy', '--quiet', '--dest-tls-verify=false', `oci:${base.layout}:${base.tag}`, `docker://${baseRef}`]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-containers-'));
  const images = new ImageStore({ dir: path.join(dir, 'images'), insecureRegistries: [registry.host] });
  return {
    registry, base, baseRef, baseLayoutRef: `oci:${base.layout}:${base.tag}`, images, dir,
    async stop() {
      await registry.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Containers runc still knows whose id starts with `cellpipe-<runId>`, and overlay mounts left under `dir`. */
export async function leftovers(runId: string, dir: string): Promise<{ containers: string[]; mounts: string[] }> {
  const containers = (await listContainers()).map((c) => c.id).filter((id) => id.startsWith(`cellpipe-${runId}`));
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(dir));
  return { containers, mounts: mounts.filter((m) => isMounted(m)) };
}

/**
 * Runs `argv` in a throwaway container of `reference` with `mounts` (host → container, read-only) and returns
 * its stdout: for checks that must run with the image's own Python and libraries.
 */
export async function runInImage(images: ImageStore, reference: string, argv: string[], mounts: { source: string; destination: string }[]): Promise<string> {
  const pulled = await images.pull(reference);
  const layers = await images.unpackLayers(pulled);
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-check-'));
  const id = `cellpipe-check-${path.basename(bundle)}`.replace(/[^A-Za-z0-9_.-]/g, '-');
  try {
    await mountRootfs(layers, bundle);
    const config = runtimeConfig({
      image: pulled.config, command: argv, rootfs: 'rootfs', hostname: 'cellpipe-check', network: false,
      mounts: mounts.map((m) => ({ ...m, readonly: true })),
    });
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
    return await runTool(runcPath(), ['run', '--bundle', bundle, id]);
  } finally {
    await deleteContainer(id);
    await unmountRootfs(bundle);
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}

/** A copy of an image layout whose config runs as `user` (the layer is linked, not copied): `oci:DIR:TAG`. */
export function layoutWithUser(layout: string, tag: string, user: string, dir: string): string {
  const blob = (d: string) => path.join(layout, 'blobs', 'sha256', d.replace(/^sha256:/, ''));
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const manifest = JSON.parse(fs.readFileSync(blob(entry.digest), 'utf8')) as { config: { digest: string; size: number }; layers: { digest: string }[]; mediaType: string };
  const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8')) as { config: Record<string, unknown> };
  config.config.User = user;
  const out = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(out, { recursive: true });
  const write = (data: Buffer) => {
    const hex = createHash('sha256').update(data).digest('hex');
    fs.writeFileSync(path.join(out, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  for (const l of manifest.layers) {
    const to = path.join(out, l.digest.replace(/^sha256:/, ''));
    try {
      fs.linkSync(blob(l.digest), to);
    } catch {
      fs.copyFileSync(blob(l.digest), to);
    }
  }
  manifest.config = { ...manifest.config, ...write(Buffer.from(JSON.stringify(config))) };
  const m = write(Buffer.from(JSON.stringify(manifest)));
  const newTag = `user-${user.replace(/[^A-Za-z0-9_.-]/g, '-')}`;
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: manifest.mediaType, ...m, annotations: { 'org.opencontainers.image.ref.name': newTag } }] }));
  return `oci:${dir}:${newTag}`;
}
