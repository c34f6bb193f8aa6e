import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunStore, newRunId, pendingStep, storeDirFor } from './store.js';
import { currentRunner, processStartTime } from './process.js';
import type { LogLine, RunRecord } from './types.js';

const storeModule = fileURLToPath(new URL('./store.js', import.meta.url));

function tmpStore(): RunStore {
  return new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-store-')));
}

function record(id: string, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    id,
    notebook: 'nb.ipynb',
    notebookHash: 'n',
    specHash: 's',
    runtime: 'local',
    parameters: { A: 1 },
    state: 'queued',
    createdAt: new Date().toISOString(),
    steps: [pendingStep('a'), pendingStep('b')],
    ...extra,
  };
}

function line(text: string): LogLine {
  return { time: new Date().toISOString(), stream: 'stdout', text };
}

test('storeDirFor puts the store next to the notebook unless CELLPIPE_STORE says otherwise', () => {
  const saved = process.env.CELLPIPE_STORE;
  delete process.env.CELLPIPE_STORE;
  assert.equal(storeDirFor('/data/proj/nb.ipynb'), '/data/proj/.cellpipe');
  process.env.CELLPIPE_STORE = '/elsewhere/store';
  assert.equal(storeDirFor('/data/proj/nb.ipynb'), '/elsewhere/store');
  if (saved === undefined) delete process.env.CELLPIPE_STORE;
  else process.env.CELLPIPE_STORE = saved;
});

test('a run record is created, patched per run and per step, and read back by a fresh store', async () => {
  const store = tmpStore();
  const id = newRunId();
  await store.create(record(id));
  await store.update(id, { state: 'running', startedAt: '2026-01-01T00:00:00.000Z' });
  await store.updateStep(id, 'a', { state: 'failed', attempts: 1, error: { message: 'boom', line: 3 } });
  let rec = await store.updateStep(id, 'a', { state: 'running', error: undefined });
  assert.equal(rec.steps[0].state, 'running');
  assert.equal(rec.steps[0].error, undefined, 'a field patched to undefined is removed');
  assert.equal(rec.steps[0].attempts, 1);
  rec = await store.updateStep(id, 'new-step', { state: 'skipped' });
  assert.deepEqual(rec.steps.map((s) => s.name), ['a', 'b', 'new-step']);

  const fresh = new RunStore(store.dir);
  const again = await fresh.get(id);
  assert.deepEqual(again, rec);
  assert.equal(await fresh.get('no-such-run'), undefined);
  assert.equal(await fresh.get('../escape'), undefined);
  store.close();
});

test('a whole record handed to update (as the Kubeflow runtime does once KFP has the run) keeps the record readable', async () => {
  const store = tmpStore();
  const id = newRunId();
  const made = record(id);
  await store.create(made);
  await store.update(id, { ...made, state: 'running', stage: 'run' });
  const fresh = new RunStore(store.dir);
  const rec = await fresh.get(id);
  assert.equal(rec?.state, 'running', 'not refused as a run change that replaces id, notebook or steps');
  assert.deepEqual(rec?.steps.map((s) => s.name), ['a', 'b']);
  fresh.close();
  store.close();
});

test('list returns runs newest first and filters by notebook', async () => {
  const store = tmpStore();
  await store.create(record('r1', { createdAt: '2026-01-01T00:00:00.000Z' }));
  await store.create(record('r2', { createdAt: '2026-01-02T00:00:00.000Z', notebook: 'other.ipynb' }));
  await store.create(record('r3', { createdAt: '2026-01-03T00:00:00.000Z' }));
  assert.deepEqual((await store.list()).map((r) => r.id), ['r3', 'r2', 'r1']);
  assert.deepEqual((await store.list({ notebook: 'nb.ipynb' })).map((r) => r.id), ['r3', 'r1']);
  assert.deepEqual(await new RunStore(path.join(store.dir, 'empty')).list(), []);
  await assert.rejects(store.create(record('r1')), /EEXIST/, 'a run id is never created twice');
});

