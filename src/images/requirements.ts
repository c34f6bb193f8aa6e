/**
 * Steps with `requirements:` need `pip install`, which appending files cannot do. Their packages go into an image
 * of their own, `FROM <base@digest>` + `RUN pip install`, tagged by the hash of (base digest, requirements): a code
 * change never reinstalls packages; the code layer is appended on top of that image.
 *
 * `requirementsContext` is the pure part (Containerfile + context files) shared with the in-cluster kaniko builder;
 * `buildRequirementsImage` builds it locally with `buildah bud --isolation=chroot` and pushes it.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentTag } from './append.js';
import { dockerConfigFor, findExecutable, type Credential } from './credentials.js';

/** Where the requirements file sits inside requirements images. */
export const REQUIREMENTS_PATH = '/cellpipe/requirements.txt';

export interface BuildContext {
  containerfile: string;
  /** Context files by relative path. */
  files: Record<string, string>;
}

/**
 * Normalises requirement lines: trims, drops blanks and comments, keeps order of first appearance
 * (pip resolves them together, so order does not change the result; duplicates are dropped).
 */
export function normalizeRequirements(lines: string[]): string[] {
  const out: string[] = [];
  for (const raw of lines) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line && !out.includes(line)) out.push(line);
  }
  return out;
}

/** Where a local build mounts this machine's CA bundle for pip (a bind mount: its content never enters a layer). */
export const BUILD_CA_PATH = '/run/cellpipe-build/ca-certificates.crt';

export interface RequirementsContextOptions {
  /** A CA bundle mounted at this path during the build, trusted by pip (and Python's ssl) for the install only. */
  buildCaPath?: string;
  /** Where pip finds packages (a profile's `pip`): a private index or mirror instead of PyPI. */
  pip?: PipSettings;
}

/** pip's index settings for requirements builds (profile `pip:`); they are build ARGs, never in the image. */
export interface PipSettings {
  indexUrl?: string;
  extraIndexUrl?: string;
  trustedHost?: string;
}

/** Checks a profile's pip settings; returns a message naming the field at fault, or undefined. */
export function pipSettingsProblem(pip: PipSettings): string | undefined {
  for (const key of ['indexUrl', 'extraIndexUrl'] as const) {
    const v = pip[key];
    if (v === undefined) continue;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      return `${key}: '${v}' is not a URL`;
    }
    if (!['http:', 'https:'].includes(url.protocol) || /[\s"'\\]/.test(v)) return `${key}: expected an http(s) URL without spaces or quotes`;
    // The URL goes into the build's Containerfile (and a kaniko Job's ConfigMap): no credentials there.
    if (url.username || url.password) return `${key}: has credentials in it; give them to pip through a netrc or keyring in the base image instead`;
  }
  if (pip.trustedHost !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(pip.trustedHost)) return `trustedHost: '${pip.trustedHost}' is not a host[:port]`;
  return undefined;
}

/**
 * The Containerfile and context for a requirements image. The requirements travel as a file, so no requirement
 * text is ever parsed by a shell. Build settings are ARGs, not ENVs: RUN sees them, the image's config does not
 * keep them, so a step never inherits a CA path that only existed during the build.
 */
export function requirementsContext(base: string, requirements: string[], o: RequirementsContextOptions = {}): BuildContext {
  if (/[\s]/.test(base)) throw new Error(`base image '${base}' contains white space`);
  if (o.buildCaPath !== undefined && !/^\/[A-Za-z0-9_./-]+$/.test(o.buildCaPath)) throw new Error(`CA path '${o.buildCaPath}' must be an absolute plain path`);
  const pipProblem = o.pip && pipSettingsProblem(o.pip);
  if (pipProblem) throw new Error(`pip settings: ${pipProblem}`);
  const reqs = normalizeRequirements(requirements);
  const containerfile = [
    `FROM ${base}`,
    // Debian's and Ubuntu's Python is "externally managed" (PEP 668): pip refuses system installs. A step image is
    // the pipeline's own, not a system apt maintains, so packages go where that Python itself looks
    // (/usr/local/lib/python3.X/dist-packages), importable by the step runtime with no PYTHONPATH. Pips older than
    // PEP 668 ignore the variable.
    'ARG PIP_BREAK_SYSTEM_PACKAGES=1',
    ...(o.buildCaPath ? [`ARG PIP_CERT=${o.buildCaPath}`, `ARG SSL_CERT_FILE=${o.buildCaPath}`] : []),
    ...(o.pip?.indexUrl ? [`ARG PIP_INDEX_URL=${o.pip.indexUrl}`] : []),
    ...(o.pip?.extraIndexUrl ? [`ARG PIP_EXTRA_INDEX_URL=${o.pip.extraIndexUrl}`] : []),
    ...(o.pip?.trustedHost ? [`ARG PIP_TRUSTED_HOST=${o.pip.trustedHost}`] : []),
    `COPY requirements.txt ${REQUIREMENTS_PATH}`,
    `RUN ["python3", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "-r", "${REQUIREMENTS_PATH}"]`,
    '',
  ].join('\n');
  return { containerfile, files: { 'requirements.txt': reqs.join('\n') + '\n' } };
}

/**
 * The CA bundle this machine trusts, for pip inside a local build: a base image's own bundle lacks the CA of a
 * TLS-inspecting proxy or a private package index the host trusts, and pip would fail to verify them. The host's
 * choice first (PIP_CERT, SSL_CERT_FILE), then the distributions' system bundles; undefined when there is none.
 */
export function hostCaBundle(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [
    env.PIP_CERT, env.SSL_CERT_FILE,
    '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine, Arch
    '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
    '/etc/ssl/ca-bundle.pem', // openSUSE
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      // next candidate
    }
  }
  return undefined;
}

