/**
 * Reproducible image layers: the same files always give the same bytes, so the same digest, so a registry that
 * already has the layer is asked for nothing. Entries are sorted by path with their parent directories, every
 * mtime is 0, owner root (uid/gid 0, no names), modes fixed (0644 files, 0755 directories and executables); the
 * gzip header has mtime 0 and OS byte 3 (Unix) whatever the machine.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface LayerFile {
  /** Path inside the image, absolute or relative to `/` (`/cellpipe/steps/train.json`). */
  path: string;
  data: Buffer | string;
  /** True for files that must be executable (mode 0755). */
  executable?: boolean;
}

export interface Layer {
  /** gzip'd tar, what is pushed. */
  blob: Buffer;
  /** sha256 of `blob` (`sha256:…`): the layer digest in the manifest. */
  digest: string;
  /** sha256 of the uncompressed tar: the diff_id in the image config. */
  diffId: string;
  size: number;
  /** Uncompressed tar size. */
  tarSize: number;
  /** Paths in the layer (files only), sorted. */
  files: string[];
}

const EPOCH = new Date(0);

/** Normalises a path to the tar form: relative, `/`-separated, no `.`/`..` segments. */
export function layerPath(path: string): string {
  const parts = path.split('/').filter((p) => p && p !== '.');
  if (parts.some((p) => p === '..')) throw new Error(`layer path '${path}' leaves the image root ('..')`);
  if (!parts.length) throw new Error(`layer path '${path}' is empty`);
  return parts.join('/');
}

/** Builds a reproducible layer from files (later files with the same path replace earlier ones). */
export async function buildLayer(files: LayerFile[], gzipLevel = 6): Promise<Layer> {
  const byPath = new Map<string, LayerFile>();
  for (const f of files) byPath.set(layerPath(f.path), f);
  const dirs = new Set<string>();
  for (const p of byPath.keys()) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of dirs) if (byPath.has(d)) throw new Error(`layer path '${d}' is both a file and a directory`);
  const entries = [...[...dirs].map((d) => ({ path: d, dir: true as const })), ...[...byPath.keys()].map((p) => ({ path: p, dir: false as const }))];
  // Byte order of the path, so the order never depends on locale.
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));

  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const common = { mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' };
    if (e.dir) {
      pack.entry({ ...common, name: e.path + '/', type: 'directory', mode: 0o755 });
    } else {
      const f = byPath.get(e.path)!;
      const data = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data;
      pack.entry({ ...common, name: e.path, type: 'file', mode: f.executable ? 0o755 : 0o644, size: data.length }, data);
    }
  }
  pack.finalize();
  await done;
  const tarBytes = Buffer.concat(chunks);
  const blob = gzipSync(tarBytes, { level: gzipLevel });
  blob[9] = 3; // gzip OS field: Unix, fixed (zlib writes the build platform's code).
  return {
    blob,
    digest: 'sha256:' + createHash('sha256').update(blob).digest('hex'),
    diffId: 'sha256:' + createHash('sha256').update(tarBytes).digest('hex'),
    size: blob.length,
    tarSize: tarBytes.length,
    files: [...byPath.keys()].sort(),
  };
}
