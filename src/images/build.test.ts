/**
 * `buildStepImages` end to end: a real registry, a base image made here, the real step runtime package and a real
 * 4-step notebook compiled by the core compiler; the result is checked with skopeo and unpacked with umoci.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileNotebook } from '../core/compile.js';
import type { StepProgram } from '../core/model.js';
import { buildStepImages, type BuildOptions } from './build.js';
import { RegistryClient, type ImageManifest } from './registry.js';
import { pushBaseImage, startFaultProxy, startRegistry, tool, type TestRegistry } from './testing.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const fixture = join(repoRoot, 'test/fixtures/images/fournb');

async function compileFixture(dir: string): Promise<{ programs: Record<string, StepProgram>; files: string[] }> {
  const text = await readFile(join(dir, 'four_steps.ipynb'), 'utf8');
  const res = compileNotebook(text, { path: 'four_steps.ipynb', graphOnly: true });
  assert.ok(res.ok, JSON.stringify(res.diagnostics));
  const meta = res.notebook?.metadata?.cellpipe as { files: string[] };
  return { programs: res.programs, files: meta.files };
}

let unpacked = 0;

/** `skopeo copy` the image to an OCI layout and `umoci unpack` it; returns the rootfs path. */
async function unpack(reg: TestRegistry, ref: string, work: string): Promise<string> {
  const name = `${ref.split('@')[1].slice(7, 19)}-${++unpacked}`;
  const layout = join(work, `layout-${name}`);
  const bundle = join(work, `bundle-${name}`);
  await tool('skopeo', ['copy', '--quiet', ...reg.toolFlags().map((f) => f.replace('--tls-verify', '--src-tls-verify').replace('--cert-dir', '--src-cert-dir').replace('--creds', '--src-creds')),
    `docker://${ref}`, `oci:${layout}:img`]);
  await tool('umoci', ['unpack', '--rootless', '--image', `${layout}:img`, bundle]);
  return join(bundle, 'rootfs');
}

async function pyFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory() && e.name !== '__pycache__') out.push(...(await pyFiles(join(dir, e.name), `${prefix}${e.name}/`)));
    else if (e.isFile() && e.name.endsWith('.py')) out.push(prefix + e.name);
  }
  return out.sort();
}

