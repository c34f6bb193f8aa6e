#!/usr/bin/env node
/**
 * Benchmark (not a test): packaging a 4-step notebook on a ~100 MB base, first build and rebuild after a one-line
 * change, cellpipe `append` vs `buildah bud --isolation=chroot` (FROM base, COPY code) + `buildah push`, against
 * the same local registry in the same run. Bytes are counted by a TCP proxy in front of the registry (requests:
 * headers + bodies), the same way for both. Also measures cellpipe's two layouts (per-step vs single).
 *
 *   npx tsc -b && node bench/images.mjs [--base-mb 100] [--driver overlay|vfs] [--runs 1]
 *
 * Needs docker-registry and buildah (scripts/setup.sh installs them). Runs as root for buildah's chroot isolation.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const lib = (p) => import(join(root, 'lib', p));
const { startRegistry, startFaultProxy, pushBaseImage } = await lib('images/testing.js');
const { RegistryClient } = await lib('images/registry.js');
const { buildStepImages, defaultRuntimeDir } = await lib('images/build.js');
const { run } = await lib('images/requirements.js');
const { compileNotebook } = await lib('core/compile.js');

const { values } = parseArgs({ options: {
  'base-mb': { type: 'string', default: '100' }, driver: { type: 'string', default: 'overlay' }, runs: { type: 'string', default: '3' },
} });
const baseMB = Number(values['base-mb']);
const driver = values.driver;
const runs = Number(values.runs);

const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MB`;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const size = (n) => (n >= 1024 * 1024 ? mb(n) : kb(n));
const now = () => performance.now();

const work = await mkdtemp(join(tmpdir(), 'cellpipe-bench-images-'));
const reg = await startRegistry('open');
const proxy = await startFaultProxy(reg.host);
const buildahRoot = join(work, 'buildah');
const bflags = ['--root', join(buildahRoot, 'root'), '--runroot', join(buildahRoot, 'run'), '--storage-driver', driver];
const all = [];
let results = {};

try {
 for (let runIndex = 0; runIndex < runs; runIndex++) {
  results = {};
  all.push(results);
  console.error(`— run ${runIndex + 1} of ${runs}`);
  // --- base: ~100 MB of incompressible bytes plus an entrypoint, pushed straight to the registry ---------------
  console.error(`pushing a ${baseMB} MB base image…`);
  const direct = new RegistryClient({ registry: reg.host, insecure: true });
  await pushBaseImage(direct, 'base/big', String(runIndex), [
    { path: '/bin/entry', data: '#!/bin/sh\nexec "$@"\n', executable: true },
    { path: '/opt/payload.bin', data: randomBytes(baseMB * 1024 * 1024) },
  ], { gzipLevel: 1 });
  direct.close();
  const base = `${proxy.host}/base/big:${runIndex}`;

  // --- the notebook -------------------------------------------------------------------------------------------
  const nbDir = join(work, `nb${runIndex}`);
  await cp(join(root, 'test/fixtures/images/fournb'), nbDir, { recursive: true });
  const nbPath = join(nbDir, 'four_steps.ipynb');
  const compile = async () => {
    const r = compileNotebook(await readFile(nbPath, 'utf8'), { path: 'four_steps.ipynb', graphOnly: true });
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    return r.programs;
  };
  const oneLineChange = async () => {
    const nb = JSON.parse(await readFile(nbPath, 'utf8'));
    const cell = nb.cells.find((c) => (c.metadata.tags ?? []).includes('step:report'));
    cell.source = (Array.isArray(cell.source) ? cell.source.join('') : cell.source) + `\nprint('changed ${Date.now()}')`;
    await writeFile(nbPath, JSON.stringify(nb, null, 1));
  };
  const originalNotebook = await readFile(nbPath, 'utf8');

  const measure = async (name, fn) => {
    const up0 = proxy.bytesForwarded;
    const down0 = proxy.bytesReturned;
    const t0 = now();
    const extra = await fn();
    results[name] = { seconds: (now() - t0) / 1000, up: proxy.bytesForwarded - up0, down: proxy.bytesReturned - down0, ...extra };
    console.error(`${name}: ${results[name].seconds.toFixed(2)} s, up ${size(results[name].up)}, down ${size(results[name].down)}`);
  };

  // --- cellpipe append -----------------------------------------------------------------------------------------
  for (const layout of ['per-step', 'single']) {
    await writeFile(nbPath, originalNotebook);
    const opts = async () => ({
      programs: await compile(), files: ['data/train.csv'], notebookDir: nbDir,
      registry: `${proxy.host}/bench/cellpipe-${layout}-${runIndex}`, base, insecure: true, layout,
      credentials: async () => undefined,
    });
    // Compiling is the same work for both builders and stays outside the timings.
    let o = await opts();
    await measure(`cellpipe ${layout} first`, async () => {
      const r = await buildStepImages(o);
      return { images: new Set(Object.values(r.images)).size, requests: r.stats.requests };
    });
    await oneLineChange();
    o = await opts();
    await measure(`cellpipe ${layout} rebuild`, async () => {
      const r = await buildStepImages(o);
      return { rebuilt: Object.values(r.steps).filter((s) => !s.unchanged).length, requests: r.stats.requests, bodies: r.stats.bytesUp };
    });
    await measure(`cellpipe ${layout} no-change`, async () => {
      const r = await buildStepImages(o);
      return { rebuilt: Object.values(r.steps).filter((s) => !s.unchanged).length, requests: r.stats.requests };
    });
  }

  // The changed code, compressed: the step program that changed, gzip'd.
  const changedProgram = (await compile()).report;
  const changedCompressed = gzipSync(JSON.stringify(changedProgram, null, 1) + '\n').length;

  // --- buildah bud --isolation=chroot + buildah push ---------------------------------------------------------
  await writeFile(nbPath, originalNotebook);
  const ctx = join(work, 'ctx');
  const writeContext = async () => {
    await rm(ctx, { recursive: true, force: true });
    await mkdir(join(ctx, 'steps'), { recursive: true });
    await mkdir(join(ctx, 'work/data'), { recursive: true });
    await cp(defaultRuntimeDir(), join(ctx, 'runtime'), { recursive: true, filter: (p) => !p.includes('__pycache__') });
    await cp(join(nbDir, 'data/train.csv'), join(ctx, 'work/data/train.csv'));
    for (const [step, program] of Object.entries(await compile())) {
      await writeFile(join(ctx, 'steps', `${step}.json`), JSON.stringify(program, null, 1) + '\n');
    }
    await writeFile(join(ctx, 'Containerfile'), [
      `FROM ${base}`,
      'COPY runtime/ /cellpipe/runtime/cellpipe_runtime/',
      'COPY steps/ /cellpipe/steps/',
      'COPY work/ /cellpipe/work/',
      'ENV PYTHONPATH=/cellpipe/runtime',
      'WORKDIR /cellpipe/work',
      '',
    ].join('\n'));
  };
  const buildah = async (tag) => {
    const ref = `${proxy.host}/bench/buildah-${runIndex}:${tag}`;
    await run('buildah', [...bflags, 'bud', '--isolation=chroot', '--tls-verify=false', '-q', '-f', join(ctx, 'Containerfile'), '-t', ref, ctx]);
    await run('buildah', [...bflags, 'push', '--tls-verify=false', '-q', ref, `docker://${ref}`]);
  };
  await writeContext();
  await measure('buildah first', async () => buildah('v1'));
  await oneLineChange();
  await writeContext();
  await measure('buildah rebuild', async () => buildah('v2'));

  results.changedCompressed = changedCompressed;
 }

  // --- report: medians over the runs ---------------------------------------------------------------------------
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const names = Object.keys(all[0]).filter((k) => k !== 'changedCompressed');
  results = Object.fromEntries(names.map((n) => [n, Object.fromEntries(Object.keys(all[0][n]).map((k) => [k, median(all.map((r) => r[n][k]))]))]));
  const changedCompressed = median(all.map((r) => r.changedCompressed));
  const row = (name) => {
    const r = results[name];
    return `${name.padEnd(30)} ${r.seconds.toFixed(2).padStart(8)} s ${size(r.up).padStart(11)} up ${size(r.down).padStart(11)} down${r.requests ? `  ${r.requests} requests` : ''}`;
  };
  console.log(`\nbase image ${baseMB} MB (incompressible), 4-step notebook, buildah storage driver ${driver}, median of ${runs} run(s)`);
  console.log(Object.keys(results).map(row).join('\n'));
  const ratio = (a, b, key) => (results[a][key] / Math.max(results[b][key], 1e-9));
  console.log('\nbuildah ÷ cellpipe (per-step layout):');
  for (const phase of ['first', 'rebuild']) {
    console.log(`  ${phase.padEnd(8)} wall time ×${ratio(`buildah ${phase}`, `cellpipe per-step ${phase}`, 'seconds').toFixed(1)}, bytes uploaded ×${ratio(`buildah ${phase}`, `cellpipe per-step ${phase}`, 'up').toFixed(1)}`);
  }
  console.log(`changed code compressed (report step program, gzip): ${changedCompressed} B; cellpipe rebuild uploaded ${results['cellpipe per-step rebuild'].up} B (×${(results['cellpipe per-step rebuild'].up / changedCompressed).toFixed(1)}): ${results['cellpipe per-step rebuild'].bodies} B of bodies (step layer + config + manifest), the rest HTTP request lines and headers of ${results['cellpipe per-step rebuild'].requests} requests`);
  console.log(`layouts: per-step rebuild ${results['cellpipe per-step rebuild'].seconds.toFixed(2)} s / ${size(results['cellpipe per-step rebuild'].up)} (images changed: ${results['cellpipe per-step rebuild'].rebuilt}); single rebuild ${results['cellpipe single rebuild'].seconds.toFixed(2)} s / ${size(results['cellpipe single rebuild'].up)} (images changed: all steps share 1)`);
} finally {
  await run('buildah', [...bflags, 'rmi', '--all', '--force']).catch(() => undefined);
  await proxy.stop();
  await reg.stop();
  await rm(work, { recursive: true, force: true }).catch(async () => {
    await run('umount', ['-R', join(buildahRoot, 'root')]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });
}
