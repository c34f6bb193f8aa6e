/**
 * `buildStepImages`: every step of a pipeline packaged into an image that holds the step's program, cellpipe's
 * step runtime and the notebook's declared files, so a run downloads nothing when it starts.
 *
 * Image layout (per-step, the default; see `layout`):
 *   base (or base + pip requirements)  ─┬─ shared layer: /cellpipe/runtime/cellpipe_runtime/*.py
 *                                       │                /cellpipe/work/<declared files>
 *                                       └─ step layer:   /cellpipe/steps/<step>.json
 * The shared layer is identical for every step, so it is uploaded once (concurrent steps share the upload); each step's own
 * layer is a few KB. A one-line change in one step changes only that step's layer, config and manifest, and the
 * other steps keep their image digests, so Kubeflow's cache (keyed on the image) still hits for them.
 * `layout: 'single'` puts everything into one layer and one image for all steps (the step is chosen at run time by
 * `--program`); it is measured in bench/images.mjs.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { StepProgram } from '../core/model.js';
import { RUNTIME_BUNDLE } from '../core/runtime-bundle.generated.js';
import { CELLPIPE_VERSION } from '../core/version.generated.js';
import { appendImage, contentTag, type AppendProgress } from './append.js';
import { defaultCredentialSource, type CredentialSource } from './credentials.js';
import { buildLayer, type Layer, type LayerFile } from './layer.js';
import { formatImageRef, parseImageRef, parseRepository } from './ref.js';
import { RegistryClient, type RegistryOptions, type RegistryStats, type ResolvedImage } from './registry.js';
import { buildRequirementsImage, normalizeRequirements, requirementsTag, type LocalBuilderOptions, type PipSettings } from './requirements.js';

export const STEPS_DIR = '/cellpipe/steps';
export const RUNTIME_DIR = '/cellpipe/runtime';
export const WORK_DIR = '/cellpipe/work';
export const VERSION_LABEL = 'io.cellpipe.version';

export interface BuildOptions {
  /** Step programs from the core compiler, by step name. */
  programs: Record<string, StepProgram>;
  /** Directory of the notebook; declared files are read relative to it. */
  notebookDir: string;
  /** Declared file dependencies (`metadata.cellpipe.files`), relative to the notebook; directories are included whole. */
  files?: string[];
  /** Per-step pip requirements (`Step.requirements`). */
  stepRequirements?: Record<string, string[]>;
  /** Requirements for every step (a `requirements.txt` next to the notebook). */
  requirements?: string[];
  /** Builds and pushes a requirements image (default: buildah on this machine; a profile may say kaniko). */
  buildRequirements?: (o: LocalBuilderOptions) => Promise<string>;
  /** Where requirements builds get their packages (a profile's `pip`). */
  pip?: PipSettings;
  /** Target `HOST[:PORT]/REPOSITORY`. */
  registry: string;
  /** Base image reference. */
  base: string;
  /** Steps with their own base (`image:` tag), by step name. */
  stepBases?: Record<string, string>;
  /** Target registry over plain http. */
  insecure?: boolean;
  /** The base image's registry over plain http (defaults to `insecure` when base and target share a registry). */
  baseInsecure?: boolean;
  /** PEM CA certificate(s) to trust for TLS. */
  ca?: string | Buffer;
  credentials?: CredentialSource;
  platform?: string;
  layout?: 'per-step' | 'single';
  /** A step runtime package directory to use instead of the runtime compiled into cellpipe (`bundledRuntimeFiles`). */
  runtimeDir?: string;
  /** Runtime version in tags and the label (default: cellpipe's package version). */
  version?: string;
  onProgress?: (event: BuildProgress) => void;
  /** Extra registry client settings (retries, chunk size) for tests and tuning. */
  client?: Partial<RegistryOptions>;
}

export type BuildProgress =
  | { kind: 'base'; image: string; digest: string }
  | { kind: 'requirements'; tag: string; state: 'cached' | 'building' | 'built'; steps: string[] }
  | { kind: 'log'; line: string }
  | { kind: 'bytes'; uploaded: number }
  | { kind: 'step'; step: string; reference: string; unchanged: boolean };

export interface StepImage {
  /** `host/repo@sha256:…`. */
  reference: string;
  tag: string;
  unchanged: boolean;
  /** The requirements image it was built on, when the step has requirements. */
  requirementsImage?: string;
}

export interface BuildResult {
  /** Step → image by digest, what the spec compiler takes. */
  images: Record<string, string>;
  steps: Record<string, StepImage>;
  stats: RegistryStats;
}

/**
 * The step runtime this cellpipe was built with: the sources compiled into it (the same the inline runtime of a
 * spec carries), so images get the same runtime from a checkout and from the wheel's bundled backend, which has no
 * python/ folder beside it.
 */
export function bundledRuntimeFiles(): LayerFile[] {
  const sources = JSON.parse(inflateSync(Buffer.from(RUNTIME_BUNDLE, 'base64')).toString('utf8')) as Record<string, string>;
  return Object.keys(sources).sort().map((name) => ({ path: `${RUNTIME_DIR}/${name}`, data: Buffer.from(sources[name], 'utf8') }));
}

