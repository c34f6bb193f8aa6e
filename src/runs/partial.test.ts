/**
 * Partial runs as a user makes them: `cellpipe run NB --only STEP` / `--from STEP` [--reuse RUN] as real processes
 * against a real notebook and the real step runtime. What ran is told by the steps' own output lines and records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunRecord } from './types.js';
import { BIN, PYTHON } from './testing.js';

function cell(tags: string[], source: string) {
  return { cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null };
}

/** A chain a → b → c, plus d beside them (reads a), each printing a line saying it ran, and in which run. */
function notebook(aSource: string): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      cell(['imports'], 'import os\nRUN = os.environ["CELLPIPE_RUN_ID"]'),
      cell(['step:a'], aSource),
      cell(['step:b', 'prev:a'], "y = x * 2\nprint('ran b', y, 'in', RUN)"),
      cell(['step:c', 'prev:b'], "z = y + 1\nprint('ran c', z, 'in', RUN)"),
      cell(['step:d', 'prev:a'], "print('ran d', x, 'in', RUN)"),
    ],
  });
}

function cellpipe(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...process.env, CELLPIPE_PYTHON: PYTHON, CELLPIPE_STORE: '', CELLPIPE_STORE_FSYNC: '0' }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function latest(ws: string): Promise<RunRecord> {
  return JSON.parse((await cellpipe(['status', 'latest', '--json'], ws)).stdout) as RunRecord;
}

/** The steps that ran in the run this output is of (a reused step's log, replayed, names the run that ran it). */
function ran(stdout: string): string[] {
  const id = /^cellpipe: run (\S+) of /m.exec(stdout)?.[1];
  assert.ok(id, `no run id in:\n${stdout}`);
  return [...stdout.matchAll(/^\[(\w+)\] ran \1 .* in (\S+)$/gm)].filter((m) => m[2] === id).map((m) => m[1]).sort();
}

test('--only and --from run exactly the steps asked; the others are reused from the run named or the latest one', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-partial-'));
  fs.writeFileSync(path.join(ws, 'chain.ipynb'), notebook("x = 1\nprint('ran a', x, 'in', RUN)"));
  const full = await cellpipe(['run', 'chain.ipynb'], ws);
  assert.equal(full.code, 0, full.stderr + full.stdout);
  assert.deepEqual(ran(full.stdout), ['a', 'b', 'c', 'd']);
  const first = await latest(ws);

  const only = await cellpipe(['run', 'chain.ipynb', '--only', 'b'], ws);
  assert.equal(only.code, 0, only.stderr + only.stdout);
  assert.deepEqual(ran(only.stdout), ['b'], 'only b ran');
  assert.match(only.stdout, /\[a\] reused from run \S+ \(not chosen to run\); its log follows/);
  const second = await latest(ws);
  // A reused step shows the log of the run that ran it, as a cache hit does.
  assert.match(only.stdout, new RegExp(`^\\[a\\] ran a 1 in ${first.id}$`, 'm'));
  const replayed = await cellpipe(['logs', second.id, '--step', 'a'], ws);
  assert.match(replayed.stdout, new RegExp(`ran a 1 in ${first.id}`), 'the replayed lines are stored with the new run');
  for (const name of ['a', 'c', 'd']) {
    const s = second.steps.find((x) => x.name === name)!;
    assert.equal(s.state, 'cached', name);
    assert.equal(s.reused, true, name);
    assert.equal(s.cachedFrom, first.id, `${name} says which run it came from`);
  }
  const b = second.steps.find((x) => x.name === 'b')!;
  assert.equal(b.state, 'succeeded');
  assert.equal(b.reused, undefined);
  assert.match((await cellpipe(['status', second.id], ws)).stdout, new RegExp(`a\\s+cached \\(reused from ${first.id}\\)`));

  // --from b with an explicit (prefix of a) run: b and c (downstream) run; a and d come from the first run.
  const from = await cellpipe(['run', 'chain.ipynb', '--from', 'b', '--reuse', first.id.slice(0, 18)], ws);
  assert.equal(from.code, 0, from.stderr + from.stdout);
  assert.deepEqual(ran(from.stdout), ['b', 'c']);
  const third = await latest(ws);
  assert.deepEqual(
    third.steps.map((s) => [s.name, s.state, s.cachedFrom ?? null]),
    [['a', 'cached', first.id], ['b', 'succeeded', null], ['c', 'succeeded', null], ['d', 'cached', first.id]],
  );
  // c's input came from the b that ran now, not from the first run.
  assert.match(from.stdout, /^\[c\] ran c 3 in /m);

  const unknown = await cellpipe(['run', 'chain.ipynb', '--only', 'b,nope'], ws);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no step 'nope' in this notebook; its steps are: a, b, c, d/);
  const noRun = await cellpipe(['run', 'chain.ipynb', '--only', 'c', '--reuse', 'no-such-run'], ws);
  assert.equal(noRun.code, 1);
  assert.match(noRun.stderr, /no run 'no-such-run'/);
});

test('--only a downstream step after an upstream cell changed warns that the reused inputs are stale', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-partial-'));
  const nb = path.join(ws, 'chain.ipynb');
  fs.writeFileSync(nb, notebook("x = 1\nprint('ran a', x, 'in', RUN)"));
  assert.equal((await cellpipe(['run', 'chain.ipynb'], ws)).code, 0);

  const unchanged = await cellpipe(['run', 'chain.ipynb', '--only', 'c'], ws);
  assert.equal(unchanged.code, 0, unchanged.stderr);
  assert.doesNotMatch(unchanged.stderr + unchanged.stdout, /stale/);

  fs.writeFileSync(nb, notebook("x = 100\nprint('ran a', x, 'in', RUN)"));
  const stale = await cellpipe(['run', 'chain.ipynb', '--only', 'c'], ws);
  assert.equal(stale.code, 0, stale.stderr);
  assert.deepEqual(ran(stale.stdout), ['c']);
  assert.match(stale.stderr, /warning: step 'a' changed since run \S+, whose outputs of it are reused: the inputs of 'c' are stale; run with --from a/);
  assert.doesNotMatch(stale.stderr, /step 'b' changed/, 'b itself did not change');
  assert.match(stale.stdout, /\[a\] warning: this step's code changed since run/);
  assert.match(stale.stdout, /^\[c\] ran c 3 in /m, 'c ran on the old (stale) inputs, as warned');
});

test('--only a downstream step after an upstream step\'s env: tag changed warns that the reused inputs are stale', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-partial-'));
  const nb = (mode: string) => JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      cell(['imports'], 'import os'),
      cell(['step:a', `env:MODE=${mode}`], "x = os.environ['MODE']"),
      cell(['step:b', 'prev:a'], "print('ran b', x)"),
    ],
  });
  fs.writeFileSync(path.join(ws, 'env.ipynb'), nb('fast'));
  assert.equal((await cellpipe(['run', 'env.ipynb'], ws)).code, 0);
  const same = await cellpipe(['run', 'env.ipynb', '--only', 'b'], ws);
  assert.doesNotMatch(same.stderr, /stale/);
  fs.writeFileSync(path.join(ws, 'env.ipynb'), nb('slow'));
  const changed = await cellpipe(['run', 'env.ipynb', '--only', 'b'], ws);
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stderr, /warning: step 'a' changed since run \S+, whose outputs of it are reused: the inputs of 'b' are stale/);
  assert.match(changed.stdout, /^\[b\] ran b fast$/m, 'b ran on the reused (stale) value, as warned');
});
