/**
 * The local runtime against real step processes (`python3 -m cellpipe_runtime`), with hand-built pipelines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../../runs/store.js';
import { groupAlive, pidExists } from '../../runs/process.js';
import { LocalRuntime, cancelRun } from './runtime.js';
import { handBuiltRequest, type StepSpec } from './testkit.js';
import type { RunRecord } from '../../runs/types.js';

function setup(opts: { concurrency?: number; killGraceMs?: number } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-local-'));
  const store = new RunStore(path.join(root, '.cellpipe'));
  const runtime = new LocalRuntime({ store, concurrency: opts.concurrency ?? 4, killGraceMs: opts.killGraceMs ?? 1000 });
  return { root, store, runtime };
}

/** The step's log lines; only what the step's own code printed to stdout unless `all`. */
async function logText(runtime: LocalRuntime, runId: string, step: string, all = false): Promise<string[]> {
  const out: string[] = [];
  for await (const l of runtime.logs(runId, step)) if (all || l.stream === 'stdout') out.push(l.text);
  return out;
}

function step(rec: RunRecord, name: string) {
  const s = rec.steps.find((x) => x.name === name);
  assert.ok(s, `step ${name} in record`);
  return s;
}

test('a diamond runs its independent branches in parallel and wires data between steps', async () => {
  const { root, runtime } = setup();
  const req = handBuiltRequest(
    [
      { name: 'start', code: 'x = N * 2\nprint("start", x)', outputs: ['x'], parameters: ['N'] },
      { name: 'left', code: 'import time; time.sleep(0.8)\nl = x + 1', inputs: { x: 'start' }, outputs: ['l'] },
      { name: 'right', code: 'import time; time.sleep(0.8)\nr = x * 10', inputs: { x: 'start' }, outputs: ['r'] },
      { name: 'join', code: 'total = l + r\nprint("total", total)', inputs: { l: 'left', r: 'right' }, metrics: ['total'] },
    ],
    { parameters: [{ name: 'N', type: 'int', default: 3 }], values: { N: 5 }, workdir: root },
  );
  const id = await runtime.submit(req);
  const queued = await runtime.status(id);
  assert.ok(['queued', 'running'].includes(queued.state), 'submit returns before the run ends');
  const rec = await runtime.wait(id);
  assert.equal(rec.state, 'succeeded', JSON.stringify(rec, null, 1));
  assert.deepEqual(rec.parameters, { N: 5 });
  assert.deepEqual(await logText(runtime, id, 'join'), ['total 111']);
  assert.deepEqual(step(rec, 'join').metrics, { total: 111 });
  const l = step(rec, 'left');
  const r = step(rec, 'right');
  assert.ok(l.startedAt! < r.finishedAt! && r.startedAt! < l.finishedAt!, 'left and right overlapped in time');
  const x = step(rec, 'start').outputs.find((o) => o.name === 'x')!;
  assert.ok(x.bytes > 0 && /^[0-9a-f]{64}$/.test(x.sha256!), 'outputs are recorded with size and hash');
  assert.ok(x.path!.startsWith(runtime.store.runDir(id)), 'artifacts live under the run folder');
});

test('a failing step fails its downstream steps as skipped, while an independent branch finishes', async () => {
  const { root, runtime } = setup();
  const req = handBuiltRequest(
    [
      { name: 'bad', code: 'a = 1\nb = a / 0', outputs: ['b'] },
      { name: 'after-bad', code: 'print(b)', inputs: { b: 'bad' } },
      { name: 'fine', code: 'import time; time.sleep(0.3)\nprint("fine done")' },
    ],
    { workdir: root },
  );
  const rec = await runtime.wait(await runtime.submit(req));
  assert.equal(rec.state, 'failed');
  assert.match(rec.reason!, /'bad'/);
  const bad = step(rec, 'bad');
  assert.equal(bad.state, 'failed');
  assert.equal(bad.exitCode, 1);
  assert.equal(bad.error?.type, 'ZeroDivisionError');
  assert.equal(bad.error?.cell, 1, 'the error names the notebook cell');
  assert.equal(step(rec, 'after-bad').state, 'skipped');
  assert.equal(step(rec, 'fine').state, 'succeeded');
  assert.ok((await logText(runtime, rec.id, 'bad', true)).some((t) => t.includes('ZeroDivisionError')), 'the traceback is in the log');
});

