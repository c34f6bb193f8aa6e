/**
 * A step's log keeps the order the step wrote it in: stdout, stderr and the runtime's own `[cellpipe]` lines, read
 * by a busy backend (its event loop blocked now and then, so both pipes have lines waiting when it reads again).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../../runs/store.js';
import { LocalRuntime } from './runtime.js';
import { handBuiltRequest } from './testkit.js';
import { STDERR_MARK, demuxStdoutLine } from './ordered-log.js';

test('a stdout line gives back its stderr line after the mark, and the stdout text written before it', () => {
  assert.deepEqual(demuxStdoutLine('loaded 90 days'), [{ stream: 'stdout', text: 'loaded 90 days' }]);
  assert.deepEqual(demuxStdoutLine(`${STDERR_MARK}[cellpipe] step load: done`), [{ stream: 'stderr', text: '[cellpipe] step load: done' }]);
  assert.deepEqual(demuxStdoutLine(`progress 3/4${STDERR_MARK}warning: slow`), [
    { stream: 'stdout', text: 'progress 3/4' },
    { stream: 'stderr', text: 'warning: slow' },
  ]);
  assert.deepEqual(demuxStdoutLine(STDERR_MARK), [{ stream: 'stderr', text: '' }]);
});

/** Blocks this process's event loop for `ms` every `every` ms, as a loaded backend does, until stopped. */
function busyLoop(ms: number, every: number): () => void {
  const timer = setInterval(() => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  }, every);
  return () => clearInterval(timer);
}

// The step alternates stdout and stderr lines, numbered, with stderr lines of every kind Python writes there.
const INTERLEAVED = [
  'import sys, warnings',
  'for i in range(1500):',
  '    print("out", i)',
  '    if i % 3 == 0:',
  '        sys.stderr.write("err %d\\n" % i)',
  '    elif i % 3 == 1:',
  '        print("err", i, file=sys.stderr)',
  '    else:',
  '        warnings.warn("err %d" % i, stacklevel=1)',
  'print("loaded 90 days")',
  'rows = 90',
].join('\n');

for (const warm of [false, true]) {
  test(`a ${warm ? 'warm' : 'cold'} step's lines reach the store in the order written, the runtime's own last`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-ordered-'));
    const store = new RunStore(path.join(root, '.cellpipe'));
    const runtime = new LocalRuntime({ store, concurrency: 2, killGraceMs: 1000, ...(warm ? {} : { warm: false }) });
    const req = handBuiltRequest(
      [
        { name: 'load', code: `import warnings\nwarnings.simplefilter("always")\n${INTERLEAVED}`, outputs: ['rows'] },
        { name: 'use', code: 'print(rows)', inputs: { rows: 'load' } },
      ],
      { workdir: root, cache: false, prelude: 'import json' },
    );
    const stop = busyLoop(40, 50);
    let rec;
    try {
      rec = await runtime.wait(await runtime.submit(req));
    } finally {
      stop();
    }
    assert.equal(rec.state, 'succeeded');
    assert.equal(rec.steps.find((s) => s.name === 'load')?.start, warm ? 'warm' : 'cold');
    const lines: { stream: string; text: string }[] = [];
    for await (const l of runtime.logs(rec.id, 'load')) if (l.stream !== 'system') lines.push(l);
    // Each numbered line, stdout and stderr, in the step's order; a warning is two lines (where, then the text).
    const numbered = lines
      .map((l) => ({ stream: l.stream, m: /^(?:.*UserWarning: )?(out|err) (\d+)$/.exec(l.text) }))
      .filter((x) => x.m)
      .map((x) => `${x.stream}:${x.m![1]} ${x.m![2]}`);
    const expected: string[] = [];
    for (let i = 0; i < 1500; i++) expected.push(`stdout:out ${i}`, `stderr:err ${i}`);
    const firstWrong = numbered.findIndex((l, k) => l !== expected[k]);
    assert.equal(firstWrong, -1, `line ${firstWrong}: ${numbered[firstWrong]}, expected ${expected[firstWrong]}`);
    assert.equal(numbered.length, expected.length);
    const loaded = lines.findIndex((l) => l.text === 'loaded 90 days');
    const done = lines.findIndex((l) => /^\[cellpipe\] step load: done/.test(l.text));
    assert.ok(loaded >= 0 && done > loaded, `'loaded 90 days' (line ${loaded}) before the runtime's done (line ${done})`);
    assert.equal(lines[done].stream, 'stderr');
    assert.ok(!lines.some((l) => l.text.includes('\x1e')), 'no mark left in a stored line');
  });
}
