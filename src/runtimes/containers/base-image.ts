/**
 * A Python base image made from Debian packages only (mmdebstrap, no registry download), written as an OCI image
 * layout under `~/.cache/cellpipe/bases/<key>` and reused from there: the key hashes everything that goes in
 * (suite, packages, mirror, excluded paths), and the build is reproducible (SOURCE_DATE_EPOCH, a fixed gzip
 * header, fixed config), so the same inputs on the same mirror state give the same digest.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { requireTool } from './tools.js';

export interface BaseImageOptions {
  /** Debian packages beyond the essential set (default python3, python3-numpy, python3-pandas). */
  packages?: string[];
  suite?: string;
  /** Debian mirror; default: the one apt uses (`/etc/apt/sources.list*`). */
  mirror?: string;
  /** Cache folder; default `$XDG_CACHE_HOME/cellpipe` or `~/.cache/cellpipe`. */
  cacheDir?: string;
  onLog?: (line: string) => void;
}

export interface BaseImage {
  /** OCI layout directory and the tag in it (`oci:DIR:TAG` for skopeo/umoci). */
  layout: string;
  tag: string;
  /** sha256 of the manifest. */
  digest: string;
  /** True when it was made now (not found in the cache). */
  created: boolean;
}

const EPOCH = 1_700_000_000; // fixed file times: the same packages give the same bytes
const EXCLUDES = ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/locale/*', '/usr/share/info/*'];

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'cellpipe');
}

/** The Debian mirror of the first non-security `deb` source apt has (one-line or deb822 format). */
export function aptMirror(files?: string[]): string {
  const candidates = files ?? [
    '/etc/apt/sources.list',
    ...(fs.existsSync('/etc/apt/sources.list.d') ? fs.readdirSync('/etc/apt/sources.list.d').filter((f) => /\.(list|sources)$/.test(f)).sort().map((f) => `/etc/apt/sources.list.d/${f}`) : []),
  ];
  for (const file of candidates) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(\S+)/m.exec(stanza);
      const suites = /^Suites:\s*(.+)$/m.exec(stanza);
      if (uris && suites && !/security/.test(suites[1]) && /^Types:.*\bdeb\b/m.test(stanza)) return uris[1];
    }
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m && !/security/.test(m[2])) return m[1];
    }
  }
  return 'http://deb.debian.org/debian';
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, onLog?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const take = (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-4000);
      for (const l of text.split('\n')) if (l.trim()) onLog?.(l);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${tail.trim().split('\n').slice(-5).join('\n')}`))));
  });
}

async function writeBlob(dir: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const hex = createHash('sha256').update(data).digest('hex');
  fs.writeFileSync(path.join(dir, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/** gzip of a tar file as a layer blob: digest and size of the gzip, diff_id of the tar. */
async function gzipLayer(tarFile: string, blobsDir: string): Promise<{ digest: string; size: number; diffId: string }> {
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let size = 0;
  let first = true;
  const tmp = path.join(blobsDir, 'layer.tmp');
  await pipeline(
    fs.createReadStream(tarFile),
    new Transform({ transform(chunk: Buffer, _e, cb) { tarHash.update(chunk); cb(null, chunk); } }),
    createGzip({ level: 6 }),
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        if (first && chunk.length > 9) {
          chunk[9] = 3; // gzip OS byte: Unix whatever the machine (mtime is already 0 in Node's header)
          first = false;
        }
        gzHash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    }),
    fs.createWriteStream(tmp),
  );
  const hex = gzHash.digest('hex');
  fs.renameSync(tmp, path.join(blobsDir, hex));
  return { digest: `sha256:${hex}`, size, diffId: `sha256:${tarHash.digest('hex')}` };
}

function debianArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** The base image for these options, from the cache or made now (about 30–80 s, once). */
export async function debianBase(o: BaseImageOptions = {}): Promise<BaseImage> {
  const packages = [...(o.packages ?? ['python3', 'python3-numpy', 'python3-pandas'])].sort();
  const suite = o.suite ?? 'bookworm';
  const mirror = o.mirror ?? aptMirror();
  const arch = debianArch();
  const key = createHash('sha256').update(JSON.stringify({ v: 1, suite, packages, mirror, arch, excludes: EXCLUDES, epoch: EPOCH })).digest('hex').slice(0, 16);
  const root = path.join(o.cacheDir ?? cacheRoot(), 'bases');
  const layout = path.join(root, key);
  const tag = `${suite}-${key}`;
  const index = path.join(layout, 'index.json');
  if (fs.existsSync(index)) {
    const m = (JSON.parse(fs.readFileSync(index, 'utf8')) as { manifests: { digest: string }[] }).manifests[0];
    return { layout, tag, digest: m.digest, created: false };
  }
  await requireTool('mmdebstrap', 'mmdebstrap');
  fs.mkdirSync(root, { recursive: true });
  const work = fs.mkdtempSync(path.join(root, `.${key}-`));
  try {
    const tarFile = path.join(work, 'rootfs.tar');
    const env = { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH), LC_ALL: 'C.UTF-8' };
    await run('mmdebstrap', [
      '--quiet', '--variant=essential', `--include=${packages.join(',')}`, `--architectures=${arch}`,
      ...EXCLUDES.map((p) => `--dpkgopt=path-exclude=${p}`),
      suite, tarFile, mirror,
    ], env, o.onLog);
    const out = path.join(work, 'layout');
    const blobs = path.join(out, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const layer = await gzipLayer(tarFile, blobs);
    fs.rmSync(tarFile);
    const created = new Date(EPOCH * 1000).toISOString();
    const config = {
      architecture: arch,
      os: 'linux',
      created,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8'], Cmd: ['python3'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: `cellpipe: mmdebstrap --variant=essential ${suite} (${packages.join(', ')})` }],
    };
    const configBlob = await writeBlob(out, Buffer.from(JSON.stringify(config)));
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
    };
    const manifestBlob = await writeBlob(out, Buffer.from(JSON.stringify(manifest)));
    fs.writeFileSync(path.join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    fs.writeFileSync(path.join(out, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: manifest.mediaType, ...manifestBlob, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }));
    try {
      fs.renameSync(out, layout);
    } catch (err) {
      // Another process made it meanwhile: theirs is as good as ours.
      if (!fs.existsSync(index)) throw err;
    }
    const m = (JSON.parse(fs.readFileSync(index, 'utf8')) as { manifests: { digest: string }[] }).manifests[0];
    return { layout, tag, digest: m.digest, created: true };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
