/**
 * Warm starts, with real step processes forked from a real fork server (`python -m cellpipe_runtime forkserver`):
 * - a warm step gives what a cold one gives (logs, outputs, cell outputs), and its imports ran once, in the server;
 * - the fallbacks to a cold start are taken where they must be, with the reason in the log and the record;
 * - a changed imports cell gets a server of its own;
 * - a warm step is its own process group: a timeout or a cancel stops all of it, and the server serves on;
 * - no server is left once the CLI that started it has exited (or was killed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../../../runs/store.js';
import { groupAlive, pidExists } from '../../../runs/process.js';
import * as kit from '../../../runs/testing.js';
import type { RunRecord } from '../../../runs/types.js';
import { importsNote, LocalRuntime } from '../runtime.js';
import { handBuiltRequest, type StepSpec } from '../testkit.js';

const python = kit.PYTHON;

function setup(opts: { warm?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-warm-test-'));
  const store = new RunStore(path.join(root, '.cellpipe'));
  const runtime = new LocalRuntime({ store, python, concurrency: 4, killGraceMs: 1000, env: opts.env, ...(opts.warm === false ? { warm: false } : {}) });
  return { root, store, runtime };
}

async function run(runtime: LocalRuntime, steps: StepSpec[], opts: Parameters<typeof handBuiltRequest>[1]): Promise<RunRecord> {
  return runtime.wait(await runtime.submit(handBuiltRequest(steps, { cache: false, ...opts })));
}

async function logLines(runtime: LocalRuntime, runId: string, step: string, stream?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of runtime.logs(runId, step)) if (!stream || l.stream === stream) out.push(l.text);
  return out;
}

/** Waits until `check` holds (or fails after `ms`): processes end asynchronously. */
async function eventually(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const CHAIN: StepSpec[] = [
  { name: 'make', code: 'rows = [i * i for i in range(N)]\nprint("made", len(rows))\nsum(rows)', outputs: ['rows'], parameters: ['N'] },
  { name: 'count', code: 'counts = collections.Counter(r % 3 for r in rows)\nprint("counts", sorted(counts.items()))', inputs: { rows: 'make' }, outputs: ['counts'] },
  { name: 'report', code: 'print("total", sum(counts.values()))', inputs: { counts: 'count' } },
];

test('a warm step gives what a cold one gives, and its imports cell ran once, in the fork server', async () => {
  const prelude = (mark: string) => `import collections\nwith open(${JSON.stringify(mark)}, "a") as fh:\n    fh.write("ran\\n")\nprint("imports done")\n!echo the shell says hi`;
  const results: Record<string, { rec: RunRecord; runs: number; logs: string[][]; cells: unknown[] }> = {};
  for (const mode of ['warm', 'cold'] as const) {
    const { root, store, runtime } = setup({ warm: mode === 'warm' });
    const mark = path.join(root, 'imports-ran');
    const rec = await run(runtime, CHAIN, { prelude: prelude(mark), workdir: root, parameters: [{ name: 'N', type: 'int', default: 10 }] });
    assert.equal(rec.state, 'succeeded', JSON.stringify(rec.steps.map((s) => [s.name, s.state, s.error])));
    const logs = await Promise.all(CHAIN.map((s) => logLines(runtime, rec.id, s.name, 'stdout')));
    const cells = CHAIN.map((s) => JSON.parse(fs.readFileSync(path.join(store.dir, rec.steps.find((x) => x.name === s.name)!.cellOutputs!), 'utf8')).cells);
    results[mode] = { rec, runs: fs.readFileSync(mark, 'utf8').split('\n').filter(Boolean).length, logs, cells };
    runtime.warmStarts?.stopAll();
  }
  const { warm, cold } = results;
  assert.deepEqual(warm.rec.steps.map((s) => s.start), ['warm', 'warm', 'warm']);
  assert.deepEqual(cold.rec.steps.map((s) => s.start), ['cold', 'cold', 'cold']);
  assert.equal(cold.rec.steps[0].coldStartReason, 'cold starts were asked for (--cold)');
  assert.equal(warm.runs, 1, 'warm: the imports cell ran once, in the server');
  assert.equal(cold.runs, 3, 'cold: once per step');
  assert.deepEqual(warm.logs, cold.logs, 'the same lines on stdout, the imports cell\'s print included');
  assert.ok(warm.logs.every((l) => l[0] === 'imports done' && l[1] === 'the shell says hi'), 'each warm step\'s log shows what its imports printed, !commands too');
  assert.deepEqual(warm.cells, cold.cells, 'the same cell outputs, the imports cell\'s too');
  const hashes = (r: RunRecord) => r.steps.flatMap((s) => s.outputs.map((o) => [s.name, o.name, o.sha256]));
  assert.deepEqual(hashes(warm.rec), hashes(cold.rec), 'the same artifacts, byte for byte');
});

test('corpus and fixture notebooks: the same outputs warm and cold', async () => {
  const notebooks = [
    { file: path.join(kit.FIXTURES, 'numbers.ipynb'), extra: [] as string[] },
    { file: path.join(kit.FIXTURES, 'wordcount.ipynb'), extra: ['data'] },
    { file: path.join(kit.CORPUS, 'pipeline_parameters_and_metrics.ipynb'), extra: [] },
  ];
  const { compileNotebook } = await import('../../../core/compile.js');
  for (const nb of notebooks) {
    const seen: Record<string, unknown> = {};
    for (const mode of ['warm', 'cold'] as const) {
      const { root, store, runtime } = setup({ warm: mode === 'warm' });
      fs.copyFileSync(nb.file, path.join(root, path.basename(nb.file)));
      for (const e of nb.extra) fs.cpSync(path.join(path.dirname(nb.file), e), path.join(root, e), { recursive: true });
      const compiled = compileNotebook(fs.readFileSync(nb.file, 'utf8'), { path: path.basename(nb.file) });
      assert.ok(compiled.ok && compiled.graph);
      // pipeline_parameters_and_metrics draws random numbers: seeded (in its first step cell) so both runs draw the same.
      const programs = Object.fromEntries(Object.entries(compiled.programs).map(([k, p]) => [k, {
        ...p, cells: p.cells.map((c, i) => (i === p.cells.findIndex((x) => x.role === 'step') ? { ...c, source: `import numpy as _np; _np.random.seed(7)\n${c.source}` } : c)),
      }]));
      const id = await runtime.submit({
        notebookPath: path.join(root, path.basename(nb.file)), notebookHash: 't', specHash: 't', graph: compiled.graph!, programs, parameters: {}, cache: false,
      });
      const rec = await runtime.wait(id);
      assert.equal(rec.state, 'succeeded', `${nb.file} ${mode}: ${JSON.stringify(rec.steps.map((s) => [s.name, s.state, s.error]))}`);
      assert.ok(rec.steps.every((s) => s.start === mode), `${mode} starts: ${JSON.stringify(rec.steps.map((s) => [s.start, s.coldStartReason]))}`);
      const logs: Record<string, string[]> = {};
      for (const s of rec.steps) logs[s.name] = await logLines(runtime, id, s.name, 'stdout');
      const cells = Object.fromEntries(rec.steps.map((s) => [s.name, JSON.parse(fs.readFileSync(path.join(store.dir, s.cellOutputs!), 'utf8')).cells]));
      seen[mode] = { outputs: rec.steps.map((s) => [s.name, s.outputs.map((o) => [o.name, o.sha256]), s.metrics]), logs, cells };
      runtime.warmStarts?.stopAll();
    }
    assert.deepEqual(seen.warm, seen.cold, `${path.basename(nb.file)}: warm and cold agree`);
  }
});

test('fallbacks: threads, a %% magic, a parameter in the imports, CELLPIPE_WARM=0 and a raising imports cell start cold, saying why', async () => {
  const one: StepSpec[] = [{ name: 's', code: 'print("ran", N)', parameters: ['N'] }];
  const params = { parameters: [{ name: 'N', type: 'int' as const, default: 1 }] };
  const cases: { prelude: string; env?: NodeJS.ProcessEnv; reason: RegExp; state?: string }[] = [
    { prelude: 'import threading, time\nthreading.Thread(target=time.sleep, args=(30,), name="poller", daemon=True).start()', reason: /imports cells started 1 thread \(poller\)/ },
    { prelude: '%%writefile helper.py\nLIMIT = 3', reason: /imports cell 1 \("%%writefile helper.py"\) is a %%writefile cell magic/ },
    { prelude: 'import json\nLIMIT = N * 2', reason: /uses the pipeline parameter N/ },
    { prelude: 'import json', env: { ...process.env, CELLPIPE_WARM: '0' }, reason: /CELLPIPE_WARM=0/ },
    { prelude: 'import json\nraise RuntimeError("no licence")', reason: /cell 1 \("import json"\) raised RuntimeError: no licence/, state: 'failed' },
  ];
  for (const c of cases) {
    const { root, runtime } = setup({ env: c.env });
    const rec = await run(runtime, one, { prelude: c.prelude, workdir: root, ...params });
    const s = rec.steps[0];
    assert.equal(s.state, c.state ?? 'succeeded', JSON.stringify(s));
    assert.equal(s.start, 'cold', c.prelude);
    assert.match(s.coldStartReason ?? '', c.reason);
    const log = await logLines(runtime, rec.id, 's', 'system');
    assert.ok(log.some((l) => l.startsWith('cold start: ') && c.reason.test(l)), `the reason is in the log: ${log.join(' / ')}`);
    if (c.state === 'failed') assert.match(s.error?.message ?? '', /no licence/, 'the cold step reports the imports error as always');
    else assert.equal((await logLines(runtime, rec.id, 's', 'stdout')).at(-1), 'ran 1');
    runtime.warmStarts?.stopAll();
  }
});

test('random numbers: fresh in each warm step unless the imports seed them, then the same as cold', async () => {
  const draw: StepSpec[] = ['a', 'b'].map((name) => ({ name, code: 'print(random.random(), numpy.random.rand())' }));
  const values = async (prelude: string, warm: boolean) => {
    const { root, runtime } = setup({ warm });
    const rec = await run(runtime, draw, { prelude, workdir: root });
    assert.equal(rec.state, 'succeeded');
    assert.ok(rec.steps.every((s) => s.start === (warm ? 'warm' : 'cold')));
    const out = await Promise.all(draw.map((s) => logLines(runtime, rec.id, s.name, 'stdout')));
    runtime.warmStarts?.stopAll();
    return out.map((l) => l[0]);
  };
  const [a, b] = await values('import random, numpy', true);
  assert.notEqual(a, b, 'two steps forked from one server draw different numbers, as two fresh processes do');
  const seeded = 'import random, numpy\nrandom.seed(3)\nnumpy.random.seed(3)';
  const warm = await values(seeded, true);
  assert.deepEqual(warm, await values(seeded, false), 'seeded in the imports: the numbers a cold step draws');
  assert.equal(warm[0], warm[1]);
});

test('a changed imports cell starts a new server; the same imports reuse the running one', async () => {
  const { root, runtime } = setup();
  const serverOf = async (rec: RunRecord) => (await logLines(runtime, rec.id, 's', 'system')).map((l) => /fork server \(pid (\d+)\)/.exec(l)?.[1]).find(Boolean);
  const a1 = await run(runtime, [{ name: 's', code: 'print(json.dumps(1))' }], { prelude: 'import json', workdir: root });
  const a2 = await run(runtime, [{ name: 's', code: 'print(json.dumps(2))' }], { prelude: 'import json', workdir: root });
  const b = await run(runtime, [{ name: 's', code: 'print(json.dumps(3))' }], { prelude: 'import json, re', workdir: root });
  for (const r of [a1, a2, b]) assert.equal(r.steps[0].start, 'warm');
  const [p1, p2, p3] = [await serverOf(a1), await serverOf(a2), await serverOf(b)];
  assert.ok(p1 && p3);
  assert.equal(p2, p1, 'same imports: the same server');
  assert.notEqual(p3, p1, 'changed imports: another server');
  assert.deepEqual(runtime.warmStarts!.pids().sort(), [Number(p1), Number(p3)].sort());
  runtime.warmStarts!.stopAll();
  await eventually(() => !pidExists(Number(p1)) && !pidExists(Number(p3)), 'the stopped servers are gone');
});

test('a module next to the notebook that the imports read is changed: the next run imports the new one, from a new server', async () => {
  const { root, runtime } = setup();
  fs.writeFileSync(path.join(root, 'helpers.py'), 'GREETING = "hello"\n');
  const steps: StepSpec[] = [{ name: 's', code: 'print(helpers.GREETING)' }];
  const first = await run(runtime, steps, { prelude: 'import helpers', workdir: root });
  assert.deepEqual(await logLines(runtime, first.id, 's', 'stdout'), ['hello']);
  const [server] = runtime.warmStarts!.pids();
  fs.writeFileSync(path.join(root, 'helpers.py'), 'GREETING = "bonjour, a longer greeting"\n');
  const second = await run(runtime, steps, { prelude: 'import helpers', workdir: root });
  assert.equal(second.steps[0].start, 'warm');
  assert.deepEqual(await logLines(runtime, second.id, 's', 'stdout'), ['bonjour, a longer greeting'], 'as a cold start would');
  assert.ok(!runtime.warmStarts!.pids().includes(server), 'the stale server was replaced');
  await eventually(() => !pidExists(server), 'the stale server has exited');

  // The same for a file an imports cell reads (data loaded up front).
  fs.writeFileSync(path.join(root, 'labels.txt'), 'cat\ndog\n');
  const reads: StepSpec[] = [{ name: 's', code: 'print(len(LABELS))' }];
  const prelude = 'with open("labels.txt") as fh:\n    LABELS = fh.read().split()';
  const before = await run(runtime, reads, { prelude, workdir: root });
  assert.deepEqual(await logLines(runtime, before.id, 's', 'stdout'), ['2']);
  fs.appendFileSync(path.join(root, 'labels.txt'), 'bird\n');
  const after = await run(runtime, reads, { prelude, workdir: root });
  assert.equal(after.steps[0].start, 'warm');
  assert.deepEqual(await logLines(runtime, after.id, 's', 'stdout'), ['3'], 'the imports read the changed file again');
  runtime.warmStarts!.stopAll();
});

test('an idle server stops on its own (CELLPIPE_WARM_IDLE); the next step starts a new one', async () => {
  const { root, runtime } = setup({ env: { ...process.env, CELLPIPE_WARM_IDLE: '1' } });
  const first = await run(runtime, [{ name: 's', code: 'print(1)' }], { prelude: 'import json', workdir: root });
  assert.equal(first.steps[0].start, 'warm');
  const [server] = runtime.warmStarts!.pids();
  await eventually(() => !pidExists(server), 'the idle server has exited');
  const second = await run(runtime, [{ name: 's', code: 'print(2)' }], { prelude: 'import json', workdir: root });
  assert.equal(second.steps[0].start, 'warm');
  assert.deepEqual(await logLines(runtime, second.id, 's', 'stdout'), ['2']);
  runtime.warmStarts!.stopAll();
});

test('a warm step over its timeout, or cancelled, is stopped with its whole process group; the server serves on', async () => {
  const { root, runtime } = setup();
  const sleeper = 'import subprocess, time\nchild = subprocess.Popen(["sleep", "60"])\nprint("child", child.pid, flush=True)\ntime.sleep(60)';
  const rec = await run(runtime, [{ name: 'slow', code: sleeper, timeout: 1 }], { prelude: 'import json', workdir: root });
  const slow = rec.steps[0];
  assert.equal(slow.state, 'failed');
  assert.equal(slow.start, 'warm');
  assert.match(slow.error?.message ?? '', /timed out after 1 s/);
  const log = await logLines(runtime, rec.id, 'slow');
  const grandchild = Number(/child (\d+)/.exec(log.join('\n'))![1]);
  assert.ok(!pidExists(grandchild), 'the step\'s own child process was stopped with it');

  const id = await runtime.submit(handBuiltRequest([{ name: 'slow', code: sleeper }], { prelude: 'import json', workdir: root, cache: false }));
  let pid: number | undefined;
  while (pid === undefined) {
    pid = (await runtime.store.get(id))?.steps[0].pid;
    if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
  }
  await runtime.cancel(id);
  const cancelled = await runtime.status(id);
  assert.equal(cancelled.state, 'cancelled');
  assert.ok(!groupAlive(pid), 'the cancelled warm step\'s process group is gone');

  const after = await run(runtime, [{ name: 'quick', code: 'print("still serving")' }], { prelude: 'import json', workdir: root });
  assert.equal(after.steps[0].start, 'warm');
  assert.deepEqual(await logLines(runtime, after.id, 'quick', 'stdout'), ['still serving']);
  runtime.warmStarts!.stopAll();
});

test('a run cancelled while its fork server is still running the imports leaves no step running', async () => {
  const { root, runtime } = setup();
  const pids = new Set<number>();
  runtime.on('change', (r) => r.steps.forEach((s) => s.pid && pids.add(s.pid)));
  const id = await runtime.submit(handBuiltRequest([{ name: 's', code: 'import time\ntime.sleep(30)' }], { prelude: 'import time\ntime.sleep(1.5)', workdir: root, cache: false }));
  await eventually(() => runtime.warmStarts!.pids().length === 1, 'the fork server is starting');
  await runtime.cancel(id);
  const rec = await runtime.status(id);
  assert.equal(rec.state, 'cancelled');
  assert.equal(rec.steps[0].state, 'cancelled');
  for (const pid of pids) assert.ok(!groupAlive(pid), 'a step forked after the cancel was stopped at once');
  runtime.warmStarts!.stopAll();
});

/** An imports cell that says it began (a file), then waits until the test lets it finish (another file): the test
 *  acts while the imports run, without racing a timer. */
const gatedImports = (root: string, k: number) =>
  `import os, time\nopen(os.path.join(${JSON.stringify(root)}, "began-${k}"), "w").close()\n` +
  `while not os.path.exists(os.path.join(${JSON.stringify(root)}, "go")):\n    time.sleep(0.01)\nIMPORTS = ${k}`;

test('more runs with different imports than the pool keeps: no server is stopped while its imports run, every step starts warm, and the pool shrinks back after', async () => {
  const { WarmStarts } = await import('./pool.js');
  const pool = new WarmStarts({ maxServers: 2 });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-warm-test-'));
  const runtime = new LocalRuntime({ store: new RunStore(path.join(root, '.cellpipe')), python, concurrency: 4, killGraceMs: 1000, warmStarts: pool });
  try {
    const ids = [];
    for (let k = 0; k < 4; k++) {
      ids.push(await runtime.submit(handBuiltRequest([{ name: 's', code: 'print("imports", IMPORTS)' }], { prelude: gatedImports(root, k), workdir: root, cache: false })));
    }
    await eventually(() => [0, 1, 2, 3].every((k) => fs.existsSync(path.join(root, `began-${k}`))), 'all four servers run their imports');
    assert.equal(pool.pids().length, 4, 'none was stopped to make room while importing');
    fs.writeFileSync(path.join(root, 'go'), '');
    const recs = await Promise.all(ids.map((id) => runtime.wait(id)));
    for (const [k, rec] of recs.entries()) {
      assert.equal(rec.steps[0].state, 'succeeded', JSON.stringify(rec.steps[0]));
      assert.equal(rec.steps[0].start, 'warm', `run ${k}: ${rec.steps[0].coldStartReason}`);
      assert.deepEqual(await logLines(runtime, rec.id, 's', 'stdout'), [`imports ${k}`]);
    }
    await eventually(() => pool.pids().length <= 2, 'the pool is back to its limit once the steps were forked');
  } finally {
    fs.writeFileSync(path.join(root, 'go'), ''); // a failed check leaves no step waiting
    pool.stopAll();
  }
});

test('a step whose fork server is stopped while it runs the imports starts cold and says so, not what the stopped imports cell looked like', async () => {
  const { root, runtime } = setup();
  const id = await runtime.submit(handBuiltRequest([{ name: 's', code: 'print("imports", IMPORTS)' }], { prelude: gatedImports(root, 0), workdir: root, cache: false }));
  try {
    await eventually(() => fs.existsSync(path.join(root, 'began-0')), 'the server runs the imports');
    runtime.warmStarts!.stopAll();
  } finally {
    fs.writeFileSync(path.join(root, 'go'), ''); // the cold step runs the imports too
  }
  const rec = await runtime.wait(id);
  assert.equal(rec.steps[0].state, 'succeeded', JSON.stringify(rec.steps[0]));
  assert.equal(rec.steps[0].start, 'cold');
  assert.equal(rec.steps[0].coldStartReason, 'its fork server was stopped while it ran the imports cells (every fork server was stopped)');
  const next = await run(runtime, [{ name: 's', code: 'print("imports", IMPORTS)' }], { prelude: gatedImports(root, 0), workdir: root });
  assert.equal(next.steps[0].start, 'warm', `a stop by cellpipe does not make the imports start cold later: ${next.steps[0].coldStartReason}`);
  runtime.warmStarts!.stopAll();
});

test('a server stopped while its step runs (replaced, or all stopped) still reports that step, then exits', async () => {
  const { root, runtime } = setup();
  const id = await runtime.submit(handBuiltRequest([{ name: 'slow', code: 'import time\ntime.sleep(1)\nprint("finished")' }], { prelude: 'import json', workdir: root, cache: false }));
  while ((await runtime.store.get(id))?.steps[0].state !== 'running') await new Promise((r) => setTimeout(r, 20));
  const [server] = runtime.warmStarts!.pids();
  runtime.warmStarts!.stopAll();
  const rec = await runtime.wait(id);
  assert.equal(rec.steps[0].state, 'succeeded', JSON.stringify(rec.steps[0]));
  assert.equal(rec.steps[0].start, 'warm');
  assert.deepEqual(await logLines(runtime, id, 'slow', 'stdout'), ['finished']);
  await eventually(() => !pidExists(server), 'the stopped server has exited once its step was reported');
  const next = await run(runtime, [{ name: 'again', code: 'print("new server")' }], { prelude: 'import json', workdir: root });
  assert.equal(next.steps[0].start, 'warm');
  assert.notEqual(runtime.warmStarts!.pids()[0], server, 'the next run got a new server');
  runtime.warmStarts!.stopAll();
});

test('a fork server killed with SIGKILL while its step runs: the step fails saying so, its group is stopped, the next run gets a new server', async () => {
  const { root, runtime } = setup();
  const pids = new Set<number>();
  runtime.on('change', (r) => r.steps.forEach((s) => s.pid && pids.add(s.pid)));
  const id = await runtime.submit(handBuiltRequest([{ name: 'slow', code: 'import time\nprint("up", flush=True)\ntime.sleep(30)' }], { prelude: 'import json', workdir: root, cache: false }));
  while (!(await logLines(runtime, id, 'slow', 'stdout')).includes('up')) await new Promise((r) => setTimeout(r, 20));
  const [server] = runtime.warmStarts!.pids();
  process.kill(server, 'SIGKILL');
  const rec = await runtime.wait(id);
  assert.equal(rec.steps[0].state, 'failed');
  assert.match(rec.steps[0].error?.message ?? '', /the fork server ended while the step ran/);
  for (const pid of pids) await eventually(() => !groupAlive(pid), 'the orphaned step was stopped');
  const next = await run(runtime, [{ name: 'quick', code: 'print("ok")' }], { prelude: 'import json', workdir: root });
  assert.equal(next.steps[0].start, 'warm');
  assert.deepEqual(await logLines(runtime, next.id, 'quick', 'stdout'), ['ok']);
  runtime.warmStarts!.stopAll();
});

/** Writes a two-step notebook with an imports cell; the second step sleeps `sleep` seconds. */
function notebook(dir: string, sleep = 0): string {
  const cell = (source: string, tags: string[]) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
  const file = path.join(dir, 'warm.ipynb');
  fs.writeFileSync(file, JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      cell('import json\nimport time', ['imports']),
      cell('x = json.dumps({"a": 1})', ['step:one']),
      cell(`time.sleep(${sleep})\nprint(x)`, ['step:two', 'prev:one']),
    ],
  }));
  return file;
}

