/**
 * Per-step environment variables in local runs, as a user meets them: a notebook that reads `os.environ[...]` runs
 * with `cellpipe run`, each step sees the notebook's `metadata.cellpipe.env` and its own `env:` tags, and a changed
 * value runs the step again instead of reusing the cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunRecord } from '../../runs/types.js';
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

test('secret: tags in a local run: taken from CELLPIPE_SECRETS_FILE or the runner\'s environment, an unset one said in the step log, no value in the store', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-env-'));
  const nb = path.join(ws, 'secrets.ipynb');
  fs.writeFileSync(nb, JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      code(['imports'], 'import hashlib, os'),
      // The step shows a digest of what it got: the notebook (hence the step's program) never holds the value.
      code(['step:connect', 'secret:db:password:DB_PASS', 'secret:api:token:API_TOKEN', 'secret:s3:key:S3_KEY'],
        "digest = lambda v: hashlib.sha256(v.encode()).hexdigest()[:12] if v is not None else None\n" +
        "print('db', digest(os.environ.get('DB_PASS')), 'api', 'API_TOKEN' in os.environ, 's3', os.environ.get('S3_KEY'))"),
    ],
  }));
  const secretsFile = path.join(ws, 'secrets.json');
  fs.writeFileSync(secretsFile, JSON.stringify({ db: { password: 'hunter2-from-file' } }), { mode: 0o600 });
  const store = path.join(ws, '.cellpipe');
  const r = await cellpipe(['run', nb], { CELLPIPE_PYTHON: PYTHON, CELLPIPE_STORE: store, CELLPIPE_SECRETS_FILE: secretsFile, S3_KEY: 'from-runner' });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const digest = createHash('sha256').update('hunter2-from-file').digest('hex').slice(0, 12);
  assert.match(r.stdout, new RegExp(`^\\[connect\\] db ${digest} api False s3 from-runner$`, 'm'));
  const log = (await cellpipe(['logs', 'latest', '--step', 'connect'], { CELLPIPE_STORE: store })).stdout;
  assert.match(log, /secret: DB_PASS \(secret:db:password:DB_PASS\) is set from CELLPIPE_SECRETS_FILE/);
  assert.match(log, /secret: S3_KEY \(secret:s3:key:S3_KEY\) is taken from the environment cellpipe runs in/);
  assert.match(log, /secret: API_TOKEN is not set: secret:api:token:API_TOKEN names a Kubernetes secret, which runs outside Kubernetes don't read; CELLPIPE_SECRETS_FILE has no "token" in "api"/);
  const leaked = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return leaked(p);
    return fs.readFileSync(p).includes('hunter2') ? [p] : [];
  });
  assert.deepEqual(leaked(store), [], 'the value is in no record, log or spec');
  assert.doesNotMatch(r.stdout + r.stderr + log, /hunter2/);
});
