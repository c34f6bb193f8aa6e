/**
 * `cellpipe compare` as a user runs it: two real runs of a fixture notebook with different parameters (the real CLI
 * and step runtime), compared side by side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, FIXTURES, PYTHON } from '../../runs/testing.js';

interface Result { code: number; stdout: string; stderr: string }

const cellpipe = (args: string[], cwd: string): Promise<Result> =>
  new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, CELLPIPE_PYTHON: PYTHON }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });

const runId = (out: Result) => /run (\S+) succeeded/.exec(out.stdout + out.stderr)?.[1];

test('compare shows two runs side by side: the parameter that differs is marked with both values, the equal ones are not', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-compare-'));
  try {
    fs.copyFileSync(path.join(FIXTURES, 'outputs.ipynb'), path.join(ws, 'outputs.ipynb'));
    const first = await cellpipe(['run', 'outputs.ipynb'], ws);
    assert.equal(first.code, 0, first.stderr);
    const second = await cellpipe(['run', 'outputs.ipynb', '--param', 'ROWS=5'], ws);
    assert.equal(second.code, 0, second.stderr);
    const [a, b] = [runId(first), runId(second)];
    assert.ok(a && b, `run ids in: ${first.stdout}${first.stderr}`);

    const out = await cellpipe(['compare', a, b], ws);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.split('\n');
    assert.match(lines[0], new RegExp(`${a}\\s+${b}`));
    assert.match(lines.find((l) => l.includes('param ROWS'))!, /^\*\s+param ROWS\s+3\s+5$/);
    // The second run reused nothing of the first (the parameter changed): every step ran, in both.
    assert.match(lines.find((l) => l.includes('step table'))!, /^\s+step table\s+succeeded \S+\s+succeeded \S+$/);

    const diff = await cellpipe(['compare', a, b, '--differences'], ws);
    assert.equal(diff.stdout.includes('step table'), false);
    assert.equal(diff.stdout.includes('param ROWS'), true);

    const json = JSON.parse((await cellpipe(['compare', a, b, '--json'], ws)).stdout) as { rows: { section: string; name: string; values: unknown[]; differs: boolean }[] };
    assert.deepEqual(json.rows.find((r) => r.name === 'ROWS'), { section: 'parameter', name: 'ROWS', values: [3, 5], differs: true });

    const one = await cellpipe(['compare', a], ws);
    assert.equal(one.code, 2);
    assert.match(one.stderr, /give two or more run ids/);
    const missing = await cellpipe(['compare', a, 'nope'], ws);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope/);
  } finally {
    fs.rmSync(ws, { recursive: true, force: true });
  }
});
