/**
 * The layer rules (.dependency-cruiser.cjs, run by `npm run lint:layers` in scripts/test.sh) catch what they say:
 * a scratch tree with one import breaking each rule, checked with the repository's config and script, fails and
 * names every arrow; the same tree without them passes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SCRIPT = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['lint:layers'];

/** Files every layer has, importing only what the rules allow. */
const ALLOWED: Record<string, string> = {
  'src/core/model.ts': 'export const model = 1;\n',
  'src/runs/types.ts': "import { model } from '../core/model.js';\nexport const types = model;\n",
  'src/runs/store.ts': "import * as fs from 'node:fs';\nimport { types } from './types.js';\nexport const store = [fs, types];\n",
  'src/runs/testing.ts': "import { store } from './store.js';\nexport const kit = store;\n",
  'src/kfp/client.ts': "import { store } from '../runs/store.js';\nexport const client = store;\n",
  'src/runtimes/types.ts': "import { types } from '../runs/types.js';\nexport const runtime = types;\n",
  'src/runtimes/local/runtime.ts': "import { client } from '../../kfp/client.js';\nexport const local = client;\n",
  'src/runtimes/containers/runc.ts': "import { local } from '../local/runtime.js';\nexport const runc = local;\n",
  'src/server/app.ts': "import { runc } from '../runtimes/containers/runc.js';\nexport const app = runc;\n",
  'src/lab/index.ts': "import { types } from '../runs/types.js';\nimport { model } from '../core/model.js';\nexport const lab = [types, model];\n",
  // A test may drive its layer from above.
  'src/kfp/client.test.ts': "import { app } from '../server/app.js';\nimport { kit } from '../runs/testing.js';\nexport const t = [app, kit];\n",
};

/** One import breaking each rule: the file, what it imports, the arrow the check must print. */
const BROKEN: [file: string, code: string, arrow: string][] = [
  ['src/core/up.ts', "import { store } from '../runs/store.js';\nexport const a = store;\n", 'core-imports-only-core: src/core/up.ts → src/runs/store.ts'],
  ['src/core/fs.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n", 'core-lab-no-node: src/core/fs.ts → fs'],
  ['src/runs/up.ts', "import { runc } from '../runtimes/containers/runc.js';\nexport const a = runc;\n", 'runs-imports-core-and-runs: src/runs/up.ts → src/runtimes/containers/runc.ts'],
  ['src/kfp/up.ts', "import type { runtime } from '../runtimes/types.js';\nexport type A = typeof runtime;\n", 'images-kube-kfp-below-runtimes: src/kfp/up.ts → src/runtimes/types.ts'],
  ['src/runtimes/up.ts', "import { app } from '../server/app.js';\nexport const a = app;\n", 'runtimes-below-server-cli: src/runtimes/up.ts → src/server/app.ts'],
  ['src/runtimes/local/other.ts', "import { runc } from '../containers/runc.js';\nexport const a = runc;\n", 'local-runtime-knows-no-other: src/runtimes/local/other.ts → src/runtimes/containers/runc.ts'],
  ['src/server/page.ts', "import { lab } from '../lab/index.js';\nexport const a = lab;\n", 'server-cli-not-lab: src/server/page.ts → src/lab/index.ts'],
  ['src/lab/store.ts', "import { store } from '../runs/store.js';\nexport const a = store;\n", 'lab-over-http: src/lab/store.ts → src/runs/store.ts'],
  ['src/lab/http.ts', "import { request } from 'node:http';\nexport const a = request;\n", 'core-lab-no-node: src/lab/http.ts → http'],
  ['src/kfp/kit.ts', "import { kit } from '../runs/testing.js';\nexport const a = kit;\n", 'test-support-only-for-tests: src/kfp/kit.ts → src/runs/testing.ts'],
  ['src/kfp/gone.ts', "import { nothing } from './nothing.js';\nexport const a = nothing;\n", 'imports-resolve: src/kfp/gone.ts → ./nothing.js'],
];

function scratch(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-layers-'));
  for (const [f, code] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), code);
  }
  fs.copyFileSync(path.join(REPO, '.dependency-cruiser.cjs'), path.join(dir, '.dependency-cruiser.cjs'));
  fs.copyFileSync(path.join(REPO, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** `npm run lint:layers`'s command, run in `dir` (argv split on spaces: the script has no quoting). */
function lint(dir: string): Promise<{ code: number; out: string }> {
  const [bin, ...args] = SCRIPT.split(' ');
  return new Promise((resolve) => {
    execFile(path.join(REPO, 'node_modules', '.bin', bin), args, { cwd: dir, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

test('a tree that keeps the layers passes the check', async () => {
  const dir = scratch(ALLOWED);
  try {
    const { code, out } = await lint(dir);
    assert.equal(code, 0, out);
    assert.match(out, /no dependency violations/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('each import against a layer rule fails the check, which prints its arrow', async () => {
  const dir = scratch({ ...ALLOWED, ...Object.fromEntries(BROKEN.map(([f, code]) => [f, code])) });
  try {
    const { code, out } = await lint(dir);
    assert.notEqual(code, 0, out);
    for (const [, , arrow] of BROKEN) assert.ok(out.includes(`error ${arrow}`), `missing: ${arrow}\n${out}`);
    assert.equal(out.match(/^\s*error /gm)?.length, BROKEN.length, `only the planted arrows:\n${out}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
