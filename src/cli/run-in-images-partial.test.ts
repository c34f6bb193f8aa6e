/**
 * The debugging loop's parts in containers, as a user runs them: `cellpipe run --in-images` with `env:` tags and
 * `metadata.cellpipe.env` (the variables reach the step's container through the spec's executor env), then
 * `--in-images --only STEP` (the chosen step runs in its image, the other is reused from the first run and its
 * outputs mounted as the chosen step's inputs). Run by scripts/test-containers.sh (root, runc).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../runs/store.js';
import * as kit from '../runs/testing.js';
import { debianBase } from '../runtimes/containers/base-image.js';
import { leftovers, containersUnavailable } from '../runtimes/containers/testing.js';

const why = process.env.CELLPIPE_CONTAINER_TESTS ? containersUnavailable() : 'set CELLPIPE_CONTAINER_TESTS=1 (scripts/test-containers.sh)';
const code = (tags: string[], source: string) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });

test('in images: env reaches each step\'s container, and --only runs one step with the other reused', { skip: why ?? false, timeout: 600_000 }, async () => {
  const base = await debianBase();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-cli-images-partial-'));
  try {
    const nb = path.join(work, 'env.ipynb');
    fs.writeFileSync(nb, JSON.stringify({
      nbformat: 4, nbformat_minor: 5, metadata: { cellpipe: { env: { REGION: 'eu-west' } } },
      cells: [
        code(['imports'], 'import os\nRUN = os.environ["CELLPIPE_RUN_ID"]'),
        code(['step:a', 'env:MODE=in-image'], "x = 20\nprint('a', x, os.environ['MODE'], os.environ['REGION'], 'in', RUN)"),
        code(['step:b', 'prev:a'], "y = x + 1\nprint('b', y, os.environ['REGION'], os.environ.get('MODE'), 'in', RUN)"),
      ],
    }));
    const store = path.join(work, 'store');
    const args = ['run', nb, '--in-images', '--base', `oci:${base.layout}:${base.tag}`, '--store', store];
    const first = await kit.cellpipe(args, {});
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const s = new RunStore(store);
    const [one] = await s.list();
    assert.equal(one.runtime, 'containers');
    assert.match(first.stdout, new RegExp(`^\\[a\\] a 20 in-image eu-west in ${one.id}$`, 'm'), 'the step\'s tag and the notebook\'s env in the container');
    assert.match(first.stdout, new RegExp(`^\\[b\\] b 21 eu-west None in ${one.id}$`, 'm'), 'another step\'s tag does not leak');

    const only = await kit.cellpipe([...args, '--only', 'b'], {});
    assert.equal(only.code, 0, only.stdout + only.stderr);
    const two = (await s.list()).find((r) => r.id !== one.id)!;
    assert.equal(two.runtime, 'containers');
    assert.deepEqual(two.steps.map((x) => [x.name, x.state, x.reused ?? false, x.cachedFrom ?? null]), [['a', 'cached', true, one.id], ['b', 'succeeded', false, null]]);
    assert.match(only.stdout, new RegExp(`^\\[b\\] b 21 eu-west None in ${two.id}$`, 'm'), 'b ran again, in its image, on a\'s reused output');
    assert.match(only.stdout, new RegExp(`^\\[a\\] a 20 in-image eu-west in ${one.id}$`, 'm'), 'a\'s log is the first run\'s');
    assert.deepEqual(await leftovers(two.id, work), { containers: [], mounts: [] });
    s.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
