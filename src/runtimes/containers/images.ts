/**
 * Step images on this machine, without a daemon: pulled with skopeo into one shared OCI image layout (blobs are
 * shared, so a base pulled once serves every step image built on it), each layer unpacked once into its own
 * folder keyed by its digest, and a container's root filesystem an overlay of those folders with a writable
 * upper folder of its own — what containerd's overlay snapshotter does. A re-run of an unchanged step pulls and
 * unpacks nothing; a changed step costs its one small layer.
 *
 * Layer whiteouts (`.wh.NAME`, `.wh..wh..opq`) become overlayfs whiteouts (0/0 character devices) when the
 * layer is unpacked; an opaque directory becomes a whiteout for each entry the layers below it have there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireTool, runTool } from './tools.js';
import type { ImageRuntimeConfig } from './oci-spec.js';
import { pidExists } from '../../runs/process.js';
import { sleep } from '../../runs/sleep.js';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

export interface PulledImage {
  /** The reference as given. */
  reference: string;
  /** Digest of the manifest in the local layout. */
  digest: string;
  layers: Descriptor[];
  config: ImageRuntimeConfig;
}

export interface ImageStoreOptions {
  /** Cache folder (default `~/.cache/cellpipe/containers`). */
  dir: string;
  /** Registries reached over plain http (`host:port`). */
  insecureRegistries?: string[];
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');

/**
 * Runs `fn` holding a lock folder (`mkdir` is atomic): skopeo rewrites the shared layout's index.json, so two
 * processes (a CLI run and the backend) must not copy into it at once. A lock whose holder is dead is taken over.
 */
export async function withLock<T>(lock: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        holder = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        // being created or removed right now
      }
      if (Number.isInteger(holder) && holder > 0 && !pidExists(holder)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the image store is locked by process ${holder} (${lock}); remove the folder if that process is gone`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** A per-key promise queue: one pull or unpack of the same thing at a time in this process. */
class KeyedOnce {
  private readonly pending = new Map<string, Promise<unknown>>();
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const p = this.pending.get(key) as Promise<T> | undefined;
    if (p) return p;
    const q = fn().finally(() => this.pending.delete(key));
    this.pending.set(key, q);
    return q;
  }
}

export class ImageStore {
  readonly dir: string;
  readonly layout: string;
  readonly layersDir: string;
  private readonly insecure: Set<string>;
  private readonly once = new KeyedOnce();
  /** skopeo writes the layout's index.json: one copy at a time. */
  private copyChain: Promise<unknown> = Promise.resolve();

  constructor(o: ImageStoreOptions) {
    this.dir = o.dir;
    this.layout = path.join(o.dir, 'oci');
    this.layersDir = path.join(o.dir, 'layers');
    this.insecure = new Set(o.insecureRegistries ?? []);
  }

  /** The tag an image reference gets in the shared layout (content-addressed when the reference has a digest). */
  static tagFor(reference: string): string {
    const at = reference.indexOf('@sha256:');
    if (at >= 0) return `d-${reference.slice(at + 8)}`;
    return `r-${Buffer.from(reference).toString('base64url').slice(0, 120)}`;
  }

  private readIndex(): { manifests: Descriptor[] } {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    } catch {
      return { manifests: [] };
    }
  }

  private blob(digest: string): Buffer {
    return fs.readFileSync(path.join(this.layout, 'blobs', 'sha256', hex(digest)));
  }

  /**
   * Makes the image available locally: `host/repo@sha256:…` or `host/repo:tag` from a registry, or
   * `oci:DIR:TAG` from an image layout. An image pinned by digest is copied only once.
   */
  async pull(reference: string): Promise<PulledImage> {
    const tag = ImageStore.tagFor(reference);
    return this.once.run(`pull:${tag}`, async () => {
      const pinned = reference.includes('@sha256:');
      let entry = pinned ? this.readIndex().manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag) : undefined;
      if (!entry) {
        const skopeo = await requireTool('skopeo', 'skopeo');
        const source = reference.startsWith('oci:') ? reference : `docker://${reference}`;
        const registry = reference.startsWith('oci:') ? '' : reference.split('/')[0];
        const args = ['copy', '--quiet', ...(this.insecure.has(registry) || /^(127\.|localhost[:/])/.test(registry) ? ['--src-tls-verify=false'] : []), source, `oci:${this.layout}:${tag}`];
        fs.mkdirSync(this.dir, { recursive: true });
        const copy = this.copyChain.then(() => withLock(`${this.layout}.lock`, () => runTool(skopeo, args)));
        this.copyChain = copy.catch(() => undefined);
        try {
          await copy;
        } catch (err) {
          throw new Error(`could not pull ${reference}: ${(err as Error).message}`);
        }
        entry = this.readIndex().manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
        if (!entry) throw new Error(`could not pull ${reference}: skopeo did not record it in ${this.layout}`);
      }
      const manifest = JSON.parse(this.blob(entry.digest).toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
      const config = JSON.parse(this.blob(manifest.config.digest).toString('utf8')) as { config?: ImageRuntimeConfig };
      return { reference, digest: entry.digest, layers: manifest.layers, config: config.config ?? {} };
    });
  }

  /** Unpacks each layer once; returns the layer folders bottom first. */
  async unpackLayers(image: PulledImage): Promise<string[]> {
    const dirs: string[] = [];
    for (const layer of image.layers) {
      const below = [...dirs];
      dirs.push(await this.once.run(`layer:${layer.digest}`, () => this.unpackLayer(layer, below)));
    }
    return dirs;
  }

  private async unpackLayer(layer: Descriptor, below: string[]): Promise<string> {
    const target = path.join(this.layersDir, hex(layer.digest));
    if (fs.existsSync(path.join(target, '.cellpipe-done'))) return path.join(target, 'fs');
    const tar = await requireTool('tar', 'tar');
    fs.mkdirSync(this.layersDir, { recursive: true });
    const work = fs.mkdtempSync(path.join(this.layersDir, `.${hex(layer.digest).slice(0, 12)}-`));
    const root = path.join(work, 'fs');
    fs.mkdirSync(root);
    try {
      const compression = layer.mediaType.endsWith('+zstd') ? ['--zstd'] : layer.mediaType.endsWith('.tar') ? [] : ['--gzip'];
      await runTool(tar, ['--extract', ...compression, '--file', path.join(this.layout, 'blobs', 'sha256', hex(layer.digest)),
        '--directory', root, '--numeric-owner', '--preserve-permissions', '--same-owner']);
      await convertWhiteouts(root, below);
      fs.writeFileSync(path.join(work, '.cellpipe-done'), layer.digest + '\n');
      try {
        fs.renameSync(work, target);
      } catch (err) {
        if (!fs.existsSync(path.join(target, '.cellpipe-done'))) throw err;
      }
      return path.join(target, 'fs');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
}

/** OCI whiteouts → overlayfs whiteouts, in place. */
async function convertWhiteouts(root: string, below: string[]): Promise<void> {
  const mknod = await requireTool('mknod', 'coreutils');
  const visit = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const childRel = path.join(rel, e.name);
      if (e.name === '.wh..wh..opq') {
        fs.rmSync(path.join(root, childRel));
        // Hide everything the lower layers have in this folder (opaque without xattrs).
        const names = new Set<string>();
        for (const d of below) {
          try {
            for (const n of fs.readdirSync(path.join(d, rel))) names.add(n);
          } catch {
            // not in that layer
          }
        }
        const own = new Set(fs.readdirSync(abs));
        for (const n of names) if (!own.has(n)) await runTool(mknod, [path.join(abs, n), 'c', '0', '0']);
      } else if (e.name.startsWith('.wh.')) {
        fs.rmSync(path.join(root, childRel), { recursive: true, force: true });
        await runTool(mknod, [path.join(abs, e.name.slice(4)), 'c', '0', '0']);
      } else if (e.isDirectory()) {
        await visit(childRel);
      }
    }
  };
  await visit('.');
}