describe('buildStepImages on an open registry', () => {
  let reg: TestRegistry;
  let work: string;
  let nbDir: string;
  let baseClient: RegistryClient;
  let options: BuildOptions;
  before(async () => {
    reg = await startRegistry('open');
    work = await mkdtemp(join(tmpdir(), 'cellpipe-build-'));
    nbDir = join(work, 'nb');
    await cp(fixture, nbDir, { recursive: true });
    baseClient = new RegistryClient(reg.clientOptions());
    await pushBaseImage(baseClient, 'base/python', '3', [
      { path: '/bin/entry', data: '#!/bin/sh\nexec "$@"\n', executable: true },
      { path: '/etc/base-release', data: 'test base\n' },
    ]);
    const { programs, files } = await compileFixture(nbDir);
    options = {
      programs, files, notebookDir: nbDir,
      registry: `${reg.host}/team/steps`, base: `${reg.host}/base/python:3`, insecure: true,
    };
  });
  after(async () => {
    baseClient?.close();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('every step gets an image: base layers + runtime/files layer + its program; config as the step runtime needs', async () => {
    const events: string[] = [];
    const res = await buildStepImages({ ...options, onProgress: (e) => events.push(e.kind) });
    assert.deepEqual(Object.keys(res.images).sort(), ['clean', 'load', 'report', 'train']);
    assert.ok(Object.values(res.steps).every((s) => !s.unchanged));
    assert.equal(new Set(Object.values(res.images)).size, 4, 'one image per step');
    assert.ok(events.includes('base') && events.includes('bytes') && events.filter((e) => e === 'step').length === 4);
    assert.equal(res.stats.blobsMounted, 1, 'the base layer is mounted once, never uploaded');

    const inspect = JSON.parse(await tool('skopeo', ['inspect', ...reg.toolFlags(), `docker://${res.images.train}`]));
    assert.equal(inspect.Layers.length, 3);
    assert.equal(inspect.Labels['io.cellpipe.version'], '0.1.0');
    const raw = JSON.parse(await tool('skopeo', ['inspect', '--config', ...reg.toolFlags(), `docker://${res.images.train}`]));
    assert.deepEqual(raw.config.Entrypoint, ['/bin/entry'], 'the base entrypoint is kept');
    assert.deepEqual(raw.config.Cmd, ['--help']);
    assert.equal(raw.config.WorkingDir, '/cellpipe/work');
    assert.ok(raw.config.Env.includes('PYTHONPATH=/cellpipe/runtime'));
    assert.ok(raw.config.Env.includes('LANG=C.UTF-8'), 'base env kept');
    assert.equal(raw.rootfs.diff_ids.length, 3);
    assert.equal(raw.history.length, 3);
    assert.match(raw.history[2].created_by, /step train/);

    const rootfs = await unpack(reg, res.images.train, work);
    const program = JSON.parse(await readFile(join(rootfs, 'cellpipe/steps/train.json'), 'utf8')) as StepProgram;
    assert.deepEqual(program, options.programs.train);
    await assert.rejects(readFile(join(rootfs, 'cellpipe/steps/load.json')), 'a step image holds only its own program');
    assert.equal(await readFile(join(rootfs, 'cellpipe/work/data/train.csv'), 'utf8'), await readFile(join(nbDir, 'data/train.csv'), 'utf8'));
    assert.equal(await readFile(join(rootfs, 'etc/base-release'), 'utf8'), 'test base\n');
    // The runtime compiled into cellpipe is this checkout's python/cellpipe_runtime, file for file.
    const runtime = join(repoRoot, 'python/cellpipe_runtime');
    const expected = await pyFiles(runtime);
    assert.ok(expected.length > 0);
    assert.deepEqual(await pyFiles(join(rootfs, 'cellpipe/runtime/cellpipe_runtime')), expected);
    for (const f of expected) {
      assert.equal(await readFile(join(rootfs, 'cellpipe/runtime/cellpipe_runtime', f), 'utf8'), await readFile(join(runtime, f), 'utf8'), f);
    }
  });

  test('a second build with no change pushes nothing and returns the same digests', async () => {
    const first = await buildStepImages(options);
    const second = await buildStepImages(options);
    assert.deepEqual(second.images, first.images);
    assert.ok(Object.values(second.steps).every((s) => s.unchanged));
    assert.equal(second.stats.bytesUp, 0);
    assert.equal(second.stats.blobsUploaded + second.stats.manifestsPut + second.stats.blobsMounted, 0);
    // base manifest + base config + one HEAD per step
    assert.equal(second.stats.requests, 2 + 4);
  });

  test('a one-line change in one step pushes that step\'s small layer, config and manifest only', async () => {
    const first = await buildStepImages(options);
    const programs = structuredClone(options.programs);
    const cell = programs.report.cells.find((c) => c.role === 'step')!;
    cell.source += "\nprint('done')";
    const second = await buildStepImages({ ...options, programs });
    for (const s of ['load', 'clean', 'train']) {
      assert.equal(second.images[s], first.images[s], `${s} keeps its digest`);
      assert.equal(second.steps[s].unchanged, true);
    }
    assert.notEqual(second.images.report, first.images.report);
    assert.equal(second.stats.blobsUploaded, 2, 'new step layer + new config');
    assert.equal(second.stats.manifestsPut, 1);
    const manifestRef = second.images.report.split('@')[1];
    const m = await baseClient.getManifest('team/steps', manifestRef);
    const manifest = m.json as ImageManifest;
    const stepLayer = manifest.layers.at(-1)!;
    assert.equal(second.stats.bytesUp, stepLayer.size + manifest.config.size + m.bytes.length, 'exactly layer + config + manifest');
    assert.ok(stepLayer.size < 2048, `step layer is small (${stepLayer.size} B)`);
    const rootfs = await unpack(reg, second.images.report, work);
    assert.match(await readFile(join(rootfs, 'cellpipe/steps/report.json'), 'utf8'), /print\('done'\)/);
  });

  test('layout single: one image for all steps, holding every program', async () => {
    const res = await buildStepImages({ ...options, layout: 'single' });
    assert.equal(new Set(Object.values(res.images)).size, 1);
    const rootfs = await unpack(reg, res.images.load, work);
    for (const s of ['load', 'clean', 'train', 'report']) {
      assert.deepEqual(JSON.parse(await readFile(join(rootfs, `cellpipe/steps/${s}.json`), 'utf8')), options.programs[s]);
    }
  });

  test('declared files that are missing or outside the notebook folder are named in the error', async () => {
    await assert.rejects(buildStepImages({ ...options, files: ['data/missing.csv'] }), /metadata\.cellpipe\.files entry 'data\/missing\.csv': .* does not exist/);
    await assert.rejects(buildStepImages({ ...options, files: ['../secret.txt'] }), /points outside the notebook's folder/);
  });
});

describe('a connection dropped mid-upload', () => {
  let reg: TestRegistry;
  let work: string;
  before(async () => {
    reg = await startRegistry('open');
    work = await mkdtemp(join(tmpdir(), 'cellpipe-fault-'));
    await cp(fixture, join(work, 'nb'), { recursive: true });
    // An incompressible 1.5 MB data file makes the shared layer big enough to be cut in the middle.
    await writeFile(join(work, 'nb/data/blob.bin'), randomBytes(1536 * 1024));
    const c = new RegistryClient(reg.clientOptions());
    await pushBaseImage(c, 'base/python', '3', [{ path: '/bin/entry', data: 'x', executable: true }]);
    c.close();
  });
  after(async () => {
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const [how, chunkSize] of [['chunked upload', 256 * 1024], ['monolithic upload', 64 * 1024 * 1024]] as const) {
    test(`${how} is retried and leaves a correct image`, async () => {
      const proxy = await startFaultProxy(reg.host);
      try {
        const nb = join(work, 'nb');
        const { programs } = await compileFixture(nb);
        proxy.dropAfter(600 * 1024);
        const repo = `team/fault-${chunkSize}`;
        const res = await buildStepImages({
          programs, files: ['data/train.csv', 'data/blob.bin'], notebookDir: nb,
          registry: `${proxy.host}/${repo}`, base: `${proxy.host}/base/python:3`, insecure: true,
          client: { chunkSize, backoffMs: 20 },
        });
        assert.equal(proxy.drops, 1, 'the proxy cut one connection');
        assert.ok(res.stats.retries >= 1, 'the client retried');
        // Every blob of every image is intact: skopeo and umoci verify digests while copying and unpacking.
        for (const ref of Object.values(res.images)) {
          const direct = ref.replace(proxy.host, reg.host);
          const rootfs = await unpack(reg, direct, work);
          assert.ok((await readFile(join(rootfs, 'cellpipe/work/data/blob.bin'))).equals(await readFile(join(nb, 'data/blob.bin'))));
        }
      } finally {
        await proxy.stop();
      }
    });
  }
});
