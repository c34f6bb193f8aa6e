/**
 * The run commands as a user runs them: `cellpipe run|runs|status|logs|cancel` as real processes, against
 * real notebooks and the real step runtime, including a runner killed with SIGKILL mid-run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from './store.js';
import { groupAlive, pidExists } from './process.js';
import type { RunRecord } from './types.js';
import * as kit from './testing.js';

const { BIN: bin, FIXTURES: fixtures, CORPUS: corpus, PYTHON: python } = kit;

function workspace(...notebooks: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-cli-'));
  for (const nb of notebooks) fs.copyFileSync(nb, path.join(dir, path.basename(nb)));
  return dir;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], cwd: string): ChildProcess & { result: Promise<Result> } {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env: { ...process.env, CELLPIPE_PYTHON: python, CELLPIPE_STORE: '', CELLPIPE_KILL_GRACE_MS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { result: Promise<Result> };
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  child.result = new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return child;
}

function cellpipe(args: string[], cwd: string): Promise<Result> {
  return start(args, cwd).result;
}

/** Wait until a line containing `text` is in the step's stored log; returns the line. */
async function waitForLine(storeDir: string, step: string, text: string, timeoutMs = 60_000): Promise<{ runId: string; line: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const runs = fs.existsSync(path.join(storeDir, 'runs')) ? await new RunStore(storeDir).list() : [];
    for (const r of runs) {
      for await (const l of new RunStore(storeDir).readLogs(r.id, step)) if (l.text.includes(text)) return { runId: r.id, line: l.text };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no line '${text}' in step ${step} within ${timeoutMs} ms`);
}

test('cellpipe run runs a corpus notebook to success, prints the run id, and the run shows in runs/status/logs', async () => {
  const src = path.join(corpus, 'candies_sharing.ipynb');
  if (!fs.existsSync(src)) return;
  const ws = workspace(src);
  const r = await cellpipe(['run', 'candies_sharing.ipynb'], ws);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const id = /run (\d{8}-\d{6}-[0-9a-f]{6})/.exec(r.stdout)?.[1];
  assert.ok(id, 'the run id is printed');
  assert.match(r.stdout, /\[sack\] Let's put in a bag 20 candies/, 'step lines are streamed with the step name');
  assert.match(r.stdout, /\[kid3\] ── succeeded/);
  assert.ok(!r.stdout.includes('\x1b['), 'no terminal escapes when stdout is not a terminal');

  const runs = JSON.parse((await cellpipe(['runs', '--json'], ws)).stdout) as RunRecord[];
  assert.equal(runs.length, 1);
  assert.equal(runs[0].id, id);
  assert.equal(runs[0].state, 'succeeded');
  assert.equal(runs[0].notebook, 'candies_sharing.ipynb');
  assert.match(runs[0].notebookHash, /^[0-9a-f]{64}$/);
  assert.match((await cellpipe(['runs'], ws)).stdout, new RegExp(`${id}\\s+succeeded\\s+4/4`));
  assert.equal((await cellpipe(['runs', '--notebook', 'other.ipynb', '--json'], ws)).stdout.trim(), '[]');

  const status = await cellpipe(['status', id!], ws);
  assert.equal(status.code, 0);
  assert.match(status.stdout, /state\s+succeeded/);
  assert.match(status.stdout, /params\s+CANDIES=20/);
  const statusJson = JSON.parse((await cellpipe(['status', 'latest', '--json'], ws)).stdout) as RunRecord;
  assert.equal(statusJson.id, id);

  const logs = await cellpipe(['logs', id!, '--step', 'kid1'], ws);
  assert.equal(logs.code, 0);
  assert.match(logs.stdout, /^I got \d+ candies!$/m);
  const all = await cellpipe(['logs', id!], ws);
  assert.match(all.stdout, /^\[sack\] Let's put/m);
  const bad = await cellpipe(['logs', id!, '--step', 'nope'], ws);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no step 'nope'; its steps are: sack, kid1, kid2, kid3/);
  const missing = await cellpipe(['status', 'no-such-run'], ws);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no run 'no-such-run' in .*--store DIR/);

  // Run again: everything is cached.
  const again = await cellpipe(['run', 'candies_sharing.ipynb'], ws);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /\[kid3\] ── cached/);
  const rerun = await cellpipe(['run', 'candies_sharing.ipynb', '--no-cache', '--concurrency', '1'], ws);
  assert.equal(rerun.code, 0);
  assert.match(rerun.stdout, /\[kid3\] ── succeeded/);
});

test('cellpipe run: --param by declared type, metrics in the record, errors for bad values and unknown names', async () => {
  const src = path.join(corpus, 'pipeline_parameters_and_metrics.ipynb');
  if (!fs.existsSync(src)) return;
  const ws = workspace(src);
  const ok = await cellpipe(['run', 'pipeline_parameters_and_metrics.ipynb', '--param', 'd1=3', '-p', 'booltest=false', '-p', 'strtest=a=b'], ws);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const rec = JSON.parse((await cellpipe(['status', 'latest', '--json'], ws)).stdout) as RunRecord;
  assert.deepEqual(rec.parameters, { d1: 3, d2: 6, booltest: false, strtest: 'a=b' });
  const metrics = rec.steps.find((s) => s.name === 'sum_matrix')!.metrics;
  assert.equal(metrics.d1, 3);
  assert.equal(typeof metrics.sum_result, 'number');

  const badInt = await cellpipe(['run', 'pipeline_parameters_and_metrics.ipynb', '--param', 'd1=three'], ws);
  assert.equal(badInt.code, 2);
  assert.match(badInt.stderr, /--param d1=three: d1 is an int parameter \(declared in cell 2, line 1\); 'three' is not an integer/);
  const unknown = await cellpipe(['run', 'pipeline_parameters_and_metrics.ipynb', '--param', 'd3=1'], ws);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no pipeline parameter 'd3' \(its parameters are: d1, d2, booltest, strtest\)/);
  const badBool = await cellpipe(['run', 'pipeline_parameters_and_metrics.ipynb', '--param', 'booltest=maybe'], ws);
  assert.equal(badBool.code, 2);
  assert.match(badBool.stderr, /'maybe' is not true or false/);
  assert.equal((await new RunStore(path.join(ws, '.cellpipe')).list()).length, 1, 'rejected parameters start no run');
});

test('cellpipe run prints compile errors with cell and line and exits 1; a failing step exits 1 naming cell and line', async () => {
  const ws = workspace(path.join(fixtures, 'broken.ipynb'), path.join(fixtures, 'failing.ipynb'));
  const broken = await cellpipe(['run', 'broken.ipynb'], ws);
  assert.equal(broken.code, 1);
  // The syntax error is in the notebook's 2nd cell (index 1): people read JupyterLab's numbering.
  assert.match(broken.stderr, /broken\.ipynb, cell 2, line 2: error: .*invalid syntax/);
  assert.equal(fs.existsSync(path.join(ws, '.cellpipe', 'runs')), false, 'no run recorded');

  const failing = await cellpipe(['run', 'failing.ipynb'], ws);
  assert.equal(failing.code, 1);
  // `divide` is the notebook's 3rd cell: the failing-step line says cell 3, the record keeps the index 2.
  assert.match(failing.stdout, /\[divide\] ── failed in [\d.]+s: ZeroDivisionError: division by zero \(cell 3, line 2\)/);
  assert.match(failing.stdout, /\[after\] ── skipped/);
  assert.match(failing.stdout, /\[independent\] independent 30/);
  assert.match(failing.stderr, /run \S+ failed \(step 'divide' failed\)/);
  const status = await cellpipe(['status', 'latest'], ws);
  assert.match(status.stdout, /step divide failed at cell 3, line 2 \(half = base \/ 2\):/);
  const record = JSON.parse((await cellpipe(['status', 'latest', '--json'], ws)).stdout) as RunRecord;
  assert.equal(record.steps.find((s) => s.name === 'divide')!.error!.cell, 2, '--json keeps the 0-based cell index');
});

test('kill -9 of the runner mid-run: `cellpipe runs` shows it interrupted, its logs are intact, no step process is left', async () => {
  const ws = workspace(path.join(fixtures, 'slow.ipynb'));
  const runner = start(['run', 'slow.ipynb'], ws);
  const store = path.join(ws, '.cellpipe');
  const { runId, line } = await waitForLine(store, 'wait', 'waiting');
  const grandchild = Number(line.split(' ')[1]);
  const stepPid = (await new RunStore(store).get(runId))!.steps.find((s) => s.name === 'wait')!.pid!;
  assert.ok(pidExists(grandchild) && groupAlive(stepPid), 'the step and its child are running');

  runner.kill('SIGKILL');
  await runner.result;
  const listed = await cellpipe(['runs'], ws);
  assert.match(listed.stdout, new RegExp(`${runId}\\s+interrupted`));
  const rec = JSON.parse((await cellpipe(['status', runId, '--json'], ws)).stdout) as RunRecord;
  assert.equal(rec.state, 'failed');
  assert.equal(rec.reason, 'interrupted');
  assert.deepEqual(rec.steps.map((s) => s.state), ['succeeded', 'failed', 'skipped']);
  const logs = await cellpipe(['logs', runId], ws);
  assert.match(logs.stdout, /^\[first\] first is up$/m, 'lines of finished steps kept');
  assert.match(logs.stdout, /^\[wait\] waiting \d+$/m, 'lines of the interrupted step kept');
  assert.equal(groupAlive(stepPid), false, 'the orphaned step process group was stopped');
  assert.equal(pidExists(grandchild), false, 'and the process it started');
});

test('cellpipe cancel from another terminal stops the run and its processes; logs --follow ends with it', async () => {
  const ws = workspace(path.join(fixtures, 'slow.ipynb'));
  const runner = start(['run', 'slow.ipynb'], ws);
  const store = path.join(ws, '.cellpipe');
  const { runId, line } = await waitForLine(store, 'wait', 'waiting');
  const grandchild = Number(line.split(' ')[1]);
  const follower = start(['logs', runId, '--follow'], ws);

  const cancelled = await cellpipe(['cancel', runId.slice(0, 17)], ws);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.match(cancelled.stdout, new RegExp(`run ${runId} cancelled`));
  const ran = await runner.result;
  assert.equal(ran.code, 1, 'the runner exits non-zero: the run did not succeed');
  assert.match(ran.stdout, /\[wait\] ── cancelled/);
  assert.equal(pidExists(grandchild), false, 'no orphan left');
  const followed = await follower.result;
  assert.equal(followed.code, 0);
  assert.match(followed.stdout, /\[first\] first is up/);
  assert.match(followed.stdout, /\[wait\] waiting/);
  const rec = (await new RunStore(store).get(runId))!;
  assert.equal(rec.state, 'cancelled');
  assert.deepEqual(rec.steps.map((s) => s.state), ['succeeded', 'cancelled', 'cancelled']);
  const again = await cellpipe(['cancel', runId], ws);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /already cancelled/);
});

test('Ctrl-C (SIGINT) on cellpipe run cancels the run and exits 130', async () => {
  const ws = workspace(path.join(fixtures, 'slow.ipynb'));
  const runner = start(['run', 'slow.ipynb'], ws);
  const { runId, line } = await waitForLine(path.join(ws, '.cellpipe'), 'wait', 'waiting');
  runner.kill('SIGINT');
  const r = await runner.result;
  assert.equal(r.code, 130);
  assert.equal(pidExists(Number(line.split(' ')[1])), false);
  assert.equal((await new RunStore(path.join(ws, '.cellpipe')).get(runId))!.state, 'cancelled');
});

test('two cellpipe run processes at once on one notebook both succeed with separate records', async () => {
  const ws = workspace(path.join(fixtures, 'wordcount.ipynb'));
  fs.cpSync(path.join(fixtures, 'data'), path.join(ws, 'data'), { recursive: true });
  const [a, b] = await Promise.all([
    cellpipe(['run', 'wordcount.ipynb', '--no-cache', '-p', 'TOP=2'], ws),
    cellpipe(['run', 'wordcount.ipynb', '--no-cache', '-p', 'TOP=4'], ws),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.match(a.stdout, /\[top\] top \['the', 'dog'\]$/m);
  assert.match(b.stdout, /\[top\] top \['the', 'dog', 'fox', 'and'\]$/m);
  const runs = await new RunStore(path.join(ws, '.cellpipe')).list();
  assert.equal(runs.length, 2);
  assert.ok(runs.every((r) => r.state === 'succeeded'));
});

test('on a terminal, cellpipe run keeps a live progress line under the step lines', async () => {
  if (!fs.existsSync('/usr/bin/script')) return; // util-linux `script` gives the command a pseudo-terminal
  const ws = workspace(path.join(fixtures, 'wordcount.ipynb'));
  fs.cpSync(path.join(fixtures, 'data'), path.join(ws, 'data'), { recursive: true });
  const cmd = [process.execPath, bin, 'run', 'wordcount.ipynb'].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = await new Promise<Result>((resolve) => {
    const c = spawn('/usr/bin/script', ['-qec', cmd, '/dev/null'], {
      cwd: ws,
      env: { ...process.env, CELLPIPE_PYTHON: python, CELLPIPE_STORE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\r\x1b\[K\x1b\[2m2\/5 done · running: [a-z, ]+ · [\d.]+s\x1b\[0m/, 'a progress line is drawn and redrawn in place');
  assert.match(r.stdout, /\x1b\[36mtop\s*\x1b\[0m │ top \['the', 'dog', 'fox'\]/, 'step lines carry a coloured step column');
  assert.match(r.stdout, /cellpipe: run \S+ succeeded/);
});

test('cellpipe runs lists the readable runs and says which record is damaged, with file and line', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-cli-damaged-'));
  const store = new RunStore(path.join(ws, '.cellpipe'));
  await store.create({ id: '20260101-000000-good', notebook: 'nb.ipynb', notebookHash: 'n', specHash: 's', runtime: 'local', parameters: {}, state: 'succeeded', createdAt: '2026-01-01T00:00:00.000Z', steps: [] });
  fs.mkdirSync(path.join(store.dir, 'runs', '20260101-000000-bad'));
  fs.writeFileSync(path.join(store.dir, 'runs', '20260101-000000-bad', 'run.jsonl'), 'null\n');
  const r = await cellpipe(['runs'], ws);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /20260101-000000-good/);
  assert.match(r.stderr, /^cellpipe runs: run 20260101-000000-bad is damaged: .*run\.jsonl line 1: the line is null, not a record change$/m);
});
