/**
 * `buildNotebookImages` reads what a notebook declares (its `metadata.cellpipe.files`) and builds exactly what
 * `buildStepImages` builds when given those fields by hand — the contract `cellpipe build`, the Kubeflow runtime
 * and the backend rely on. Real registry, real fixture notebook.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileNotebook } from '../core/compile.js';
import { buildStepImages } from './build.js';
import { buildNotebookImages, declaredFileList, NotebookBuildError } from './notebook.js';
import { RegistryClient } from './registry.js';
import { pushBaseImage, startRegistry, tool, type TestRegistry } from './testing.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const fixture = join(repoRoot, 'test/fixtures/images/fournb');

describe('buildNotebookImages', () => {
  let reg: TestRegistry;
  let work: string;
  let nbDir: string;
  let client: RegistryClient;
  before(async () => {
    reg = await startRegistry('open');
    work = await mkdtemp(join(tmpdir(), 'cellpipe-nbbuild-'));
    nbDir = join(work, 'nb');
    await cp(fixture, nbDir, { recursive: true });
    client = new RegistryClient(reg.clientOptions());
    await pushBaseImage(client, 'base/python', '3', [{ path: '/bin/entry', data: '#!/bin/sh\nexec "$@"\n', executable: true }]);
  });
  after(async () => {
    client?.close();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('builds the same images as buildStepImages given the declared files by hand', async () => {
    const text = await readFile(join(nbDir, 'four_steps.ipynb'), 'utf8');
    const compiled = compileNotebook(text, { path: 'four_steps.ipynb', graphOnly: true });
    assert.ok(compiled.ok);
    const files = declaredFileList(compiled);
    assert.ok(files.length > 0, 'the fixture declares files');
    const target = { registry: `${reg.host}/team/steps`, base: `${reg.host}/base/python:3`, insecure: true };
    const byHand = await buildStepImages({ ...target, programs: compiled.programs, notebookDir: nbDir, files });
    const events: string[] = [];
    const helper = await buildNotebookImages(compiled, nbDir, { ...target, onProgress: (e) => events.push(e.kind) });
    assert.deepEqual(helper.images, byHand.images);
    assert.deepEqual(Object.keys(helper.images).sort(), compiled.graph!.steps.map((s) => s.name).sort());
    assert.ok(Object.values(helper.steps).every((s) => s.unchanged), 'the second build found every image');
    assert.ok(events.includes('step'));
  });

  test('a file a step reads goes into the shared layer without being declared, and says so in the result', async () => {
    const nb = JSON.parse(await readFile(join(nbDir, 'four_steps.ipynb'), 'utf8'));
    delete nb.metadata.cellpipe.files;
    const compiled = compileNotebook(JSON.stringify(nb), { path: 'four_steps.ipynb', graphOnly: true });
    assert.ok(compiled.ok);
    const built = await buildNotebookImages(compiled, nbDir, { registry: `${reg.host}/team/undeclared`, base: `${reg.host}/base/python:3`, insecure: true });
    assert.deepEqual(built.files.paths, ['data/train.csv']);
    assert.deepEqual(built.files.outcomes.map((o) => [o.path, o.travels, o.steps]), [['data/train.csv', true, ['load']]]);
    const manifest = JSON.parse((await client.getManifest('team/undeclared', built.steps.load.tag)).bytes.toString()) as { layers: { digest: string }[] };
    const shared = manifest.layers[manifest.layers.length - 2];
    const dir = await mkdtemp(join(tmpdir(), 'cellpipe-layer-'));
    try {
      await writeFile(join(dir, 'layer.tar.gz'), await client.getBlob('team/undeclared', shared.digest));
      const listed = await tool('tar', ['-xzOf', join(dir, 'layer.tar.gz'), 'cellpipe/work/data/train.csv']);
      assert.equal(listed, await readFile(join(nbDir, 'data/train.csv'), 'utf8'), 'the file is in the shared layer, as the notebook has it');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Same files, same layers: the images of the declared build are these very images.
    const declared = compileNotebook(await readFile(join(nbDir, 'four_steps.ipynb'), 'utf8'), { path: 'four_steps.ipynb', graphOnly: true });
    const again = await buildNotebookImages(declared, nbDir, { registry: `${reg.host}/team/undeclared`, base: `${reg.host}/base/python:3`, insecure: true });
    assert.ok(Object.values(again.steps).every((s) => s.unchanged), 'declaring the file changes nothing in the images');
  });

  test('a malformed metadata.cellpipe.files is named, with the field to fix', async () => {
    const nb = JSON.parse(await readFile(join(nbDir, 'four_steps.ipynb'), 'utf8'));
    nb.metadata.cellpipe = { ...nb.metadata.cellpipe, files: 'data' };
    await writeFile(join(nbDir, 'bad.ipynb'), JSON.stringify(nb));
    const compiled = compileNotebook(JSON.stringify(nb), { path: 'bad.ipynb', graphOnly: true });
    await assert.rejects(
      buildNotebookImages(compiled, nbDir, { registry: `${reg.host}/team/bad`, base: `${reg.host}/base/python:3`, insecure: true }),
      (err: Error) => err instanceof NotebookBuildError && /metadata\.cellpipe\.files must be a list/.test(err.message),
    );
  });
});
