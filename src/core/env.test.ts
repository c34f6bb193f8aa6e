/**
 * Per-step environment variables: `env:NAME=value` tags and `metadata.cellpipe.env`, as the compiler reads them —
 * what reaches each step, and what is refused (bad names, names cellpipe sets, credentials) with a message naming
 * the cell (1-based, as JupyterLab shows it) and the tag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileNotebook } from './compile.js';
import { checkEnvVar } from './env.js';
import { parseCellTags } from './tags.js';
import { formatDiagnostics } from '../cli/diagnostics.js';

const code = (tags: string[], source: string) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
const notebook = (cells: unknown[], cellpipe?: unknown) =>
  JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: cellpipe === undefined ? {} : { cellpipe }, cells });

test('env:NAME=value sets a variable; the value is everything after the first =', () => {
  const { tags, diagnostics } = parseCellTags({ index: 0, type: 'code', source: '', tags: ['step:a', 'env:DATASET_URL=https://x.org/d.csv?a=1&b=2', 'env:EMPTY=', 'env:MODE=fast'] });
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(tags.env, { DATASET_URL: 'https://x.org/d.csv?a=1&b=2', EMPTY: '', MODE: 'fast' });
});

test('the notebook-wide env reaches every step, a step\'s own env: tag wins, and keys come out sorted', () => {
  const r = compileNotebook(notebook([
    code(['step:load', 'env:MODE=stream', 'env:A_FIRST=1'], 'x = 1'),
    code(['step:train'], 'y = x + 1'),
  ], { env: { REGION: 'eu', MODE: 'batch', WORKERS: 4, DEBUG: false } }), { path: 'nb.ipynb' });
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  const env = Object.fromEntries(r.graph!.steps.map((s) => [s.name, s.env]));
  assert.deepEqual(env.load, { A_FIRST: '1', DEBUG: 'false', MODE: 'stream', REGION: 'eu', WORKERS: '4' });
  assert.deepEqual(Object.keys(env.load), ['A_FIRST', 'DEBUG', 'MODE', 'REGION', 'WORKERS']);
  assert.deepEqual(env.train, { DEBUG: 'false', MODE: 'batch', REGION: 'eu', WORKERS: '4' });
  assert.match(r.yaml!, /- name: MODE\n\s+value: stream/);
});

test('a bad variable name is an error naming the cell and the tag, with what to write', () => {
  const r = compileNotebook(notebook([
    { cell_type: 'markdown', metadata: {}, source: '# title' },
    code(['step:a', 'env:1BAD=x'], 'x = 1'),
    code(['step:b', 'env:NO_EQUALS'], 'y = 2'),
    code(['step:c', 'env:CELLPIPE_STEP=z'], 'z = 3'),
  ]), { path: 'nb.ipynb' });
  assert.equal(r.ok, false);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors.map((d) => [d.cell, d.code]), [[1, 'invalid-env'], [2, 'invalid-tag-value'], [3, 'invalid-env']]);
  const text = formatDiagnostics(errors, 'nb.ipynb');
  assert.match(text, /cell 2.*'env:1BAD=x': '1BAD' is not a valid environment variable name/);
  assert.match(text, /cell 3.*'env:NO_EQUALS' is not an environment variable/);
  assert.match(text, /write env:<NAME>=<value>/);
  assert.match(text, /cell 4.*'env:CELLPIPE_STEP=z': 'CELLPIPE_STEP' is set by cellpipe itself/);
});

test('credentials are refused, by name or by the look of the value, with a pointer to secret:', () => {
  for (const [name, value] of [
    ['GITHUB_TOKEN', 'abc'], ['DB_PASSWORD', 'hunter2'], ['CLIENT_SECRET', 'x'], ['AWS_SECRET_ACCESS_KEY', 'x'], ['OPENAI_API_KEY', 'x'],
    ['CREDENTIALS', 'x'], ['ID', 'AKIAIOSFODNN7EXAMPLE'], ['AUTH_HEADER', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'],
    ['REPO', 'ghp_0123456789abcdefghijABCDEFGHIJ012345'], ['DB', 'postgres://ana:s3cret@db.example.com/x'], ['PEM', '-----BEGIN RSA PRIVATE KEY-----'],
  ]) {
    const bad = checkEnvVar(name, value);
    assert.equal(bad?.code, 'secret-in-env', `${name}=${value} is refused`);
    assert.match(bad!.hint, /secret:<secret name>:<key>:/);
  }
  for (const [name, value] of [['DATASET_URL', 'https://example.com/data.csv'], ['MODE', 'batch'], ['PWD_HINT', 'x'], ['DB', 'postgres://db.example.com/x'], ['TOKENIZER', 'bert']]) {
    assert.equal(checkEnvVar(name, value), undefined, `${name}=${value} is allowed`);
  }
  const r = compileNotebook(notebook([code(['step:a', 'env:API_TOKEN=abc123'], 'x = 1')], { env: { HF_TOKEN: 'hf_x', OK: 'yes' } }), { path: 'nb.ipynb' });
  assert.equal(r.ok, false);
  const text = formatDiagnostics(r.diagnostics, 'nb.ipynb');
  assert.match(text, /cell 1.*'env:API_TOKEN=abc123': 'API_TOKEN' is named like a credential/);
  assert.match(text, /metadata\.cellpipe\.env\.HF_TOKEN: 'HF_TOKEN' is named like a credential/);
  assert.match(text, /secret:<secret name>:<key>:API_TOKEN/);
  assert.doesNotMatch(r.yaml ?? '', /abc123/, 'no spec carries the value');
});

test('credentials the first check let through are refused too: *PASS* names, Authorization values, URLs and connection strings with credentials', () => {
  for (const [name, value] of [
    ['DB_PASS', 'hunter2'], ['PASS', 'x'], ['mysqlPass', 'x'], ['DBPASSWD', 'x'], ['SMTP_PASSPHRASE', 'x'], ['TOKEN_FILE_CONTENT', 'x'],
    ['API_KEY_ID', 'x'], ['GITHUBTOKEN', 'x'], ['MY_SECRETS', 'x'], ['SERVICE_CREDS', 'x'],
    ['AUTH', 'Bearer abcdef0123456789'], ['HEADER', 'Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l'], ['AUTH', 'basic YWxhZGRpbjpvcGVuc2VzYW1l'],
    ['REPO_URL', 'https://0123456789abcdef0123456789@github.com/o/r.git'], ['DATA', 'https://s3.example.com/b/k?X-Amz-Signature=abc&X-Amz-Credential=x'],
    ['FEED', 'https://api.example.com/v1/items?api_key=0123abcd'], ['DSN', 'Server=db;Database=x;User Id=ana;Password=hunter2;'],
  ]) {
    const bad = checkEnvVar(name, value);
    assert.equal(bad?.code, 'secret-in-env', `${name}=${value} is refused`);
    assert.match(bad!.message, /use a secret: tag/);
    assert.match(bad!.hint, /secret:<secret name>:<key>:/);
  }
  for (const [name, value] of [['COMPASS_HEADING', 'north'], ['PASSENGER_COUNT', '3'], ['BYPASS_CACHE', '1'], ['AUTH_MODE', 'oauth'],
    ['MESSAGE', 'basic settings'], ['DATASET_URL', 'https://x.org/d.csv?a=1&b=2'], ['GIT_URL', 'ssh://git@github.com/o/r.git']]) {
    assert.equal(checkEnvVar(name, value), undefined, `${name}=${value} is allowed`);
  }
});

test('metadata.cellpipe.env must be a mapping of text values', () => {
  const list = compileNotebook(notebook([code(['step:a'], 'x = 1')], { env: ['A=1'] }), { path: 'nb.ipynb' });
  assert.match(list.diagnostics.map((d) => d.message).join('\n'), /metadata\.cellpipe\.env must be a mapping/);
  const nested = compileNotebook(notebook([code(['step:a'], 'x = 1')], { env: { A: { b: 1 } } }), { path: 'nb.ipynb' });
  assert.match(nested.diagnostics.map((d) => d.message).join('\n'), /metadata\.cellpipe\.env\.A must be a text value, not object/);
  assert.equal(nested.ok, false);
});

test('env: on a non-step cell is a misplaced step option', () => {
  const { diagnostics } = parseCellTags({ index: 0, type: 'code', source: '', tags: ['imports', 'env:A=1'] });
  assert.deepEqual(diagnostics.map((d) => d.code), ['misplaced-tag']);
});

test('a secret: tag is an info on its cell: where the variable comes from on Kubeflow, and what local runs do instead', () => {
  const r = compileNotebook(notebook([code(['step:a', 'secret:db:password:DB_PASS'], 'x = 1')]), { path: 'nb.ipynb' });
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  const info = r.diagnostics.find((d) => d.code === 'secret-outside-kubernetes');
  assert.equal(info?.severity, 'info');
  assert.equal(info?.cell, 0);
  assert.match(info!.message, /on Kubeflow DB_PASS comes from the Kubernetes secret 'db'; local and container runs don't read Kubernetes secrets/);
  assert.match(info!.hint ?? '', /CELLPIPE_SECRETS_FILE/);
});
