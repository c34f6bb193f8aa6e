/**
 * Per-step environment variables in local runs, as a user meets them: a notebook that reads `os.environ[...]` runs
 * with `cellpipe run`, each step sees the notebook's `metadata.cellpipe.env` and its own `env:` tags, and a changed
 * value runs the step again instead of reusing the cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunRecord } from '../types.js';
import { PYTHON, cellpipe } from '../../runs/testing.js';

const code = (tags: string[], source: string) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });

function notebook(mode: string): string {
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { cellpipe: { env: { DATASET_URL: 'https://example.com/data.csv?a=1&b=2', MODE: 'batch' } } },
    cells: [
      code(['imports'], 'import os'),
      code(['step:load', `env:MODE=${mode}`], "url = os.environ['DATASET_URL']\nprint('load sees', url, os.environ['MODE'])"),
      code(['step:report'], "print('report sees', url, os.environ['MODE'], os.environ.get('FROM_RUNNER'))"),
    ],
  });
}

test('each step runs with the notebook\'s env and its own env: tags over the runner\'s environment; a changed value is no cache hit', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-env-'));
  const nb = path.join(ws, 'env.ipynb');
  const env = { CELLPIPE_PYTHON: PYTHON, CELLPIPE_STORE: path.join(ws, '.cellpipe'), CELLPIPE_STORE_FSYNC: '0', FROM_RUNNER: 'kept', MODE: 'from-runner' };
  fs.writeFileSync(nb, notebook('stream'));
  const first = await cellpipe(['run', nb], env);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.match(first.stdout, /^\[load\] load sees https:\/\/example\.com\/data\.csv\?a=1&b=2 stream$/m, 'the step\'s tag wins over the notebook\'s value');
  assert.match(first.stdout, /^\[report\] report sees https:\/\/example\.com\/data\.csv\?a=1&b=2 batch kept$/m, 'the notebook\'s value wins over the runner\'s; other variables stay');

  const again = await cellpipe(['run', nb], env);
  const status = (out: string) => (JSON.parse(out) as RunRecord).steps.map((s) => [s.name, s.state]);
  assert.deepEqual(status((await cellpipe(['status', 'latest', '--json'], env)).stdout), [['load', 'cached'], ['report', 'cached']], again.stdout);

  fs.writeFileSync(nb, notebook('replay'));
  const changed = await cellpipe(['run', nb], env);
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stdout, /^\[load\] load sees \S+ replay$/m);
  assert.deepEqual(status((await cellpipe(['status', 'latest', '--json'], env)).stdout), [['load', 'succeeded'], ['report', 'cached']],
    'only the step whose variable changed runs again');
});

test('a credential in env: stops the run before anything starts, naming the cell and pointing at secret:', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-env-'));
  const nb = path.join(ws, 'leak.ipynb');
  fs.writeFileSync(nb, JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [{ cell_type: 'markdown', metadata: {}, source: '# x' }, code(['step:a', 'env:DB_PASSWORD=hunter2'], "print('ran')")],
  }));
  const r = await cellpipe(['run', nb], { CELLPIPE_PYTHON: PYTHON, CELLPIPE_STORE: path.join(ws, '.cellpipe') });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cell 2.*'env:DB_PASSWORD=hunter2': 'DB_PASSWORD' is named like a credential/);
  assert.match(r.stderr, /secret:<secret name>:<key>:DB_PASSWORD/);
  assert.doesNotMatch(r.stdout, /ran/);
  assert.equal(fs.existsSync(path.join(ws, '.cellpipe', 'runs')), false, 'no run was recorded');
});
