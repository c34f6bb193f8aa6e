/**
 * The `append` builder: a new image = a base image + layers built here, written through the registry API alone.
 * Base layers are never downloaded when base and target share a registry (HEAD, then cross-repository mount);
 * only the new layers, the config and the manifest are uploaded, and nothing at all when the content-addressed
 * tag already exists.
 */
import { createHash } from 'node:crypto';
import type { Layer } from './layer.js';
import { MediaTypes, RegistryClient, sha256, type Descriptor, type ImageConfig, type ImageManifest, type ResolvedImage } from './registry.js';

export interface ConfigChanges {
  /** Set or replace these variables (`NAME=value` entries replace the base's entry of the same name). */
  env?: Record<string, string>;
  workingDir?: string;
  labels?: Record<string, string>;
  /** One history entry per appended layer (`created_by`). */
  createdBy?: string[];
}

export interface AppendOptions {
  /** Client of the registry the new image goes to. */
  target: RegistryClient;
  repository: string;
  /** The resolved base image and the client of its registry (may be `target`). */
  base: ResolvedImage;
  baseClient: RegistryClient;
  layers: Layer[];
  changes: ConfigChanges;
  /** Tag for the new image. Content-addressed by the caller; when it exists the image is not pushed again. */
  tag: string;
  onProgress?: (event: AppendProgress) => void;
}

export type AppendProgress =
  | { kind: 'base-layer'; digest: string; how: 'present' | 'mounted' | 'copied' }
  | { kind: 'upload'; digest: string; sent: number; total: number }
  | { kind: 'manifest'; digest: string };

export interface AppendResult {
  /** `host/repo@sha256:…` of the image manifest. */
  reference: string;
  digest: string;
  tag: string;
  /** True when the tag already existed and nothing was pushed. */
  unchanged: boolean;
}

/** The content-addressed tag: hash of (base digest, layer digests, runtime version, anything else that shapes the image). */
export function contentTag(parts: string[], prefix = 'cp'): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return `${prefix}-${h.digest('hex').slice(0, 40)}`;
}

/** The new image config: base config plus diff_ids, history and the requested Env/WorkingDir/Labels. */
export function appendConfig(base: ImageConfig, layers: Layer[], changes: ConfigChanges): ImageConfig {
  const config: ImageConfig = JSON.parse(JSON.stringify(base));
  config.rootfs = { type: 'layers', diff_ids: [...(base.rootfs?.diff_ids ?? []), ...layers.map((l) => l.diffId)] };
  // Keep the base's creation time: the same inputs must give the same config bytes (and image digest).
  const history = [...(base.history ?? [])];
  layers.forEach((_, i) => history.push({ created_by: changes.createdBy?.[i] ?? 'cellpipe append', comment: 'cellpipe' }));
  config.history = history;
  const c = { ...(config.config ?? {}) };
  if (changes.env) {
    const env = [...(c.Env ?? [])];
    for (const [name, value] of Object.entries(changes.env)) {
      const i = env.findIndex((e) => e.split('=')[0] === name);
      if (i >= 0) env[i] = `${name}=${value}`;
      else env.push(`${name}=${value}`);
    }
    c.Env = env;
  }
  if (changes.workingDir) c.WorkingDir = changes.workingDir;
  if (changes.labels) c.Labels = { ...(c.Labels ?? {}), ...changes.labels };
  config.config = c;
  return config;
}

/** Appends `layers` to the base image and pushes the result as `repository:tag` (unless that tag exists). */
export async function appendImage(o: AppendOptions): Promise<AppendResult> {
  const { target, repository } = o;
  const existing = await target.headManifest(repository, o.tag);
  if (existing) {
    return { reference: `${target.registry}/${repository}@${existing.digest}`, digest: existing.digest, tag: o.tag, unchanged: true };
  }
  const oci = o.base.mediaType === MediaTypes.ociManifest;
  const layerType = oci ? MediaTypes.ociLayer : MediaTypes.dockerLayer;

  // Base layers: present → nothing; same registry → mount; other registry → copy through this machine.
  // All blobs (base layers, new layers, config) go in parallel: each is independent until the manifest.
  const baseLayer = (layer: Descriptor) => target.once(`base ${repository}@${layer.digest}`, () => ensureBaseLayer(layer));
  const ensureBaseLayer = async (layer: Descriptor) => {
    if (layer.urls?.length) return; // foreign layers are fetched from their URLs by the runtime.
    if ((await target.headBlob(repository, layer.digest)) !== undefined) {
      o.onProgress?.({ kind: 'base-layer', digest: layer.digest, how: 'present' });
      return;
    }
    if (o.baseClient.registry === target.registry && (await target.mountBlob(repository, layer.digest, o.base.repository))) {
      o.onProgress?.({ kind: 'base-layer', digest: layer.digest, how: 'mounted' });
      return;
    }
    const data = await o.baseClient.getBlob(o.base.repository, layer.digest);
    await target.uploadBlob(repository, data, {
      digest: layer.digest,
      onProgress: (sent, total) => o.onProgress?.({ kind: 'upload', digest: layer.digest, sent, total }),
    });
    o.onProgress?.({ kind: 'base-layer', digest: layer.digest, how: 'copied' });
  };
  const config = appendConfig(o.base.config, o.layers, o.changes);
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBytes);
  await Promise.all([
    ...o.base.manifest.layers.map(baseLayer),
    ...o.layers.map((layer) => target.uploadBlob(repository, layer.blob, {
      digest: layer.digest,
      onProgress: (sent, total) => o.onProgress?.({ kind: 'upload', digest: layer.digest, sent, total }),
    })),
    // The config names every layer, so it is new whenever the tag is: no existence check.
    target.uploadBlob(repository, configBytes, { digest: configDigest, assumeNew: true }),
  ]);

  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: o.base.manifest.mediaType ?? o.base.mediaType,
    config: { mediaType: oci ? MediaTypes.ociConfig : MediaTypes.dockerConfig, digest: configDigest, size: configBytes.length },
    layers: [
      ...o.base.manifest.layers,
      ...o.layers.map((l): Descriptor => ({ mediaType: layerType, digest: l.digest, size: l.size })),
    ],
  };
  if (o.base.manifest.annotations) manifest.annotations = o.base.manifest.annotations;
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = await target.putManifest(repository, o.tag, bytes, manifest.mediaType!);
  o.onProgress?.({ kind: 'manifest', digest });
  return { reference: `${target.registry}/${repository}@${digest}`, digest, tag: o.tag, unchanged: false };
}