test('a step over its timeout is stopped with its whole process group and reported as timed out', async () => {
  const { root, runtime } = setup({ killGraceMs: 500 });
  const req = handBuiltRequest(
    [
      {
        name: 'slow',
        code: 'import subprocess, time\np = subprocess.Popen(["sleep", "60"])\nprint("child", p.pid, flush=True)\ntime.sleep(60)',
        timeout: 1,
      },
    ],
    { workdir: root },
  );
  const t0 = Date.now();
  const rec = await runtime.wait(await runtime.submit(req));
  const took = Date.now() - t0;
  assert.equal(rec.state, 'failed');
  assert.match(step(rec, 'slow').error!.message, /timed out after 1 s/);
  assert.ok(took < 10_000, `stopped promptly (${took} ms)`);
  const childLine = (await logText(runtime, rec.id, 'slow')).find((t) => t.startsWith('child '));
  assert.ok(childLine, 'the step started its child');
  const childPid = Number(childLine.split(' ')[1]);
  assert.equal(pidExists(childPid), false, 'the grandchild process was stopped too (no orphan)');
});

test('retries run a failing step again until an attempt succeeds', async () => {
  const { root, runtime } = setup();
  const req = handBuiltRequest(
    [
      {
        name: 'flaky',
        code: [
          'import os',
          'n = int(open("count").read()) if os.path.exists("count") else 0',
          'open("count", "w").write(str(n + 1))',
          'if n < 2:',
          '    raise RuntimeError(f"flaky attempt {n + 1}")',
          'result = n',
        ].join('\n'),
        outputs: ['result'],
        retries: 3,
      },
      { name: 'use', code: 'print("got", result)', inputs: { result: 'flaky' } },
    ],
    { workdir: root },
  );
  const rec = await runtime.wait(await runtime.submit(req));
  assert.equal(rec.state, 'succeeded');
  assert.equal(step(rec, 'flaky').attempts, 3);
  assert.equal(step(rec, 'flaky').error, undefined, 'the error of an earlier attempt is cleared on success');
  assert.deepEqual(await logText(runtime, rec.id, 'use'), ['got 2']);
  const log = await logText(runtime, rec.id, 'flaky', true);
  assert.equal(log.filter((t) => /attempt \d failed: .*flaky attempt/.test(t)).length, 2);

  // Without enough retries the step fails after retries + 1 attempts.
  fs.rmSync(path.join(root, 'count'));
  const req2 = handBuiltRequest([{ name: 'flaky', code: 'raise ValueError("always")', retries: 1 }], { workdir: root });
  const rec2 = await runtime.wait(await runtime.submit(req2));
  assert.equal(step(rec2, 'flaky').state, 'failed');
  assert.equal(step(rec2, 'flaky').attempts, 2);
  assert.equal(step(rec2, 'flaky').error?.type, 'ValueError');
});

test('cancel stops running steps (whole process groups), cancels pending ones, and leaves no process behind', async () => {
  const { root, runtime } = setup({ killGraceMs: 500 });
  const req = handBuiltRequest(
    [
      {
        name: 'long',
        code: 'import subprocess, time\np = subprocess.Popen(["sleep", "60"])\nprint("child", p.pid, flush=True)\ntime.sleep(60)\nv = 1',
        outputs: ['v'],
      },
      { name: 'later', code: 'print(v)', inputs: { v: 'long' } },
    ],
    { workdir: root },
  );
  const id = await runtime.submit(req);
  let childPid = 0;
  for await (const l of runtime.logs(id, 'long', { follow: true })) {
    if (l.text.startsWith('child ')) {
      childPid = Number(l.text.split(' ')[1]);
      break;
    }
  }
  const stepPid = (await runtime.status(id)).steps[0].pid!;
  assert.ok(pidExists(childPid) && pidExists(stepPid));
  await runtime.cancel(id);
  const rec = await runtime.status(id);
  assert.equal(rec.state, 'cancelled');
  assert.equal(step(rec, 'long').state, 'cancelled');
  assert.equal(step(rec, 'later').state, 'cancelled');
  assert.equal(pidExists(childPid), false, 'grandchild gone');
  assert.equal(groupAlive(stepPid), false, 'process group gone');
});