/** Tag of the requirements image for (base digest, requirements). */
export function requirementsTag(baseDigest: string, requirements: string[]): string {
  return contentTag([baseDigest, ...normalizeRequirements(requirements)], 'req');
}

export interface LocalBuilderOptions {
  /** Base image by digest, `host/repo@sha256:…`. */
  base: string;
  requirements: string[];
  /** Full target reference with tag, `host/repo:req-…`. */
  target: string;
  /** Registry host of base and target, for credentials/TLS. */
  registry: string;
  insecure?: boolean;
  /** PEM CA to trust. */
  ca?: string | Buffer;
  credential?: Credential;
  /** buildah storage driver (default: `$CELLPIPE_BUILDAH_STORAGE_DRIVER`, else buildah's own configuration). */
  storageDriver?: string;
  /** buildah storage root, e.g. a scratch directory (default: `$CELLPIPE_BUILDAH_ROOT`, else buildah's own). */
  storageRoot?: string;
  /** CA bundle pip trusts during the build (default: this machine's, `hostCaBundle()`); `false`: the base's own. */
  hostCa?: string | false;
  /** Where pip finds packages (default: pip's own configuration, PyPI). */
  pip?: PipSettings;
  onLog?: (line: string) => void;
}

/** Whether `buildah` is installed. */
export async function buildahAvailable(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  return (await findExecutable('buildah', env)) !== undefined;
}

/** Runs a program with argv (no shell), streaming its output lines; rejects with the tail of its output on failure. */
export function run(cmd: string, args: string[], onLog?: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let partial = '';
    const onData = (d: Buffer) => {
      const text = d.toString('utf8');
      out += text;
      if (out.length > 200_000) out = out.slice(-100_000);
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLog?.(l);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) onLog?.(partial);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args[0] ?? ''} ${args[1] ?? ''} failed (exit ${code}):\n${out.split('\n').slice(-15).join('\n')}`));
    });
  });
}

/** Builds the requirements image with buildah and pushes it; returns the pushed digest. */
export async function buildRequirementsImage(o: LocalBuilderOptions): Promise<string> {
  if (!(await buildahAvailable())) {
    throw new Error('this notebook has requirements (pip packages) but buildah is not installed — install buildah, or build in the cluster (kaniko)');
  }
  const dir = await mkdtemp(join(tmpdir(), 'cellpipe-req-'));
  try {
    // The host's CA bundle, copied (buildah's `-v SRC:DST` cannot take every path) and bind-mounted read-only
    // for the build: pip verifies the index the way this machine does, and only an empty mount point is left.
    const hostCa = o.hostCa === undefined ? hostCaBundle() : o.hostCa || undefined;
    const volumes: string[] = [];
    if (hostCa) {
      const copy = join(dir, 'ca-certificates.crt');
      await copyFile(hostCa, copy);
      volumes.push('-v', `${copy}:${BUILD_CA_PATH}:ro`);
    }
    const ctx = requirementsContext(o.base, o.requirements, { buildCaPath: hostCa ? BUILD_CA_PATH : undefined, pip: o.pip });
    const ctxDir = join(dir, 'context');
    await mkdir(ctxDir);
    await writeFile(join(ctxDir, 'Containerfile'), ctx.containerfile);
    for (const [name, text] of Object.entries(ctx.files)) await writeFile(join(ctxDir, name), text);
    const common: string[] = [`--tls-verify=${o.insecure ? 'false' : 'true'}`];
    if (o.ca) {
      const certDir = join(dir, 'certs');
      await mkdir(certDir);
      await writeFile(join(certDir, 'ca.crt'), o.ca);
      common.push('--cert-dir', certDir);
    }
    if (o.credential?.username) {
      const authfile = join(dir, 'auth.json');
      await writeFile(authfile, JSON.stringify(dockerConfigFor(o.registry, o.credential)), { mode: 0o600 });
      common.push('--authfile', authfile);
    }
    const driverName = o.storageDriver ?? process.env.CELLPIPE_BUILDAH_STORAGE_DRIVER;
    const storageRoot = o.storageRoot ?? process.env.CELLPIPE_BUILDAH_ROOT;
    const driver = [
      ...(driverName ? ['--storage-driver', driverName] : []),
      ...(storageRoot ? ['--root', join(storageRoot, 'root'), '--runroot', join(storageRoot, 'run')] : []),
    ];
    await run('buildah', [...driver, 'bud', '--isolation=chroot', '--pull', '--layers=false', ...common, ...volumes,
      '-f', join(ctxDir, 'Containerfile'), '-t', o.target, ctxDir], o.onLog);
    const digestFile = join(dir, 'digest');
    try {
      await run('buildah', [...driver, 'push', ...common, '--digestfile', digestFile, o.target, `docker://${o.target}`], o.onLog);
    } finally {
      await run('buildah', [...driver, 'rmi', o.target]).catch(() => undefined);
    }
    const { readFile } = await import('node:fs/promises');
    return (await readFile(digestFile, 'utf8')).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
