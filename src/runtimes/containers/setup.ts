/**
 * What `cellpipe run --in-images` needs before the run starts: runc and skopeo present (else an error naming the
 * Debian package), a registry for the step images (the one given, or with none a private docker-registry on
 * loopback whose storage lives under the run store, so a user without a registry can still run in containers),
 * a base given as `oci:DIR:TAG` copied into that registry, the step images built, and the container runtime.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { RunStore } from '../../runs/store.js';
import type { BuildProgress } from '../../images/build.js';
import { cacheRoot } from './base-image.js';
import { ImageStore } from './images.js';
import { containerPrerequisites, firstMissing } from './prerequisites.js';
import { prepareContainerRun, type Prepared } from './prepare.js';
import { runcPath } from './runc.js';
import { ContainerRuntime } from './runtime.js';
import { MissingToolError, findTool, requireTool, runTool } from './tools.js';

/** The run target of the container runtime (the sidebar's "This machine, in containers"). */
export const CONTAINERS_TARGET = 'containers';

/** Why steps cannot run in containers on this machine (with a private registry), or undefined when they can. */
export function inImagesUnavailable(): string | undefined {
  return firstMissing(containerPrerequisites());
}

export interface InImagesOptions {
  store: RunStore;
  notebookPath: string;
  shown: string;
  text: string;
  /** `HOST[:PORT]/REPO`; default a private registry under the run store. */
  registry?: string;
  base?: string;
  insecure?: boolean;
  network?: boolean;
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
  onProgress?: (e: BuildProgress) => void;
  onNote?: (text: string) => void;
}

export interface InImages {
  runtime: ContainerRuntime;
  prepared: Prepared;
  /** Stops what was started for the run (the private registry). */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** docker-registry on 127.0.0.1 with its storage in `dir`; resolves once it accepts connections. */
export async function privateRegistry(dir: string): Promise<{ host: string; stop(): Promise<void> }> {
  const bin = findTool('docker-registry');
  if (!bin) throw new MissingToolError('docker-registry', 'docker-registry');
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(config, [
    'version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${path.join(dir, 'storage')}`,
    'http:', `  addr: ${host}`, '',
  ].join('\n'));
  const child: ChildProcess = spawn(bin, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the private registry (docker-registry) exited: ${stderr.trim()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => { sock.destroy(); resolve(true); });
      sock.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the private registry did not listen on ${host}: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function inImages(o: InImagesOptions): Promise<InImages> {
  runcPath();
  const skopeo = await requireTool('skopeo', 'skopeo');
  await requireTool('tar', 'tar');
  let registry = o.registry;
  let insecure = o.insecure;
  let stopRegistry: (() => Promise<void>) | undefined;
  if (!registry) {
    const r = await privateRegistry(path.join(o.store.dir, 'images', 'registry'));
    registry = `${r.host}/steps`;
    insecure = true;
    stopRegistry = r.stop;
    o.onNote?.(`no --registry: step images go to a private registry under ${path.join(o.store.dir, 'images')}`);
  }
  try {
    let base = o.base;
    if (base?.startsWith('oci:')) {
      // A local image layout (e.g. a base made with mmdebstrap): copied next to the step images first.
      const [, dir, tag = 'latest'] = /^oci:([^:]+)(?::(.+))?$/.exec(base) ?? [];
      if (!dir || !fs.existsSync(path.join(dir, 'index.json'))) throw new Error(`--base ${base}: no OCI image layout at ${dir}`);
      const target = `${registry.split('/')[0]}/${registry.split('/').slice(1).join('/')}-base:${tag.replace(/[^A-Za-z0-9_.-]/g, '-')}`;
      await runTool(skopeo, ['copy', '--quiet', ...(insecure ? ['--dest-tls-verify=false'] : []), base, `docker://${target}`]);
      base = target;
    }
    const prepared = await prepareContainerRun({
      shown: o.shown, path: o.notebookPath, text: o.text,
      build: { registry, base, insecure, baseInsecure: insecure && base?.split('/')[0] === registry.split('/')[0] ? true : undefined },
      onProgress: o.onProgress,
    });
    const images = new ImageStore({ dir: path.join(cacheRoot(o.env), 'containers'), insecureRegistries: insecure ? [registry.split('/')[0]] : [] });
    if (stopRegistry) {
      // Everything the run needs from the private registry, fetched now: it is stopped before the run starts, so
      // nothing of it is left if the runner is killed.
      await Promise.all(Object.values(prepared.built.images).map(async (ref) => images.unpackLayers(await images.pull(ref))));
      await stopRegistry();
      stopRegistry = undefined;
    }
    const runtime = new ContainerRuntime({ store: o.store, images, network: o.network, concurrency: o.concurrency, env: o.env });
    return { runtime, prepared, close: async () => { await stopRegistry?.(); } };
  } catch (err) {
    await stopRegistry?.();
    throw err;
  }
}
