/**
 * What `cellpipe run --in-images` needs before the run starts: runc and skopeo present (else an error naming the
 * Debian package), a registry for the step images (the one given, or with none a private docker-registry on
 * loopback whose storage lives under the run store, so a user without a registry can still run in containers),
 * a base given as `oci:DIR:TAG` copied into that registry, the step images built, and the container runtime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunStore } from '../../runs/store.js';
import type { BuildProgress } from '../../images/build.js';
import { freePort, serveRegistry } from '../../images/docker-registry.js';
import { cacheRoot } from './base-image.js';
import { ImageStore } from './images.js';
import { containerPrerequisites, firstMissing } from './prerequisites.js';
import type { Prepared } from './prepare.js';
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
  const registry = await serveRegistry({ bin, config, port, label: 'the private registry' });
  return { host, stop: registry.stop };
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
    // Loaded when a container run starts: the image builder's packages (tar-stream) are not in the wheel's backend,
    // which serves local runs without them.
    const { prepareContainerRun } = await import('./prepare.js');
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
