/**
 * A full disk fails the run that filled it — and only that run. The run store of one notebook is on a small tmpfs the
 * test mounts (root only: skipped with the reason otherwise); a step floods its log until the disk is full while a
 * run of another notebook, on another disk, goes on. The backend (real local runtime, real Python steps) stays up,
 * the flooding run ends `failed` with "disk full: <store>" and what to do, its log keeps what was written, and a new
 * run on the full disk is refused with 507, not a 500.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './index.js';
import { call, readEvents } from './testing.js';

const isRoot = process.getuid?.() === 0;

function notebook(step: string, source: string): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: 'code', id: 'c', metadata: { tags: [`step:${step}`] }, source, outputs: [], execution_count: null }],
  });
}

/** Prints 14 MB of lines straight to fd 1 (more than the 4 MiB disk holds), then would sleep a minute. */
const FLOOD = 'import os, time\nline = b"x" * 200 + b"\\n"\nfor i in range(70000):\n    os.write(1, line)\ntime.sleep(60)';
/** Twenty lines over two seconds: a run that must not notice the other run's disk filling up. */
const STEADY = 'import time\nfor i in range(20):\n    print("steady", i, flush=True)\n    time.sleep(0.1)';

async function finalRun(socket: string, runId: string): Promise<any> {
  const { events } = await readEvents(socket, `/api/runs/${runId}/events`);
  return events.filter((e) => e.event === 'run').at(-1)!.data;
}

describe('a full disk', { skip: isRoot ? false : 'mounting a size-limited tmpfs needs root' }, () => {
  let base: string;
  let root: string;
  let full: string;
  let server: RunningServer;
  let socket: string;
  let mounted = false;
  const savedLimit = process.env.CELLPIPE_LOG_LIMIT;

  before(async () => {
    // No log limit: the disk must fill before any cap would cut the log.
    process.env.CELLPIPE_LOG_LIMIT = '0';
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-disk-full-'));
    root = path.join(base, 'root');
    full = path.join(root, 'full');
    mkdirSync(full, { recursive: true });
    mkdirSync(path.join(root, 'ok'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'cellpipe-test-full', full]);
    mounted = true;
    writeFileSync(path.join(full, 'flood.ipynb'), notebook('flood', FLOOD));
    writeFileSync(path.join(root, 'ok', 'steady.ipynb'), notebook('steady', STEADY));
    socket = path.join(base, 's.sock');
    server = await startServer({ root, socket, backend: { kubeflow: { stateFile: path.join(base, 'state', 'kubeflow-runs.json') } } });
  });
  after(async () => {
    await server?.close();
    if (mounted) execFileSync('umount', ['-l', full]);
    rmSync(base, { recursive: true, force: true });
    if (savedLimit === undefined) delete process.env.CELLPIPE_LOG_LIMIT;
    else process.env.CELLPIPE_LOG_LIMIT = savedLimit;
  });

  test('fails the run that filled it (disk full: <store>, what to do), keeps its log, and touches no other run', async () => {
    const steady = await call(socket, 'POST', '/api/runs', { path: 'ok/steady.ipynb' });
    assert.equal(steady.status, 201, steady.text);
    const flood = await call(socket, 'POST', '/api/runs', { path: 'full/flood.ipynb' });
    assert.equal(flood.status, 201, flood.text);
    const started = Date.now();

    const rec = await finalRun(socket, flood.json.runId);
    const store = path.join(full, '.cellpipe');
    assert.equal(rec.state, 'failed', JSON.stringify(rec, null, 1));
    assert.ok(rec.reason.startsWith(`disk full: ${store} `), rec.reason);
    assert.match(rec.reason, /Free space on that disk/);
    assert.notEqual(rec.reason, 'interrupted');
    const step = rec.steps[0];
    assert.equal(step.state, 'failed');
    assert.ok(step.error.message.startsWith(`disk full: ${store} `), step.error.message);
    assert.ok(Date.now() - started < 30_000, 'the flooding step was stopped, not left to sleep its minute');

    // What was written before the disk filled is kept, whole, and the log says why it stops.
    const log = await call(socket, 'GET', `/api/runs/${flood.json.runId}/logs/flood?format=json&tail=10000`);
    assert.equal(log.status, 200, log.text.slice(0, 300));
    const lines = log.json.lines as { stream: string; text: string }[];
    const printed = lines.filter((l) => l.stream === 'stdout');
    assert.ok(printed.length > 5000, `${printed.length} lines kept`);
    assert.ok(printed.every((l) => l.text === 'x'.repeat(200)), 'no line was torn');
    assert.match(lines.at(-1)!.text, /^disk full: .*: the log stops here$/);

    // The other notebook's run, on another disk, went on as if nothing happened.
    const other = await finalRun(socket, steady.json.runId);
    assert.equal(other.state, 'succeeded', JSON.stringify(other, null, 1));
    const otherLog = await call(socket, 'GET', `/api/runs/${steady.json.runId}/logs/steady?format=json`);
    assert.equal(otherLog.json.lines.filter((l: { stream: string }) => l.stream === 'stdout').length, 20);

    // The backend is up; a new run on the full disk is refused with a clear 507.
    assert.equal((await call(socket, 'GET', '/api/health')).status, 200);
    const again = await call(socket, 'POST', '/api/runs', { path: 'full/flood.ipynb' });
    assert.equal(again.status, 507, again.text);
    assert.ok(again.json.error.message.startsWith(`disk full: ${store} `), again.text);
    assert.match(again.json.error.hint, /Free space on that disk/);
    assert.doesNotMatch(again.text, /bug in cellpipe/);
    // The listing still works and shows the failed run.
    const list = await call(socket, 'GET', '/api/runs?notebook=full/flood.ipynb');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.runs.map((r: { id: string }) => r.id), [flood.json.runId]);
  });
});