async function serverPids(store: string): Promise<number[]> {
  const runs = new RunStore(store);
  const pids: number[] = [];
  for (const rec of await runs.list()) {
    for (const s of rec.steps) {
      for await (const l of runs.readLogs(rec.id, s.name)) {
        const m = /fork server \(pid (\d+)\)/.exec(l.text);
        if (m) pids.push(Number(m[1]));
      }
    }
  }
  runs.close();
  return [...new Set(pids)];
}

test('no fork server is left once the CLI has exited, nor after it was killed with SIGKILL', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-warm-cli-'));
  const nb = notebook(dir);
  const env = { CELLPIPE_PYTHON: python, CELLPIPE_STORE: path.join(dir, 'store') };
  const r = await kit.cellpipe(['run', nb], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /warm start: forked from the fork server/);
  const [server] = await serverPids(env.CELLPIPE_STORE);
  assert.ok(server, 'the run used a fork server');
  await eventually(() => !pidExists(server), 'the server has exited with the CLI');

  // Killed: nothing runs its exit handlers; the server notices its stdin closing.
  const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-warm-kill-'));
  const store2 = path.join(dir2, 'store');
  const cli = spawn(process.execPath, [kit.BIN, 'run', notebook(dir2, 30)], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CELLPIPE_PYTHON: python, CELLPIPE_STORE: store2 }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  cli.stdout.on('data', (d) => (out += d));
  await eventually(() => /\[two\] ── running/.test(out), 'step two runs', 30_000);
  const [server2] = await serverPids(store2);
  assert.ok(server2 && pidExists(server2));
  cli.kill('SIGKILL');
  await eventually(() => !pidExists(server2), 'the server has exited after its CLI was killed');
  // The orphaned step itself is cleaned up as a cold one is: when the store next reads the interrupted run.
  const again = await kit.cellpipe(['runs', '--store', store2], {});
  assert.equal(again.code, 0, again.stderr);
  const runs = new RunStore(store2);
  const [rec] = await runs.list();
  runs.close();
  const two = rec.steps.find((s) => s.name === 'two')!;
  assert.equal(two.start, 'warm');
  assert.ok(two.pid && !groupAlive(two.pid), 'the killed run\'s warm step is stopped as a cold one would be');
});

