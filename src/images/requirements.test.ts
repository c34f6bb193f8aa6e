/**
 * Steps with pip requirements: the Containerfile/context (pure, shared with the kaniko builder) and the local
 * buildah builder end to end — a Python base image assembled here from this machine's python3, `pip install` of
 * a wheel shipped in the base (no network), the requirements image cached by its hash, the code appended on top.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { compileNotebook } from '../core/compile.js';
import { buildStepImages, type BuildProgress } from './build.js';
import type { LayerFile } from './layer.js';
import { RegistryClient } from './registry.js';
import { BUILD_CA_PATH, hostCaBundle, normalizeRequirements, pipSettingsProblem, requirementsContext, requirementsTag } from './requirements.js';
import { pushBaseImage, startRegistry, tool, type TestRegistry } from './testing.js';

const exec = promisify(execFile);
const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

test('the requirements Containerfile installs from a file, never through a shell, and the tag hashes base + requirements', () => {
  const ctx = requirementsContext('reg.example/base@sha256:' + 'a'.repeat(64), ['pandas==2.2', ' scikit-learn ', '# comment', '', 'pandas==2.2', 'x; rm -rf /']);
  assert.equal(ctx.containerfile, [
    `FROM reg.example/base@sha256:${'a'.repeat(64)}`,
    'ARG PIP_BREAK_SYSTEM_PACKAGES=1',
    'COPY requirements.txt /cellpipe/requirements.txt',
    'RUN ["python3", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "-r", "/cellpipe/requirements.txt"]',
    '',
  ].join('\n'));
  assert.deepEqual(ctx.files, { 'requirements.txt': 'pandas==2.2\nscikit-learn\nx; rm -rf /\n' });
  assert.deepEqual(normalizeRequirements(['a  # why', 'b']), ['a', 'b']);
  const d1 = 'sha256:' + '1'.repeat(64);
  assert.equal(requirementsTag(d1, ['a', 'b']), requirementsTag(d1, ['a', '', 'b', '# x']));
  assert.notEqual(requirementsTag(d1, ['a', 'b']), requirementsTag(d1, ['a', 'c']));
  assert.notEqual(requirementsTag(d1, ['a']), requirementsTag('sha256:' + '2'.repeat(64), ['a']));
  assert.match(requirementsTag(d1, ['a']), /^req-[0-9a-f]{40}$/);
});

test('a profile\'s pip index reaches the build as ARGs; a URL with credentials or a bad host is refused, naming the field', () => {
  const ctx = requirementsContext('reg.example/base:1', ['six'], { pip: { indexUrl: 'https://pypi.internal/simple', extraIndexUrl: 'http://127.0.0.1:8080/simple', trustedHost: '127.0.0.1:8080' } });
  const lines = ctx.containerfile.split('\n');
  for (const l of ['ARG PIP_INDEX_URL=https://pypi.internal/simple', 'ARG PIP_EXTRA_INDEX_URL=http://127.0.0.1:8080/simple', 'ARG PIP_TRUSTED_HOST=127.0.0.1:8080']) {
    assert.ok(lines.includes(l) && lines.indexOf(l) < lines.findIndex((x) => x.startsWith('RUN ')), `${l} declared before the install:\n${ctx.containerfile}`);
  }
  assert.ok(!requirementsContext('b', ['six']).containerfile.includes('PIP_INDEX_URL'), 'nothing set: pip keeps its own configuration');
  assert.equal(pipSettingsProblem({ indexUrl: 'https://robot:s3cret@pypi.internal/simple' }), 'indexUrl: has credentials in it; give them to pip through a netrc or keyring in the base image instead');
  assert.match(pipSettingsProblem({ extraIndexUrl: 'ftp://x/simple' })!, /^extraIndexUrl: expected an http\(s\) URL/);
  assert.match(pipSettingsProblem({ trustedHost: 'a b' })!, /^trustedHost: 'a b' is not a host/);
  assert.throws(() => requirementsContext('b', ['six'], { pip: { indexUrl: 'not a url' } }), /pip settings: indexUrl: 'not a url' is not a URL/);
});

test('a local build trusts a mounted CA bundle through ARGs (never ENV: the image keeps no build path); the host bundle is found', () => {
  const ctx = requirementsContext('reg.example/base:1', ['six'], { buildCaPath: BUILD_CA_PATH });
  const lines = ctx.containerfile.split('\n');
  assert.ok(lines.includes(`ARG PIP_CERT=${BUILD_CA_PATH}`) && lines.includes(`ARG SSL_CERT_FILE=${BUILD_CA_PATH}`), ctx.containerfile);
  assert.ok(lines.findIndex((l) => l.startsWith('ARG PIP_CERT')) < lines.findIndex((l) => l.startsWith('RUN ')), 'declared before the install');
  assert.ok(!lines.some((l) => l.startsWith('ENV ')));
  assert.throws(() => requirementsContext('b', [], { buildCaPath: 'relative/ca.crt' }), /absolute plain path/);
  assert.throws(() => requirementsContext('b', [], { buildCaPath: '/x y' }), /absolute plain path/);
  const dir = mkdtempSync(join(tmpdir(), 'cellpipe-ca-'));
  try {
    const mine = join(dir, 'mine.pem');
    writeFileSync(mine, 'pem');
    assert.equal(hostCaBundle({ PIP_CERT: mine }), mine, "the host's own pip setting first");
    assert.equal(hostCaBundle({ PIP_CERT: join(dir, 'missing.pem'), SSL_CERT_FILE: mine }), mine, 'a missing file is skipped');
    const system = hostCaBundle({});
    if (system) assert.ok(statSync(system).isFile());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** This machine's python3 as image files: interpreter, its shared libraries, stdlib, and pip. */
