/**
 * Steps with `requirements:` need `pip install`, which appending files cannot do. Their packages go into an image
 * of their own, `FROM <base@digest>` + `RUN pip install`, tagged by the hash of (base digest, requirements): a code
 * change never reinstalls packages; the code layer is appended on top of that image.
 *
 * `requirementsContext` is the pure part (Containerfile + context files) shared with the in-cluster kaniko builder;
 * `buildRequirementsImage` builds it locally with `buildah bud --isolation=chroot` and pushes it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
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

/**
 * The Containerfile and context for a requirements image. The requirements travel as a file, so no requirement
 * text is ever parsed by a shell.
 */
export function requirementsContext(base: string, requirements: string[]): BuildContext {
  if (/[\s]/.test(base)) throw new Error(`base image '${base}' contains white space`);
  const reqs = normalizeRequirements(requirements);
  const containerfile = [
    `FROM ${base}`,
    `COPY requirements.txt ${REQUIREMENTS_PATH}`,
    `RUN ["python3", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "-r", "${REQUIREMENTS_PATH}"]`,
    '',
  ].join('\n');
  return { containerfile, files: { 'requirements.txt': reqs.join('\n') + '\n' } };
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
    const ctx = requirementsContext(o.base, o.requirements);
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
    await run('buildah', [...driver, 'bud', '--isolation=chroot', '--pull', '--layers=false', ...common,
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