test('log lines are read back in order, from a given line, and a follower sees lines as they arrive', async () => {
  const store = tmpStore();
  const id = newRunId();
  await store.create(record(id, { state: 'running' }));
  await store.updateStep(id, 'a', { state: 'running' });
  for (let i = 0; i < 5; i++) await store.appendLog(id, 'a', line(`line ${i}`));
  const all: string[] = [];
  for await (const l of store.readLogs(id, 'a')) all.push(l.text);
  assert.deepEqual(all, ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  const tail: string[] = [];
  for await (const l of store.readLogs(id, 'a', { fromLine: 3 })) tail.push(l.text);
  assert.deepEqual(tail, ['line 3', 'line 4']);

  // A follower in this process while a writer in the same store keeps going, then ends the step.
  const followed: string[] = [];
  const follower = (async () => {
    for await (const l of new RunStore(store.dir).readLogs(id, 'a', { fromLine: 4, follow: true })) followed.push(l.text);
  })();
  await new Promise((r) => setTimeout(r, 150));
  await store.appendLog(id, 'a', line('late 1'));
  await new Promise((r) => setTimeout(r, 150));
  await store.appendLog(id, 'a', line('late 2'));
  await store.updateStep(id, 'a', { state: 'succeeded' });
  await follower;
  assert.deepEqual(followed, ['line 4', 'late 1', 'late 2']);

  // Following a step whose log does not exist yet, stopped by an abort signal.
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const none: LogLine[] = [];
  for await (const l of store.readLogs(id, 'b', { follow: true, signal: ac.signal })) none.push(l);
  assert.deepEqual(none, []);
  store.close();
});

test('watch yields each change until the run ends', async () => {
  const store = tmpStore();
  const id = newRunId();
  await store.create(record(id));
  const states: string[] = [];
  const watcher = (async () => {
    for await (const r of new RunStore(store.dir).watch(id)) states.push(r.state);
  })();
  await new Promise((r) => setTimeout(r, 150));
  await store.update(id, { state: 'running' });
  await new Promise((r) => setTimeout(r, 250));
  await store.update(id, { state: 'succeeded' });
  await watcher;
  assert.equal(states[0], 'queued');
  assert.equal(states.at(-1), 'succeeded');
  assert.ok(states.includes('running'));
});

test('writers in several processes at once never lose or tear a line', async () => {
  const store = tmpStore();
  const id = newRunId();
  await store.create(record(id, { state: 'running', runner: currentRunner() }));
  const script = `
    const { RunStore } = await import(${JSON.stringify(storeModule)});
    const s = new RunStore(process.argv[1]);
    const who = process.argv[2];
    for (let i = 0; i < 200; i++) {
      await s.appendLog(process.argv[3], 'a', { time: new Date().toISOString(), stream: 'stdout', text: who + ' ' + i + ' ' + 'x'.repeat(300) });
      if (i % 20 === 0) await s.updateStep(process.argv[3], 'step-' + who, { state: 'running', attempts: i });
    }
    s.close();`;
  const children = ['p1', 'p2', 'p3'].map(
    (who) =>
      new Promise<number>((resolve) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', script, store.dir, who, id], { stdio: 'inherit' });
        c.on('exit', (code) => resolve(code ?? -1));
      }),
  );
  assert.deepEqual(await Promise.all(children), [0, 0, 0]);
  const seen = new Map<string, number>();
  for await (const l of store.readLogs(id, 'a')) {
    const [who, i] = l.text.split(' ');
    assert.equal(Number(i), seen.get(who) ?? 0, `lines of ${who} arrive in order`);
    seen.set(who, Number(i) + 1);
  }
  assert.deepEqual([...seen.entries()].sort(), [['p1', 200], ['p2', 200], ['p3', 200]]);
  const rec = (await store.get(id))!;
  for (const who of ['p1', 'p2', 'p3']) assert.equal(rec.steps.find((s) => s.name === `step-${who}`)?.attempts, 180);
});

test('a run whose runner was killed is marked interrupted, its step processes stopped, its logs kept', async () => {
  const store = tmpStore();
  const id = newRunId();
  // A stand-in runner process and a step process group it started, then the runner dies by SIGKILL.
  const runner = spawn('sleep', ['30']);
  const stepProc = spawn('sleep', ['30'], { detached: true });
  await new Promise((r) => setTimeout(r, 50));
  await store.create(
    record(id, { state: 'running', runner: { pid: runner.pid!, host: os.hostname(), startTime: processStartTime(runner.pid!) } }),
  );
  await store.updateStep(id, 'a', { state: 'running', pid: stepProc.pid, pidStart: processStartTime(stepProc.pid!) });
  await store.appendLog(id, 'a', line('written before the crash'));
  const before = await new RunStore(store.dir).get(id);
  assert.equal(before?.state, 'running', 'a live runner keeps its run running');

  const exited = new Promise((r) => runner.on('exit', r));
  runner.kill('SIGKILL');
  await exited;
  const stepExit = new Promise((r) => stepProc.on('exit', r));
  const rec = (await new RunStore(store.dir).get(id))!;
  assert.equal(rec.state, 'failed');
  assert.equal(rec.reason, 'interrupted');
  assert.equal(rec.steps[0].state, 'failed');
  assert.match(rec.steps[0].error!.message, /interrupted/);
  assert.equal(rec.steps[1].state, 'skipped');
  await stepExit; // the orphaned step process was killed
  const logs: string[] = [];
  for await (const l of store.readLogs(id, 'a')) logs.push(l.text);
  assert.deepEqual(logs, ['written before the crash']);
});

test('a torn last line (power cut mid-write) is skipped and the rest of the record kept', async () => {
  const store = tmpStore();
  const id = newRunId();
  await store.create(record(id));
  await store.update(id, { state: 'running' });
  fs.appendFileSync(path.join(store.runDir(id), 'run.jsonl'), '{"t":"run","set":{"sta\n');
  const rec = await new RunStore(store.dir).get(id);
  assert.equal(rec?.state, 'running');
  assert.equal(execFileSync('wc', ['-l', path.join(store.runDir(id), 'run.jsonl')], { encoding: 'utf8' }).trim().split(' ')[0], '3');
});