/** Overlay mount options; throws for paths overlayfs cannot take in its option string. */
export function overlayOptions(lowerBottomFirst: string[], upper: string, work: string): string {
  const all = [...lowerBottomFirst, upper, work];
  const bad = all.find((p) => /[,:\\]/.test(p));
  if (bad) throw new Error(`cannot mount an overlay over ${bad}: the path contains ',', ':' or '\\' — use a run store path without them`);
  return `lowerdir=${[...lowerBottomFirst].reverse().join(':')},upperdir=${upper},workdir=${work}`;
}

/** Mounts the container's root filesystem: the image's layers, read-only, under a writable upper folder. */
export async function mountRootfs(layers: string[], containerDir: string): Promise<string> {
  const mount = await requireTool('mount', 'mount');
  const upper = path.join(containerDir, 'upper');
  const work = path.join(containerDir, 'work');
  const rootfs = path.join(containerDir, 'rootfs');
  for (const d of [upper, work, rootfs]) fs.mkdirSync(d, { recursive: true });
  await runTool(mount, ['-t', 'overlay', 'overlay', '-o', overlayOptions(layers, upper, work), rootfs]);
  return rootfs;
}

/** True when something is mounted at `dir` (from /proc/self/mountinfo). */
export function isMounted(dir: string): boolean {
  const target = path.resolve(dir);
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === target);
  } catch {
    return false;
  }
}

/** Unmounts the container's root filesystem (lazily when something still holds it). */
export async function unmountRootfs(containerDir: string): Promise<void> {
  const rootfs = path.join(containerDir, 'rootfs');
  if (!isMounted(rootfs)) return;
  const umount = await requireTool('umount', 'mount');
  try {
    await runTool(umount, [rootfs]);
  } catch {
    await runTool(umount, ['-l', rootfs]);
  }
}
