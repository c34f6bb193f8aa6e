import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callingCell, editedSince, errorOutputOf, failingCell, mimeBundle, placeRunOutputs, printsShown, provenance, splitError, type StepOutputs } from './runOutputs.js';
import type { CellInfo } from './cells.js';

const code = (id: string): CellInfo => ({ id, type: 'code', tags: [] });
const md = (id: string): CellInfo => ({ id, type: 'markdown', tags: [] });

test('run outputs land under the cell that produced them, found by id after cells moved', () => {
  const steps: StepOutputs[] = [
    { step: 'plot', fromRun: 'r1', cells: { '1': { id: 'imports', outputs: [] }, '3': { id: 'plot', executionCount: 2, outputs: [{ output_type: 'display_data', data: { 'image/png': 'AAA' } }] } } },
    { step: 'table', fromRun: 'r0', cells: { '1': { id: 'imports', outputs: [] }, '4': { id: 'table', outputs: [{ output_type: 'execute_result', data: { 'text/plain': '3' } }] } } },
  ];
  // A markdown cell was inserted at the top since the run: every code cell moved down by one.
  const cells = [md('new'), md('intro'), code('imports'), md('x'), code('plot'), code('table')];
  const placed = placeRunOutputs(steps, cells);
  assert.deepEqual([...placed.keys()].sort(), [2, 4, 5]);
  assert.equal(placed.get(4)!.step, 'plot');
  assert.equal(placed.get(4)!.fromRun, 'r1');
  assert.equal(placed.get(5)!.fromRun, 'r0', 'a cached step shows the outputs of the run that executed it');
  // The imports cell ran in both steps: the first step in run order is shown.
  assert.equal(placed.get(2)!.step, 'plot');
});

test('each placed cell carries the code it ran, so an edit since is told', () => {
  const steps: StepOutputs[] = [{ step: 's', fromRun: 'r', sources: { '0': 'x = 1\nx' }, cells: { '0': { id: 'a', outputs: [] }, '1': { id: 'b', outputs: [] } } }];
  const placed = placeRunOutputs(steps, [code('a'), code('b')]);
  assert.equal(placed.get(0)!.source, 'x = 1\nx');
  assert.equal(placed.get(1)!.source, undefined);
  assert.equal(editedSince('x = 1\nx', 'x = 1\nx\n'), false, 'a trailing newline is no edit');
  assert.equal(editedSince('x = 1\nx', 'x = 2\nx'), true);
  assert.equal(editedSince(undefined, 'anything'), false, 'unknown: not claimed to be edited');
});

test('outputs of a cell that is no code cell any more are not placed', () => {
  const steps: StepOutputs[] = [{ step: 's', fromRun: 'r', cells: { '0': { outputs: [{ output_type: 'stream', name: 'stdout', text: 'hi' }] } } }];
  assert.equal(placeRunOutputs(steps, [md('a')]).size, 0);
});

test('the failing cell is found by the error\'s cell id, else its index', () => {
  const error = { message: 'division by zero', type: 'ZeroDivisionError', cell: 1, cellId: 'div', line: 2 };
  assert.equal(failingCell({ state: 'failed', error }, [code('a'), code('b'), code('div')]), 2);
  assert.equal(failingCell({ state: 'failed', error: { ...error, cellId: 'gone' } }, [code('a'), code('b')]), 1);
  assert.equal(failingCell({ state: 'succeeded', error }, [code('a'), code('b')]), undefined);
  assert.equal(failingCell({ state: 'failed', error: { message: 'x' } }, [code('a')]), undefined);
});

test("an error raised in a functions cell's function is also placed at the step's calling line", () => {
  // cell 2 (index 1) defines the function, the step's cell 4 (index 3, id 'train') calls it on its line 3.
  const error = { message: 'ValueError: bad C', cell: 1, cellId: 'funcs', line: 3, calledFrom: [{ cell: 3, cellId: 'train', line: 3 }] };
  const cells = [code('imports'), code('funcs'), code('load'), code('train')];
  assert.deepEqual(callingCell({ state: 'failed', error }, cells), { cell: 3, line: 3 });
  // A cell moved since the run is found by its id.
  assert.deepEqual(callingCell({ state: 'failed', error }, [code('new'), ...cells]), { cell: 4, line: 3 });
  assert.equal(callingCell({ state: 'failed', error: { ...error, calledFrom: undefined } }, cells), undefined, 'raised where it ran');
  assert.equal(callingCell({ state: 'succeeded', error }, cells), undefined);
});

