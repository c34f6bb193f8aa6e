/**
 * `cellpipe run NOTEBOOK --in-images` as a user runs it: a real CLI process, no registry given (a private one
 * under the run store), the Debian base as an OCI layout. Run by scripts/test-containers.sh (root, runc).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../runs/store.js';
import * as kit from '../runs/testing.js';
import { debianBase } from '../runtimes/containers/base-image.js';
import { leftovers, containersUnavailable } from '../runtimes/containers/testing.js';

const why = process.env.CELLPIPE_CONTAINER_TESTS ? containersUnavailable() : 'set CELLPIPE_CONTAINER_TESTS=1 (scripts/test-containers.sh)';

test('cellpipe run --in-images: builds the step images into a private registry and runs each step in its image', { skip: why ?? false, timeout: 600_000 }, async () => {
  const base = await debianBase();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-cli-images-'));
  try {
    fs.copyFileSync(path.join(kit.FIXTURES, 'sales.ipynb'), path.join(work, 'sales.ipynb'));
    fs.cpSync(path.join(kit.FIXTURES, 'data'), path.join(work, 'data'), { recursive: true });
    const store = path.join(work, 'store');
    const args = ['run', path.join(work, 'sales.ipynb'), '--in-images', '--base', `oci:${base.layout}:${base.tag}`, '--store', store, '--param', 'MIN_UNITS=3'];
    const r = await kit.cellpipe(args, {});
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /private registry/);
    assert.match(r.stdout, /\[report\] best north total 28\.0/, 'the last step printed its result');
    const s = new RunStore(store);
    const [rec] = await s.list();
    assert.equal(rec.runtime, 'containers');
    assert.deepEqual(rec.parameters, { MIN_UNITS: 3 });
    assert.deepEqual(rec.steps.map((x) => x.state), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    assert.deepEqual(await leftovers(rec.id, work), { containers: [], mounts: [] });

    // Unchanged: the images are not rebuilt and every step is reused from the cache.
    const again = await kit.cellpipe(args, {});
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /image of load \(unchanged\)/);
    const latest = (await s.list()).find((x) => x.id !== rec.id)!;
    assert.deepEqual(latest.steps.map((x) => x.state), ['cached', 'cached', 'cached', 'cached']);
    s.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('cellpipe run --in-images of examples/composing: each referenced notebook\'s step runs in its own image, values flow across the notebooks', { skip: why ?? false, timeout: 600_000 }, async () => {
  const base = await debianBase();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-cli-images-'));
  try {
    fs.cpSync(path.join(kit.REPO, 'examples/composing'), work, { recursive: true });
    const store = path.join(work, 'store');
    const r = await kit.cellpipe(['run', path.join(work, 'pipeline.ipynb'), '--in-images', '--base', `oci:${base.layout}:${base.tag}`, '--store', store], {});
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[features-smooth\] smoothed \[12\.0, 13\.75/, 'the root\'s WINDOW reached the referenced notebook\'s step');
    assert.match(r.stdout, /\[report\] a bag is full from 13\.67 g \(window 3\)/);
    const s = new RunStore(store);
    const [rec] = await s.list();
    assert.equal(rec.runtime, 'containers');
    assert.deepEqual(rec.steps.map((x) => [x.name, x.state]), [
      ['features-load', 'succeeded'], ['features-smooth', 'succeeded'], ['labels-label', 'succeeded'], ['train', 'succeeded'], ['report', 'succeeded'],
    ]);
    assert.deepEqual(await leftovers(rec.id, work), { containers: [], mounts: [] });
    s.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('kill -9 of the runner mid-step: the run is interrupted, its container and overlay are removed', { skip: why ?? false, timeout: 600_000 }, async () => {
  const base = await debianBase();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-cli-kill-'));
  try {
    fs.copyFileSync(path.join(kit.FIXTURES, 'slow.ipynb'), path.join(work, 'slow.ipynb'));
    const storeDir = path.join(work, 'store');
    const runner = spawn(process.execPath, [kit.BIN, 'run', path.join(work, 'slow.ipynb'), '--in-images', '--base', `oci:${base.layout}:${base.tag}`, '--store', storeDir],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((r) => runner.once('exit', r));
    // The step's own line in the run store says its container is up.
    const store = new RunStore(storeDir);
    let runId = '';
    for (;;) {
      const [rec] = await store.list();
      if (rec) {
        runId = rec.id;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    for await (const l of store.readLogs(runId, 'wait', { follow: true })) if (l.text.startsWith('waiting')) break;
    const before = await store.get(runId);
    const container = before!.steps.find((s) => s.name === 'wait')!.container!;
    assert.ok((await leftovers(runId, work)).containers.includes(container), 'the step container runs');

    runner.kill('SIGKILL');
    await exited;
    const listed = await kit.cellpipe(['runs', '--store', storeDir], {});
    assert.match(listed.stdout, new RegExp(`${runId}\\s+interrupted`));
    assert.deepEqual(await leftovers(runId, work), { containers: [], mounts: [] }, 'nothing left in runc list, no mount');
    store.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/** The metrics of each step of the latest run in a store, by step name. */