test('cancelRun from another store instance stops a run whose runner ignores it, via the recorded process groups', async () => {
  const { root, store, runtime } = setup({ killGraceMs: 300 });
  const id = await runtime.submit(handBuiltRequest([{ name: 'long', code: 'import time\nprint("up", flush=True)\ntime.sleep(60)' }], { workdir: root }));
  for await (const l of runtime.logs(id, 'long', { follow: true })) if (l.text === 'up') break;
  const other = new RunStore(store.dir);
  const rec = await cancelRun(other, id, { graceMs: 300 });
  assert.equal(rec.state, 'cancelled');
  const final = await runtime.wait(id);
  assert.equal(final.state, 'cancelled');
});

test('a step that reads a data file is cached while the file is unchanged and runs again when it changes', async () => {
  const { root, runtime } = setup();
  fs.writeFileSync(path.join(root, 'data.txt'), 'first');
  const request = () => {
    const req = handBuiltRequest([{ name: 'load', code: 'text = open("data.txt").read()\nprint(text)' }], { workdir: root });
    req.graph.steps[0].files = [{ path: 'data.txt', reader: 'open', cell: 0, line: 1, status: 'travels' }];
    return req;
  };
  const first = await runtime.wait(await runtime.submit(request()));
  assert.equal(step(first, 'load').state, 'succeeded');
  const second = await runtime.wait(await runtime.submit(request()));
  assert.equal(step(second, 'load').state, 'cached', 'the same file: the same result');
  fs.writeFileSync(path.join(root, 'data.txt'), 'second');
  const third = await runtime.wait(await runtime.submit(request()));
  assert.equal(step(third, 'load').state, 'succeeded', 'a changed file re-runs the step, as a rebuilt image would');
  assert.deepEqual(await logText(runtime, third.id, 'load'), ['second']);
});

test('an unchanged step is cached, a changed parameter re-runs what reads it, and cache: false always runs', async () => {
  const { root, runtime } = setup();
  const steps: StepSpec[] = [
    { name: 'load', code: 'import time; time.sleep(0.2)\ndata = list(range(10))\nprint("loaded")', outputs: ['data'] },
    { name: 'scale', code: 'scaled = [d * K for d in data]\ntotal = sum(scaled)', inputs: { data: 'load' }, outputs: ['scaled'], parameters: ['K'], metrics: ['total'] },
    { name: 'report', code: 'print("n", len(scaled))', inputs: { scaled: 'scale' } },
  ];
  const params = [{ name: 'K', type: 'int' as const, default: 2 }];
  const first = await runtime.wait(await runtime.submit(handBuiltRequest(steps, { parameters: params, workdir: root })));
  assert.deepEqual(first.steps.map((s) => s.state), ['succeeded', 'succeeded', 'succeeded']);

  const t0 = Date.now();
  const second = await runtime.wait(await runtime.submit(handBuiltRequest(steps, { parameters: params, workdir: root })));
  const cachedMs = Date.now() - t0;
  assert.deepEqual(second.steps.map((s) => s.state), ['cached', 'cached', 'cached']);
  assert.equal(step(second, 'load').cachedFrom, first.id);
  assert.deepEqual(step(second, 'scale').metrics, { total: 90 }, 'metrics come with the cached step');
  assert.deepEqual(await logText(runtime, second.id, 'load'), ['loaded'], 'a cached step shows the log of the run it reused');
  assert.match((await logText(runtime, second.id, 'load', true))[0], new RegExp(`cached: reusing the outputs of run ${first.id}`));
  assert.ok(cachedMs < 2000, `a fully cached run is quick (${cachedMs} ms; bench/local-runs.mjs measures it properly)`);

  // K changes: load stays cached, scale re-runs; report's input is a new list of the same length but other
  // content, so it re-runs too.
  const third = await runtime.wait(await runtime.submit(handBuiltRequest(steps, { parameters: params, values: { K: 3 }, workdir: root })));
  assert.deepEqual(third.steps.map((s) => s.state), ['cached', 'succeeded', 'succeeded']);
  assert.deepEqual(step(third, 'scale').metrics, { total: 135 });

  const fourth = await runtime.wait(await runtime.submit(handBuiltRequest(steps, { parameters: params, workdir: root, cache: false })));
  assert.deepEqual(fourth.steps.map((s) => s.state), ['succeeded', 'succeeded', 'succeeded'], '--no-cache runs everything');

  const noCacheStep = steps.map((s) => (s.name === 'load' ? { ...s, cache: false } : s));
  const fifth = await runtime.wait(await runtime.submit(handBuiltRequest(noCacheStep, { parameters: params, workdir: root })));
  assert.equal(step(fifth, 'load').state, 'succeeded', 'a step tagged cache:disabled always runs');
  assert.equal(step(fifth, 'scale').state, 'cached', 'same input content: downstream still cached');
});