async function walk(dir: string, filter: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === '__pycache__' || e.name.startsWith('.')) continue;
      out.push(...(await walk(p, filter)));
    } else if (e.isFile() && filter(e.name)) {
      out.push(p);
    }
  }
  return out.sort();
}

/** The runtime package's `.py` files at `/cellpipe/runtime/cellpipe_runtime/…`. */
export async function runtimeFiles(runtimeDir: string): Promise<LayerFile[]> {
  let files: string[];
  try {
    files = await walk(runtimeDir, (n) => n.endsWith('.py'));
  } catch (err) {
    throw new Error(`cellpipe's step runtime is missing at ${runtimeDir} (${(err as Error).message}) — reinstall cellpipe`);
  }
  if (!files.length) {
    throw new Error(`${runtimeDir} holds no Python files — reinstall cellpipe`);
  }
  return Promise.all(files.map(async (f) => ({
    path: `${RUNTIME_DIR}/cellpipe_runtime/${relative(runtimeDir, f).split(sep).join('/')}`,
    data: await readFile(f),
  })));
}

/** The notebook's declared files at `/cellpipe/work/<path>`; each must exist inside the notebook's directory. */
export async function declaredFiles(notebookDir: string, files: string[]): Promise<LayerFile[]> {
  const out: LayerFile[] = [];
  for (const entry of files) {
    const where = `metadata.cellpipe.files entry '${entry}'`;
    if (typeof entry !== 'string' || !entry.trim()) throw new Error(`${where}: must be a non-empty path relative to the notebook`);
    if (isAbsolute(entry)) throw new Error(`${where}: is absolute — give it relative to the notebook's folder`);
    const abs = resolve(notebookDir, entry);
    const rel = relative(notebookDir, abs);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${where}: points outside the notebook's folder — copy the file next to the notebook`);
    let st;
    try {
      st = await stat(abs);
    } catch {
      throw new Error(`${where}: ${abs} does not exist — fix the path or remove the entry`);
    }
    const paths = st.isDirectory() ? await walk(abs, () => true) : [abs];
    for (const p of paths) {
      const s = await stat(p);
      out.push({
        path: `${WORK_DIR}/${relative(notebookDir, p).split(sep).join('/')}`,
        data: await readFile(p),
        executable: (s.mode & 0o111) !== 0,
      });
    }
  }
  return out;
}

/** The program file of one step inside the image. */
export function programPath(step: string): string {
  return `${STEPS_DIR}/${step}.json`;
}

function programFile(program: StepProgram): LayerFile {
  return { path: programPath(program.step), data: JSON.stringify(program, null, 1) + '\n' };
}

