/**
 * `cellpipe build` as a user runs it, against a real registry in each mode: open (--insecure), htpasswd basic auth
 * (credentials from DOCKER_CONFIG, or from a Kubernetes secret with --auth-file) and TLS with a private CA (--ca-file).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main, type CommandIO } from '../cli/main.js';
import { RegistryClient } from './registry.js';
import { pushBaseImage, startRegistry, tool, type RegistryMode, type TestRegistry } from './testing.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

async function cellpipe(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, tty = false): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CommandIO = { stdout, stderr, cwd, env: { PATH: process.env.PATH, HOME: cwd, ...env } };
  const code = await main(['build', ...args], io);
  return { code, out, err };
}

for (const mode of ['open', 'basic', 'tls'] as RegistryMode[]) {
  describe(`cellpipe build, ${mode} registry`, () => {
    let reg: TestRegistry;
    let work: string;
    let flags: string[];
    let env: NodeJS.ProcessEnv;
    before(async () => {
      reg = await startRegistry(mode);
      work = await mkdtemp(join(tmpdir(), `cellpipe-cli-${mode}-`));
      await cp(join(repoRoot, 'test/fixtures/images/fournb'), work, { recursive: true });
      const c = new RegistryClient(reg.clientOptions());
      await pushBaseImage(c, 'base/python', '3', [{ path: '/bin/entry', data: 'x', executable: true }]);
      c.close();
      flags = ['--registry', `${reg.host}/team/steps`, '--base', `${reg.host}/base/python:3`];
      env = {};
      if (mode === 'tls') {
        await writeFile(join(work, 'ca.pem'), reg.ca!);
        flags.push('--ca-file', 'ca.pem');
      } else {
        flags.push('--insecure');
      }
      if (mode === 'basic') {
        await writeFile(join(work, 'config.json'), JSON.stringify({
          auths: { [reg.host]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } },
        }));
        env.DOCKER_CONFIG = work;
      }
    });
    after(async () => {
      await reg?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    test('prints step → image@digest for every step, then "unchanged" when nothing changed', async () => {
      const first = await cellpipe(['four_steps.ipynb', ...flags], work, env);
      assert.equal(first.code, 0, first.err);
      const lines = first.out.trim().split('\n');
      assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['clean', 'load', 'report', 'train']);
      for (const l of lines) assert.match(l, new RegExp(`^\\w+ +→ ${reg.host.replace(/\./g, '\\.')}/team/steps@sha256:[0-9a-f]{64}$`));
      assert.match(first.err, /pushed .* in .* s/);
      // What went into the images: the file load reads (the fixture also declares it).
      assert.match(first.err, /files packaged into the images \(0 B of the 50\.0 MB limit, declared files not counted\):\n {2}data\/train\.csv {2}declared, read by load\n/);
      const ref = lines.find((l) => l.startsWith('load'))!.split('→ ')[1];
      const inspect = JSON.parse(await tool('skopeo', ['inspect', ...reg.toolFlags(), `docker://${ref}`]));
      assert.equal(inspect.Layers.length, 3);

      const second = await cellpipe(['four_steps.ipynb', ...flags], work, env);
      assert.equal(second.code, 0, second.err);
      assert.deepEqual(second.out.trim().split('\n'), lines.map((l) => `${l}  unchanged`));
      assert.match(second.err, /pushed 0 B/);
    });

    test('on a terminal, bytes uploaded are shown as they go and cleared before the result lines', async () => {
      await writeFile(join(work, 'data/train.csv'), `id,value\n1,${mode.length}\n`);
      const res = await cellpipe(['four_steps.ipynb', ...flags], work, env, true);
      assert.equal(res.code, 0, res.err);
      assert.match(res.err, /\r\x1b\[Kuploading… \d+(\.\d)? (B|KB)/);
      assert.match(res.err, /\r\x1b\[Kpushed /);
      assert.equal(res.out.trim().split('\n').length, 4);
    });

    test('-o writes the pipeline spec that runs the programs inside the built images, by digest', async () => {
      const res = await cellpipe(['four_steps.ipynb', ...flags, '-o', 'spec.yaml'], work, env);
      assert.equal(res.code, 0, res.err);
      const images = Object.fromEntries(res.out.trim().split('\n').map((l) => [l.split(' ')[0], l.split('→ ')[1].split(' ')[0]]));
      const spec = (await import('yaml')).parse(await readFile(join(work, 'spec.yaml'), 'utf8'));
      for (const step of ['load', 'clean', 'train', 'report']) {
        const container = spec.deploymentSpec.executors[`exec-${step}`].container;
        assert.equal(container.image, images[step]);
        assert.deepEqual(container.args.slice(0, 3), ['run', '--program', `/cellpipe/steps/${step}.json`]);
        assert.ok(container.args.includes('/cellpipe/work'));
      }
    });

    if (mode === 'basic') {
      test('credentials can come from a Kubernetes dockerconfigjson secret; none gives a clear error', async () => {
        const config = await readFile(join(work, 'config.json'), 'utf8');
        await writeFile(join(work, 'secret.json'), JSON.stringify({
          apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson',
          data: { '.dockerconfigjson': Buffer.from(config).toString('base64') },
        }));
        const ok = await cellpipe(['four_steps.ipynb', ...flags, '--auth-file', 'secret.json'], work);
        assert.equal(ok.code, 0, ok.err);
        const denied = await cellpipe(['four_steps.ipynb', ...flags], work);
        assert.equal(denied.code, 1);
        assert.match(denied.err, /requires a user name and password — add them with docker login/);
      });
    }
  });
}

describe('cellpipe build errors', () => {
  test('usage errors exit 2; notebook errors print the compiler diagnostics and exit 1', async () => {
    const work = await mkdtemp(join(tmpdir(), 'cellpipe-cli-err-'));
    try {
      const noRegistry = await cellpipe(['x.ipynb'], work);
      assert.equal(noRegistry.code, 2);
      assert.match(noRegistry.err, /--registry HOST\[:PORT\]\/REPO is required/);
      const badRegistry = await cellpipe(['x.ipynb', '--registry', 'steps'], work);
      assert.equal(badRegistry.code, 2);
      await writeFile(join(work, 'bad.ipynb'), JSON.stringify({
        nbformat: 4, nbformat_minor: 5, metadata: {},
        cells: [{ cell_type: 'code', id: 'a', metadata: { tags: ['step:1bad'] }, source: 'x = 1', outputs: [], execution_count: null }],
      }));
      const bad = await cellpipe(['bad.ipynb', '--registry', '127.0.0.1:1/x', '--insecure'], work);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /step:1bad/);
      assert.equal(bad.out, '');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