test('an error reads as one short line, and its traceback does not repeat it', () => {
  const out = { output_type: 'error', ename: 'ZeroDivisionError', evalue: 'division by zero',
    traceback: ['Traceback (most recent call last):', '  File "cell 7", line 2, in <module>', '    share = total / parts', '\u001b[0;31mZeroDivisionError\u001b[0m: division by zero'] };
  const { head, traceback } = splitError(out);
  assert.equal(head, 'ZeroDivisionError: division by zero');
  assert.equal(traceback, 'Traceback (most recent call last):\n  File "cell 7", line 2, in <module>\n    share = total / parts');
  assert.equal(traceback.includes('division by zero'), false);
  // A message that already starts with its type is not prefixed twice.
  assert.equal(splitError({ output_type: 'error', ename: 'KeyError', evalue: "KeyError: 'x'", traceback: [] }).head, "KeyError: 'x'");
  // A long or multi-line message: its start in the line, the whole of it once, at the end of the traceback.
  const long = 'x'.repeat(300);
  const l = splitError({ output_type: 'error', ename: 'ValueError', evalue: long, traceback: ['Traceback (most recent call last):', `ValueError: ${long}`] });
  assert.ok(l.head.length <= 161 && l.head.endsWith('…') && l.head.startsWith('ValueError: xxx'));
  assert.equal(l.traceback, `Traceback (most recent call last):\nValueError: ${long}`);
  const multi = splitError({ output_type: 'error', ename: 'KeyError', evalue: 'first line\nsecond line', traceback: ['Traceback (most recent call last):', '  File "cell 2", line 1', 'KeyError: first line', 'second line'] });
  assert.equal(multi.head, 'KeyError: first line…');
  assert.equal(multi.traceback, 'Traceback (most recent call last):\n  File "cell 2", line 1\nKeyError: first line\nsecond line');
  // Made from a step's error record when the step recorded no outputs.
  const made = errorOutputOf({ message: 'boom', type: 'RuntimeError', traceback: 'Traceback…\nRuntimeError: boom\n' });
  assert.deepEqual(splitError(made), { head: 'RuntimeError: boom', traceback: 'Traceback…' });
});

test('streams and rich outputs render as the mime bundles JupyterLab renders', () => {
  assert.deepEqual(mimeBundle({ output_type: 'stream', name: 'stdout', text: ['a\n', 'b\n'] }), { 'application/vnd.jupyter.stdout': 'a\nb\n' });
  assert.deepEqual(mimeBundle({ output_type: 'stream', name: 'stderr', text: 'w' }), { 'application/vnd.jupyter.stderr': 'w' });
  assert.deepEqual(mimeBundle({ output_type: 'display_data', data: { 'text/html': ['<b>', '1</b>'], 'image/png': 'AAA' } }), { 'text/html': '<b>1</b>', 'image/png': 'AAA' });
  assert.equal(mimeBundle({ output_type: 'error' }), undefined);
});

test('the line above run outputs says which run, which step in which state, and whose outputs a cached step shows', () => {
  const step = { name: 'plot', state: 'succeeded' as const, startedAt: '2026-01-01T10:00:00Z', finishedAt: '2026-01-01T10:00:02Z' };
  const text = provenance({ id: 'r2' }, step, 'r2');
  assert.match(text, /^from run r2 · step plot succeeded · .+ · 2\.0 s$/);
  const cached = provenance({ id: 'r2' }, { ...step, state: 'cached' }, 'r1');
  assert.match(cached, /^from run r2 · step plot cached · outputs of run r1 · /);
  assert.doesNotMatch(cached, /2\.0 s/);
});

test('a step\'s prints count as shown under its cells only when its outputs kept all of them', () => {
  assert.equal(printsShown({}), 'none');
  assert.equal(printsShown({ '1': { outputs: [] } }), 'none');
  assert.equal(printsShown({ '1': { outputs: [] }, '2': { outputs: [{ output_type: 'stream', name: 'stdout', text: 'made 4 points\n' }] } }), 'all');
  // The step runtime's notes when a size limit cut a stream or stopped the outputs: the log holds the rest.
  assert.equal(printsShown({ '2': { outputs: [{ output_type: 'stream', name: 'stdout', text: 'line 1\n' }, { output_type: 'stream', name: 'stderr', text: '[cellpipe] stdout was cut here: it is over the 1.0 MB limit\n' }] } }), 'part');
  assert.equal(printsShown({ '2': { outputs: [{ output_type: 'stream', name: 'stderr', text: ["[cellpipe] the step's outputs reached the 10 MB limit: later outputs are not kept\n"] }] } }), 'part');
  // A user's own stderr line that mentions a limit is no note.
  assert.equal(printsShown({ '2': { outputs: [{ output_type: 'stream', name: 'stderr', text: 'warning: rate limit\n' }] } }), 'all');
});