test('a damaged record is listed as damaged with its file and line; the other runs list as usual', async () => {
  const store = tmpStore();
  await store.create(record('good', { createdAt: '2026-01-05T00:00:00.000Z' }));
  const damage: Record<string, { text?: string; line?: number; problem: RegExp }> = {
    'null-line': { text: 'create\nnull\n', line: 2, problem: /null, not a record change/ },
    'no-notebook': { text: JSON.stringify({ t: 'create', record: { ...record('no-notebook'), notebook: undefined } }) + '\n', line: 1, problem: /no 'notebook'/ },
    'steps-not-list': { text: JSON.stringify({ t: 'create', record: { ...record('steps-not-list'), steps: 'a,b' } }) + '\n', line: 1, problem: /'steps' is not a list/ },
    'truncated-create': { text: JSON.stringify({ t: 'create', record: record('truncated-create') }).slice(0, 60) + '\n', line: 1, problem: /create line is not valid JSON/ },
    'empty-object': { text: 'create\n{}\n', line: 2, problem: /unknown kind of line null/ },
    'a-folder': { problem: /is a folder/ },
  };
  for (const [id, d] of Object.entries(damage)) {
    const file = path.join(store.dir, 'runs', id, 'run.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (d.text === undefined) fs.mkdirSync(file);
    else fs.writeFileSync(file, d.text.replace(/^create\n/, JSON.stringify({ t: 'create', record: record(id) }) + '\n'));
  }
  const fresh = new RunStore(store.dir);
  const { runs, damaged } = await fresh.scan({ notebook: 'nb.ipynb' });
  // The runs whose create line was readable count as the notebook's; the others may be anyone's: all are shown.
  assert.deepEqual(runs.map((r) => r.id), ['good']);
  assert.deepEqual(damaged.map((d) => d.id).sort(), Object.keys(damage).sort());
  for (const d of damaged) {
    assert.equal(d.file, path.join(store.dir, 'runs', d.id, 'run.jsonl'));
    assert.equal(d.line, damage[d.id].line, d.id);
    assert.match(d.problem, damage[d.id].problem, d.id);
  }
  assert.deepEqual((await fresh.list()).map((r) => r.id), ['good']);
  await assert.rejects(fresh.get('null-line'), (err: Error) => err.name === 'DamagedRunError' && /run\.jsonl line 2: the line is null/.test(err.message));
  // A damaged run is never written to as if it were whole.
  await assert.rejects(fresh.update('empty-object', { state: 'failed' }), /damaged/);
});

test('a run id longer than a file name can be is no run, and never reaches the file system', async () => {
  const store = tmpStore();
  assert.equal(await store.get('a'.repeat(5000)), undefined);
  assert.throws(() => store.runDir('a'.repeat(129)), /invalid run id/);
});

test('a step log keeps its head and its tail with a note of what was cut, and cuts overlong lines', async () => {
  const store = new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-store-')), { logLimits: { bytes: 20_000, lineChars: 100 } });
  const id = newRunId();
  await store.create(record(id, { state: 'running' }));
  await store.updateStep(id, 'a', { state: 'running' });
  const stored: boolean[] = [];
  for (let i = 0; i < 2000; i++) stored.push(store.appendLogSync(id, 'a', line(`line ${i} ${'.'.repeat(40)}`)));
  store.appendLogSync(id, 'a', line('y'.repeat(5000)));
  store.appendLogSync(id, 'a', line('the last line'));
  assert.equal(stored[0], true);
  assert.equal(stored[1999], false, 'past the head, lines wait for the end of the step');
  const during: string[] = [];
  for await (const l of store.readLogs(id, 'a')) during.push(l.text);
  assert.match(during.at(-1)!, /this step's log reached 9\.8 KiB: from here on only its last 9\.8 KiB are kept, written when the step ends .*CELLPIPE_LOG_LIMIT/);

  await store.updateStep(id, 'a', { state: 'succeeded' });
  const texts: string[] = [];
  for await (const l of store.readLogs(id, 'a')) texts.push(l.text);
  assert.ok(fs.statSync(store.logFile(id, 'a')).size < 20_000 + 1000, 'the log stays within its limit (and the notes)');
  assert.equal(texts[0], `line 0 ${'.'.repeat(40)}`, 'the head is kept');
  const cut = texts.findIndex((t) => /lines \(.*\) cut here/.test(t));
  assert.ok(cut > 0, texts.slice(0, 3).join('\n'));
  const cutLines = Number(/… (\d+) lines/.exec(texts[cut])![1]);
  const head = texts.slice(0, cut - 1).length;
  const tail = texts.length - cut - 1;
  assert.equal(head + cutLines + tail, 2002, 'every line is either kept or counted as cut');
  assert.equal(texts.at(-1), 'the last line', 'the tail is kept');
  assert.equal(texts.at(-2), `${'y'.repeat(100)} … [4900 characters cut: log lines are kept up to 100 characters (CELLPIPE_LOG_LINE_LIMIT)]`);
});