/** Builds and pushes every step's image; see the module comment for the layout. */
export async function buildStepImages(o: BuildOptions): Promise<BuildResult> {
  const target = parseRepository(o.registry);
  const version = o.version ?? CELLPIPE_VERSION;
  const credentials = o.credentials ?? defaultCredentialSource();
  const clientOpts = { ...o.client, credentials, ca: o.ca };
  const targetClient = new RegistryClient({ ...clientOpts, registry: target.registry, insecure: o.insecure });
  const clients = new Map<string, RegistryClient>([[target.registry, targetClient]]);
  const clientFor = (registry: string): RegistryClient => {
    let c = clients.get(registry);
    if (!c) {
      c = new RegistryClient({ ...clientOpts, registry, insecure: o.baseInsecure ?? false });
      clients.set(registry, c);
    }
    return c;
  };
  const steps = Object.keys(o.programs).sort();
  if (!steps.length) throw new Error('the notebook has no steps to build — tag cells with step:<name>');
  for (const s of steps) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(s)) throw new Error(`step '${s}': its name cannot be a file name in the image`);
  }
  let lastBytes = -1;
  const reportBytes = () => {
    const up = targetClient.stats.bytesUp;
    if (up !== lastBytes) {
      lastBytes = up;
      o.onProgress?.({ kind: 'bytes', uploaded: up });
    }
  };
  const onAppend = (e: AppendProgress) => {
    if (e.kind === 'upload') reportBytes();
  };
  type Base = { image: ResolvedImage; client: RegistryClient; registry: string; reference?: string };

  try {
    // Bases: the pipeline's, or a step's own `image:`; each resolved to a digest once.
    const resolved = new Map<string, Base>();
    const baseOf = new Map<string, Base>();
    for (const s of steps) {
      const text = o.stepBases?.[s] ?? o.base;
      let b = resolved.get(text);
      if (!b) {
        let ref;
        try {
          ref = parseImageRef(text);
        } catch (err) {
          throw new Error(`${o.stepBases?.[s] ? `step '${s}' image` : 'base image'}: ${(err as Error).message}`);
        }
        const client = clientFor(ref.registry);
        const image = await client.resolveImage(ref.repository, ref.digest ?? ref.tag ?? 'latest', o.platform);
        o.onProgress?.({ kind: 'base', image: formatImageRef(ref), digest: image.digest });
        b = { image, client, registry: ref.registry };
        resolved.set(text, b);
      }
      baseOf.set(s, b);
    }

    // Requirements images, one per distinct (base, requirements).
    const groups = new Map<string, { base: Base; reqs: string[]; steps: string[] }>();
    for (const s of steps) {
      const reqs = normalizeRequirements([...(o.requirements ?? []), ...(o.stepRequirements?.[s] ?? [])]);
      if (!reqs.length) continue;
      const key = baseOf.get(s)!.image.digest + '\n' + reqs.join('\n');
      const g = groups.get(key) ?? { base: baseOf.get(s)!, reqs, steps: [] };
      g.steps.push(s);
      groups.set(key, g);
    }
    for (const g of groups.values()) {
      const tag = requirementsTag(g.base.image.digest, g.reqs);
      let existing = await targetClient.headManifest(target.repository, tag);
      if (existing) {
        o.onProgress?.({ kind: 'requirements', tag, state: 'cached', steps: g.steps });
      } else {
        o.onProgress?.({ kind: 'requirements', tag, state: 'building', steps: g.steps });
        await (o.buildRequirements ?? buildRequirementsImage)({
          base: `${g.base.registry}/${g.base.image.repository}@${g.base.image.digest}`,
          requirements: g.reqs,
          target: `${target.registry}/${target.repository}:${tag}`,
          registry: target.registry,
          insecure: o.insecure,
          ca: o.ca,
          credential: await credentials(target.registry),
          pip: o.pip,
          onLog: (line) => o.onProgress?.({ kind: 'log', line }),
        });
        existing = await targetClient.headManifest(target.repository, tag);
        if (!existing) throw new Error(`requirements image ${target.repository}:${tag} was pushed but the registry does not list it`);
        o.onProgress?.({ kind: 'requirements', tag, state: 'built', steps: g.steps });
      }
      const image = await targetClient.resolveImage(target.repository, existing.digest, o.platform);
      const reqBase: Base = { image, client: targetClient, registry: target.registry, reference: `${target.registry}/${target.repository}@${existing.digest}` };
      for (const s of g.steps) baseOf.set(s, reqBase);
    }

    const shared = [...(o.runtimeDir ? await runtimeFiles(o.runtimeDir) : bundledRuntimeFiles()), ...(await declaredFiles(o.notebookDir, o.files ?? []))];
    const pythonPath = (image: ResolvedImage) => {
      const existing = image.config.config?.Env?.find((e) => e.startsWith('PYTHONPATH='))?.slice('PYTHONPATH='.length);
      return existing && !existing.split(':').includes(RUNTIME_DIR) ? `${RUNTIME_DIR}:${existing}` : existing || RUNTIME_DIR;
    };
    const result: BuildResult = { images: {}, steps: {}, stats: targetClient.stats };

    const push = async (group: string[], layers: Layer[], b: Base) => {
      const tag = contentTag([b.image.digest, ...layers.map((l) => l.digest), version]);
      const res = await appendImage({
        target: targetClient,
        repository: target.repository,
        base: b.image,
        baseClient: b.client,
        layers,
        tag,
        changes: {
          env: { PYTHONPATH: pythonPath(b.image) },
          workingDir: WORK_DIR,
          labels: { [VERSION_LABEL]: version },
          createdBy: layers.length === 1
            ? [`cellpipe ${version}: runtime, files and steps ${group.join(', ')}`]
            : [`cellpipe ${version}: step runtime and notebook files`, `cellpipe ${version}: step ${group.join(', ')}`],
        },
        onProgress: onAppend,
      });
      reportBytes();
      for (const s of group) {
        result.images[s] = res.reference;
        result.steps[s] = { reference: res.reference, tag, unchanged: res.unchanged, requirementsImage: b.reference };
        o.onProgress?.({ kind: 'step', step: s, reference: res.reference, unchanged: res.unchanged });
      }
    };

    if (o.layout === 'single') {
      // One image per base (usually one for the whole pipeline).
      const byBase = new Map<string, string[]>();
      for (const s of steps) {
        const d = baseOf.get(s)!.image.digest;
        byBase.set(d, [...(byBase.get(d) ?? []), s]);
      }
      for (const group of byBase.values()) {
        const layer = await buildLayer([...shared, ...group.map((s) => programFile(o.programs[s]))]);
        await push(group, [layer], baseOf.get(group[0])!);
      }
    } else {
      const sharedLayer = await buildLayer(shared);
      const stepLayers = new Map<string, Layer>();
      for (const s of steps) stepLayers.set(s, await buildLayer([programFile(o.programs[s])]));
      // All steps in parallel; the client turns concurrent uploads/mounts of the shared blobs into one each.
      await Promise.all(steps.map((s) => push([s], [sharedLayer, stepLayers.get(s)!], baseOf.get(s)!)));
    }
    return result;
  } finally {
    for (const c of clients.values()) c.close();
  }
}