test('a run asking for concurrency 1 runs its independent branches one after the other', async () => {
  const { root, runtime } = setup({ concurrency: 4 });
  const req = handBuiltRequest(
    [
      { name: 'left', code: 'import time; time.sleep(0.4)\nl = 1', outputs: ['l'] },
      { name: 'right', code: 'import time; time.sleep(0.4)\nr = 2', outputs: ['r'] },
    ],
    { workdir: root, cache: false },
  );
  const rec = await runtime.wait(await runtime.submit({ ...req, concurrency: 1 }));
  assert.equal(rec.state, 'succeeded');
  const [first, second] = [step(rec, 'left'), step(rec, 'right')].sort((a, b) => (a.startedAt! < b.startedAt! ? -1 : 1));
  assert.ok(first.finishedAt! <= second.startedAt!, `no overlap: ${JSON.stringify([first, second].map((s) => [s.startedAt, s.finishedAt]))}`);
});

test('two runs at once in one store both finish, each with its own record, logs and artifacts', async () => {
  const { root, runtime } = setup({ concurrency: 2 });
  const mk = (tag: string) =>
    handBuiltRequest(
      [
        { name: 'a', code: `import time; time.sleep(0.3)\nv = "${tag}"`, outputs: ['v'] },
        { name: 'b', code: 'print("value", v)', inputs: { v: 'a' } },
      ],
      { workdir: root, cache: false },
    );
  const [id1, id2] = await Promise.all([runtime.submit(mk('one')), runtime.submit(mk('two'))]);
  assert.notEqual(id1, id2);
  const [r1, r2] = await Promise.all([runtime.wait(id1), runtime.wait(id2)]);
  assert.equal(r1.state, 'succeeded');
  assert.equal(r2.state, 'succeeded');
  assert.deepEqual(await logText(runtime, id1, 'b'), ['value one']);
  assert.deepEqual(await logText(runtime, id2, 'b'), ['value two']);
  assert.deepEqual((await runtime.store.list()).map((r) => r.id).sort(), [id1, id2].sort());
});

test('a missing interpreter fails the step with a message saying what to set', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-local-'));
  const runtime = new LocalRuntime({ store: new RunStore(path.join(root, '.cellpipe')), python: '/nonexistent/python3' });
  const rec = await runtime.wait(await runtime.submit(handBuiltRequest([{ name: 'a', code: 'pass' }], { workdir: root })));
  assert.equal(rec.state, 'failed');
  assert.match(step(rec, 'a').error!.message, /CELLPIPE_PYTHON/);
});

test('a step killed by a signal says so and who may have sent it, not the runtime banner', async () => {
  const { root, runtime } = setup();
  const req = handBuiltRequest(
    [{ name: 'slow', code: 'import os, signal, sys\nprint("working", file=sys.stderr, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)' }],
    { workdir: root },
  );
  const rec = await runtime.wait(await runtime.submit(req));
  assert.equal(rec.state, 'failed');
  const message = step(rec, 'slow').error!.message;
  assert.match(message, /^step 'slow' was killed by SIGKILL \(sent from outside the step: most often the memory limit — the kernel's OOM killer .*, else a user's `kill -9`, or a cancel/, message);
  assert.doesNotMatch(message, /\[cellpipe\]|exited with code/);
});

test('exit messages: a signal or a shell-style 128+N code names the signal; the runtime banner is never the error', async () => {
  const { exitMessage } = await import('./runtime.js');
  assert.match(exitMessage('s', { exitCode: 137 }), /^step 's' was killed by SIGKILL \(/);
  assert.match(exitMessage('s', { signal: 'SIGTERM' }), /was killed by SIGTERM \(asked to stop from outside the step: a cancel/);
  assert.equal(exitMessage('s', { exitCode: 3, lastStderr: '[cellpipe] step s: 0 parameters' }), "step 's' exited with code 3");
  assert.equal(exitMessage('s', { exitCode: 3, lastStderr: 'Segmentation fault in libfoo' }), "step 's' exited with code 3: Segmentation fault in libfoo");
});