async function metricsOf(storeDir: string): Promise<Record<string, unknown>> {
  const store = new RunStore(storeDir);
  try {
    const [rec] = await store.list();
    assert.equal(rec.state, 'succeeded', JSON.stringify(rec.steps.map((s) => [s.name, s.state, s.error])));
    return Object.fromEntries(rec.steps.map((s) => [s.name, s.metrics]));
  } finally {
    store.close();
  }
}

/** The lines the notebook's own code printed (`[step] text`), without cellpipe's own lines. */
function printed(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^\[[\w-]+\] /.test(l) && !/^\[[\w-]+\] (──|\[cellpipe\]|warm start|cold start|running the imports cells)/.test(l));
}

for (const [name, notebook, data] of [
  ['the README\'s quickstart (open(\'data/weather.csv\'))', path.join(kit.REPO, 'examples/quickstart.ipynb'), path.join(kit.REPO, 'examples/data')],
  ['wordcount (open(SOURCE), a parameter naming data/words.txt)', path.join(kit.FIXTURES, 'wordcount.ipynb'), path.join(kit.FIXTURES, 'data')],
] as const) {
  test(`${name} runs in its images with no declared files: the file it reads travels, outputs equal a local run`, { skip: why ?? false, timeout: 600_000 }, async () => {
    const base = await debianBase();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-cli-files-'));
    try {
      const nb = path.join(work, path.basename(notebook));
      fs.copyFileSync(notebook, nb);
      fs.cpSync(data, path.join(work, 'data'), { recursive: true });
      assert.equal((JSON.parse(fs.readFileSync(nb, 'utf8')).metadata.cellpipe ?? {}).files, undefined, 'the notebook declares no files');
      const local = await kit.cellpipe(['run', nb, '--store', path.join(work, 'local')], {});
      assert.equal(local.code, 0, local.stdout + local.stderr);
      const images = await kit.cellpipe(['run', nb, '--in-images', '--base', `oci:${base.layout}:${base.tag}`, '--store', path.join(work, 'images')], {});
      assert.equal(images.code, 0, images.stdout + images.stderr);
      assert.match(images.stderr, /files packaged into the images .*\n {2}data\/\w+\.(csv|txt) {2}[\d.]+ [KB]+ {2}read by \w+/, 'the run says what it packaged');
      assert.deepEqual(printed(images.stdout), printed(local.stdout), 'the steps printed the same in their images as locally');
      assert.ok(printed(local.stdout).length > 0);
      assert.deepEqual(await metricsOf(path.join(work, 'images')), await metricsOf(path.join(work, 'local')), 'same metrics');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
}