test('while the fork server runs the imports cells the pending step says so, with since when; once started the note is gone', async () => {
  const { root, runtime } = setup();
  const seen: { what: string; since: string; state: string }[] = [];
  runtime.on('change', (r) => r.steps.forEach((s) => s.preparing && seen.push({ ...s.preparing, state: s.state })));
  const rec = await runtime.wait(await runtime.submit(handBuiltRequest([{ name: 's', code: 'print("step ran")' }], {
    prelude: 'import time, json\nfrom collections import Counter\ntime.sleep(1.5)', workdir: root, cache: false,
  })));
  assert.equal(rec.state, 'succeeded');
  assert.ok(seen.length > 0, 'the step said what it waits for');
  assert.deepEqual(seen[0].what, 'running the imports cells: time, json, collections');
  assert.equal(seen[0].state, 'pending');
  assert.ok(Date.parse(seen[0].since) <= Date.parse(rec.steps[0].startedAt!), 'since before the step started');
  assert.equal(rec.steps[0].preparing, undefined, 'gone once the step runs');
  assert.equal(rec.steps[0].start, 'warm');
  const logs = await logLines(runtime, rec.id, 's');
  assert.ok(logs.includes('running the imports cells: time, json, collections in the fork server…'), logs.join('\n'));
  runtime.warmStarts!.stopAll();
});

test('the imports note names the top-level modules of the imports cells, four at most', () => {
  const program = (source: string) => ({ cells: [{ index: 0, role: 'imports', source }, { index: 1, role: 'step', source: 'import os' }] }) as never;
  assert.equal(importsNote(program('import pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\nimport numpy, os.path')), 'running the imports cells: pandas, sklearn, numpy, os');
  assert.equal(importsNote(program('import a\nimport b\nimport c\nimport d\nimport e')), 'running the imports cells: a, b, c, d, …');
  assert.equal(importsNote(program('x = 1')), 'running the imports cells');
});
