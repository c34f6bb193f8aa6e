/**
 * `cellpipe build NOTEBOOK --registry HOST[:PORT]/REPO [--base IMAGE] [--insecure] [--ca-file PEM] …`:
 * packages every step into an image (base + cellpipe runtime + the step's program + the files the steps read and the
 * declared files), pushes it, and prints `step → host/repo@sha256:…` per step (`unchanged` when that exact image was
 * already there), then on stderr the files it packaged and those that do not travel, with why.
 * Exit 0 on success, 1 when the notebook has errors or the build fails, 2 for usage errors.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import type { Command } from '../main.js';
import { compileNotebook } from '../../core/compile.js';
import { parseArgs, UsageError } from '../args.js';
import { formatDiagnostics } from '../diagnostics.js';
import { STEPS_DIR, WORK_DIR, type BuildProgress } from '../../images/build.js';
import { buildNotebookImages, declaredFileList } from '../../images/notebook.js';
import { filesReport } from '../files-report.js';
import { defaultCredentialSource, dockerConfigFromSecret, dockerConfigSource } from '../../images/credentials.js';
import { parseRepository } from '../../images/ref.js';
import { notebookReader } from '../../runs/notebook-reader.js';
import { formatBytes } from '../../core/bytes.js';

const USAGE = `usage: cellpipe build NOTEBOOK --registry HOST[:PORT]/REPO [options]

  --registry HOST/REPO   repository the step images are pushed to (required)
  --base IMAGE           base image (default: the notebook's base image setting)
  --insecure             talk plain http to the registry (only for registries you trust on your network)
  --ca-file FILE         trust this PEM CA certificate for the registry's TLS
  --auth-file FILE       credentials: a Docker config.json or a Kubernetes dockerconfigjson secret (JSON)
                         (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)
  --platform OS/ARCH     platform to pick from a multi-arch base (default linux/amd64)
  --layout per-step|single   one small layer per step on a shared layer (default), or one image for all steps
  --json                 print {step: image} as JSON instead of lines
  -o, --spec FILE        also write the pipeline spec (KFP v2 IR YAML) that runs these images`;

const build: Command = async (argv, io) => {
  let args;
  try {
    args = parseArgs(argv, {
      registry: { value: true }, base: { value: true }, insecure: {}, 'ca-file': { value: true }, 'auth-file': { value: true },
      platform: { value: true }, layout: { value: true }, json: {}, spec: { short: 'o', value: true }, help: { short: 'h' },
    });
    if (args.flags.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (args.positionals.length !== 1) throw new UsageError('give exactly one notebook');
    if (typeof args.flags.registry !== 'string') throw new UsageError('--registry HOST[:PORT]/REPO is required');
    parseRepository(args.flags.registry);
    const layout = args.flags.layout;
    if (layout !== undefined && layout !== 'per-step' && layout !== 'single') throw new UsageError('--layout is per-step or single');
    if (typeof args.flags.platform === 'string' && !/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(args.flags.platform)) {
      throw new UsageError(`--platform ${args.flags.platform}: write OS/ARCH, e.g. linux/arm64`);
    }
  } catch (err) {
    if (err instanceof UsageError || /--registry/.test((err as Error).message)) {
      io.stderr.write(`cellpipe build: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const flags = args.flags;
  const path = resolve(io.cwd, args.positionals[0]);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    io.stderr.write(`cellpipe build: cannot read ${args.positionals[0]}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}\n`);
    return 1;
  }
  const shown = relative(io.cwd, path) || path;
  const result = compileNotebook(text, { path: shown, graphOnly: true, readNotebook: notebookReader(path) });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (!result.ok || !result.graph) {
    const report = formatDiagnostics(errors.length ? errors : result.diagnostics, shown, { color: Boolean(io.stderr.isTTY) });
    io.stderr.write((report || `cellpipe build: ${shown} did not compile`) + '\n');
    return 1;
  }
  const notebookDir = dirname(path);
  try {
    declaredFileList(result);
  } catch (err) {
    io.stderr.write(`cellpipe build: ${shown}: ${(err as Error).message}\n`);
    return 1;
  }

  const env = io.env;
  let credentials = defaultCredentialSource(env);
  let ca: string | undefined;
  try {
    if (typeof flags['auth-file'] === 'string') {
      const raw = await readFile(resolve(io.cwd, flags['auth-file']), 'utf8');
      credentials = dockerConfigSource(dockerConfigFromSecret(raw), env);
    }
    if (typeof flags['ca-file'] === 'string') ca = await readFile(resolve(io.cwd, flags['ca-file']), 'utf8');
  } catch (err) {
    io.stderr.write(`cellpipe build: ${(err as Error).message}\n`);
    return 1;
  }

  const tty = Boolean(io.stderr.isTTY);
  let progressShown = false;
  const onProgress = (e: BuildProgress) => {
    if (e.kind === 'bytes' && tty) {
      io.stderr.write(`\r\x1b[Kuploading… ${formatBytes(e.uploaded)}`);
      progressShown = true;
    } else if (e.kind === 'requirements') {
      if (progressShown) io.stderr.write('\r\x1b[K');
      const what = { cached: 'already built', building: 'building with buildah (pip install)…', built: 'built and pushed' }[e.state];
      io.stderr.write(`requirements for ${e.steps.join(', ')}: ${what}\n`);
    } else if (e.kind === 'log' && tty) {
      io.stderr.write(`  ${e.line}\n`);
    }
  };
  const started = Date.now();
  let built;
  try {
    built = await buildNotebookImages(result, notebookDir, {
      registry: flags.registry as string,
      base: typeof flags.base === 'string' ? flags.base : undefined,
      insecure: Boolean(flags.insecure),
      ca,
      credentials,
      platform: typeof flags.platform === 'string' ? flags.platform : undefined,
      layout: flags.layout as 'per-step' | 'single' | undefined,
      onProgress,
    });
  } catch (err) {
    if (progressShown) io.stderr.write('\r\x1b[K');
    io.stderr.write(`cellpipe build: ${(err as Error).message}\n`);
    return 1;
  }
  if (progressShown) io.stderr.write('\r\x1b[K');
  if (flags.json) {
    io.stdout.write(JSON.stringify(built.images, null, 2) + '\n');
  } else {
    const width = Math.max(...Object.keys(built.steps).map((s) => s.length));
    for (const [step, s] of Object.entries(built.steps).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      io.stdout.write(`${step.padEnd(width)} → ${s.reference}${s.unchanged ? '  unchanged' : ''}\n`);
    }
  }
  io.stderr.write(`pushed ${formatBytes(built.stats.bytesUp)} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  io.stderr.write(filesReport(built.files));
  const warnings = formatDiagnostics(built.files.diagnostics, shown, { color: tty });
  if (warnings) io.stderr.write(warnings + '\n');
  if (typeof flags.spec === 'string') {
    // The spec that runs the programs packaged in the images, by digest.
    const spec = compileNotebook(text, { path: shown, images: built.images, programDir: STEPS_DIR, workdir: WORK_DIR, readNotebook: notebookReader(path) });
    if (!spec.ok || !spec.yaml) {
      io.stderr.write(formatDiagnostics(spec.diagnostics, shown, { color: tty }) + '\n');
      return 1;
    }
    await writeFile(resolve(io.cwd, flags.spec), spec.yaml);
    io.stderr.write(`wrote ${flags.spec}\n`);
  }
  return 0;
};

export default build;