async function pythonRootfs(): Promise<LayerFile[]> {
  const files: LayerFile[] = [];
  const add = async (path: string, at = path) => {
    const st = await stat(path);
    files.push({ path: at, data: await readFile(path), executable: (st.mode & 0o111) !== 0 });
  };
  const walk = async (dir: string, at: string, skip: (name: string) => boolean) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (skip(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p, `${at}/${e.name}`, skip);
      else if (e.isFile()) await add(p, `${at}/${e.name}`);
      else if (e.isSymbolicLink()) {
        const real = await realpath(p).catch(() => undefined);
        if (real && (await stat(real)).isFile()) await add(real, `${at}/${e.name}`);
      }
    }
  };
  const python = await realpath('/usr/bin/python3');
  await add(python, '/usr/bin/python3');
  const { stdout } = await exec('ldd', [python]);
  for (const m of stdout.matchAll(/(\/\S+\.so[.\d]*)/g)) await add(await realpath(m[1]), m[1]);
  const version = (await exec(python, ['-c', 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'])).stdout.trim();
  const skipStdlib = (n: string) => ['__pycache__', 'test', 'idlelib', 'tkinter', 'turtledemo', 'EXTERNALLY-MANAGED', 'ensurepip', 'config-' ].some((s) => n === s || n.startsWith('config-'));
  await walk(`/usr/lib/python${version}`, `/usr/lib/python${version}`, skipStdlib);
  // pip: from the system python if it has one, else from the project's virtualenv (same major.minor).
  let pipDir = '/usr/lib/python3/dist-packages/pip';
  if (!(await stat(pipDir).catch(() => undefined))) pipDir = join(repoRoot, `.venv/lib/python${version}/site-packages/pip`);
  await walk(pipDir, '/usr/lib/python3/dist-packages/pip', (n) => n === '__pycache__');
  return files;
}

/** A tiny wheel (`cellpipe-testpkg==1.0`) made with python's zipfile module, so pip can install without a network. */
async function testWheel(dir: string): Promise<Buffer> {
  const src = join(dir, 'wheel-src');
  await mkdir(join(src, 'cellpipe_testpkg'), { recursive: true });
  await mkdir(join(src, 'cellpipe_testpkg-1.0.dist-info'));
  await writeFile(join(src, 'cellpipe_testpkg/__init__.py'), 'VALUE = 42\n');
  await writeFile(join(src, 'cellpipe_testpkg-1.0.dist-info/METADATA'), 'Metadata-Version: 2.1\nName: cellpipe-testpkg\nVersion: 1.0\n');
  await writeFile(join(src, 'cellpipe_testpkg-1.0.dist-info/WHEEL'), 'Wheel-Version: 1.0\nGenerator: cellpipe-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n');
  await writeFile(join(src, 'cellpipe_testpkg-1.0.dist-info/RECORD'), 'cellpipe_testpkg/__init__.py,,\ncellpipe_testpkg-1.0.dist-info/METADATA,,\ncellpipe_testpkg-1.0.dist-info/WHEEL,,\ncellpipe_testpkg-1.0.dist-info/RECORD,,\n');
  const whl = join(dir, 'cellpipe_testpkg-1.0-py3-none-any.whl');
  await exec('python3', ['-m', 'zipfile', '-c', whl, join(src, 'cellpipe_testpkg'), join(src, 'cellpipe_testpkg-1.0.dist-info')]);
  return readFile(whl);
}

describe('requirements built locally with buildah', () => {
  let reg: TestRegistry;
  let work: string;
  let storage: string;
  before(async () => {
    reg = await startRegistry('open');
    work = await mkdtemp(join(tmpdir(), 'cellpipe-req-'));
    storage = join(work, 'buildah');
    const client = new RegistryClient(reg.clientOptions());
    await pushBaseImage(client, 'base/python', '3', [
      ...(await pythonRootfs()),
      { path: '/opt/wheels/cellpipe_testpkg-1.0-py3-none-any.whl', data: await testWheel(work) },
    ], { gzipLevel: 1 });
    client.close();
    await cp(join(repoRoot, 'test/fixtures/images/fournb'), join(work, 'nb'), { recursive: true });
  });
  after(async () => {
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('pip installs once into an image tagged by (base, requirements); a code change reuses it', async () => {
    const nb = join(work, 'nb');
    const programs = compileNotebook(await readFile(join(nb, 'four_steps.ipynb'), 'utf8'), { graphOnly: true }).programs;
    const events: BuildProgress[] = [];
    const options = {
      programs, notebookDir: nb, files: ['data/train.csv'],
      stepRequirements: { train: ['--no-index', '--find-links=/opt/wheels', 'cellpipe-testpkg==1.0'] },
      registry: `${reg.host}/team/steps`, base: `${reg.host}/base/python:3`, insecure: true,
      onProgress: (e: BuildProgress) => events.push(e),
    };
    // buildah's own storage in a scratch directory, so the test never touches the machine's images.
    process.env.CELLPIPE_BUILDAH_STORAGE_DRIVER ??= 'vfs';
    process.env.CELLPIPE_BUILDAH_ROOT = storage;
    const first = await buildStepImages({ ...options });
    const reqEvents = events.filter((e) => e.kind === 'requirements');
    // Only `train` has requirements: one requirements image, the other steps sit on the plain base.
    assert.deepEqual(reqEvents.map((e) => e.kind === 'requirements' && `${e.state}:${e.steps.join(',')}`), ['building:train', 'built:train']);
    assert.ok(first.steps.train.requirementsImage);
    assert.equal(first.steps.load.requirementsImage, undefined);

    // The train image has the package installed, the runtime importable, the data in the working directory.
    const ref = first.images.train;
    const layout = join(work, 'layout');
    await tool('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:train`]);
    await tool('umoci', ['unpack', '--rootless', '--image', `${layout}:train`, join(work, 'bundle')]);
    const rootfs = join(work, 'bundle/rootfs');
    let stdout: string;
    try {
      ({ stdout } = await exec('/usr/sbin/chroot', [rootfs, '/usr/bin/python3', '-c',
        'import os; os.chdir("/cellpipe/work"); import cellpipe_testpkg, cellpipe_runtime; ' +
        'print(cellpipe_testpkg.VALUE, os.getcwd(), open("data/train.csv").readline().strip(), cellpipe_runtime.__path__[0])'],
      { env: { PYTHONPATH: '/cellpipe/runtime', PATH: '/usr/bin' } }));
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${(err as { stderr?: string }).stderr ?? ''}`);
    }
    assert.equal(stdout.trim().split(' ')[0], '42');
    assert.equal(stdout.trim().split(' ')[2], 'id,value');
    assert.equal(stdout.trim().split(' ')[3], '/cellpipe/runtime/cellpipe_runtime');

    // A one-line change: the requirements images are found by tag; no buildah run.
    events.length = 0;
    const changed = structuredClone(programs);
    changed.train.cells.at(-1)!.source += '\nprint(mean)';
    const second = await buildStepImages({ ...options, programs: changed });
    assert.deepEqual(events.filter((e) => e.kind === 'requirements').map((e) => e.kind === 'requirements' && e.state), ['cached']);
    assert.equal(second.steps.train.requirementsImage, first.steps.train.requirementsImage);
    assert.notEqual(second.images.train, first.images.train);
    assert.equal(second.images.load, first.images.load);
  });
});
