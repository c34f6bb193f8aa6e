/**
 * SeaweedFS — KFP 2.17's object store — for tests: the `weed` binary scripts/k8s/kfp-build.sh builds, started as
 * `weed mini` on 127.0.0.1 with free ports and a data folder of its own, its S3 API holding one identity the way
 * KFP's manifests configure it (`s3.configure -user kubeflow-admin -access_key … -secret_key … -actions Admin`). The
 * bucket and the objects are made over the S3 API, as KFP's launcher uploads them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';

/** Where kfp-build.sh puts `weed` (`$CELLPIPE_KFP_CACHE/2.17.0/bin/weed`, default root ~/.cache/cellpipe/kfp). */
export function weedPath(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.CELLPIPE_KFP_CACHE || join(env.HOME || homedir(), '.cache', 'cellpipe', 'kfp');
  return join(root, '2.17.0', 'bin', 'weed');
}

/** Why SeaweedFS tests cannot run here (no `weed` built), or undefined when they can. */
export function seaweedSkip(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    accessSync(weedPath(env), constants.X_OK);
    return undefined;
  } catch {
    return `needs SeaweedFS's weed at ${weedPath(env)} (built by scripts/k8s/kfp-build.sh, or by test-kfp.sh's first run)`;
  }
}

/** A free TCP port on 127.0.0.1 whose +10000 is free too (weed listens for gRPC there). */
async function freePortPair(taken: Set<number>): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(undefined));
      s.listen(port, '127.0.0.1', () => {
        const got = (s.address() as { port: number }).port;
        s.close(() => resolve(got));
      });
    });
  for (let i = 0; i < 50; i++) {
    const port = await tryPort(0);
    if (port === undefined || port + 10000 > 65535 || taken.has(port) || taken.has(port + 10000)) continue;
    if ((await tryPort(port + 10000)) === undefined) continue;
    taken.add(port);
    taken.add(port + 10000);
    return port;
  }
  throw new Error('no free pair of ports for weed on 127.0.0.1');
}

export interface SeaweedFs {
  /** The S3 API, `http://127.0.0.1:<port>`. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** Creates a bucket (S3 CreateBucket). */
  createBucket(bucket: string): Promise<void>;
  /** Puts an object (S3 PutObject), as KFP's launcher uploads an artifact. */
  put(bucket: string, key: string, body: string | Uint8Array): Promise<void>;
  /** What weed printed, for a failing test's message. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `weed mini` and waits until its S3 API answers (at most `readyMs`, default 60 s on a loaded machine). */
export async function startSeaweedFs(o: { readyMs?: number } = {}): Promise<SeaweedFs> {
  const dir = mkdtempSync(join(tmpdir(), 'cellpipe-seaweedfs-'));
  const accessKey = 'kubeflow-admin-key';
  const secretKey = `s3-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const config = join(dir, 's3.json');
  writeFileSync(config, JSON.stringify({ identities: [{ name: 'kubeflow-admin', credentials: [{ accessKey, secretKey }], actions: ['Admin'] }] }), { mode: 0o600 });
  const taken = new Set<number>();
  const [s3, master, volume, filer] = [await freePortPair(taken), await freePortPair(taken), await freePortPair(taken), await freePortPair(taken)];
  const args = [
    'mini', `-dir=${join(dir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1', `-s3.port=${s3}`, `-s3.config=${config}`,
    `-master.port=${master}`, `-volume.port=${volume}`, `-filer.port=${filer}`,
    '-webdav=false', '-admin.ui=false', '-s3.port.iceberg=0', '-s3.port.lance=0',
  ];
  let out = '';
  const child: ChildProcess = spawn(weedPath(), args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (b: Buffer) => void (out = (out + b.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${s3}`;
  const admin = new AwsClient({ accessKeyId: accessKey, secretAccessKey: secretKey, service: 's3', region: 'minio', retries: 0 });
  const send = async (method: string, path: string, body?: string | Uint8Array) => {
    const res = await admin.fetch(`${endpoint}${path}`, { method, body: body as BodyInit | undefined });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  };
  const deadline = Date.now() + (o.readyMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`weed mini exited before its S3 API answered:\n${out.slice(-3000)}`);
    }
    // The S3 API is up once it answers a signed ListBuckets (before that: refused, or 5xx while the filer starts).
    // Signed, then sent with a signal held here: one passed through aws4fetch's fetch may be collected before it fires.
    const signed = await admin.sign(`${endpoint}/`);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 2000);
    const up = await fetch(signed.url, { headers: signed.headers, signal: ac.signal }).then(async (r) => (await r.text(), r.ok), () => false).finally(() => clearTimeout(timer));
    if (up) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`weed mini's S3 API did not answer within ${(o.readyMs ?? 60_000) / 1000}s:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const path = (bucket: string, key = '') => `/${encodeURIComponent(bucket)}${key ? `/${key.split('/').map(encodeURIComponent).join('/')}` : ''}`;
  return {
    endpoint,
    accessKey,
    secretKey,
    createBucket: (bucket) => send('PUT', path(bucket)),
    put: (bucket, key, body) => send('PUT', path(bucket, key), body),
    output: () => out,
    stop,
  };
}
