import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executedNotebook } from './executed.js';

const code = (id: string, source: string) => ({ cell_type: 'code', id, metadata: {}, source, outputs: [], execution_count: null });

test('the count of cells with outputs counts the cells that show something, not every cell each step ran', () => {
  // Each step runs the imports cell (which shows nothing) before its own; one of the two step cells prints.
  const nb = { cells: [code('i', 'import json'), code('a', 'x = 1'), code('b', 'print(x)')], metadata: {}, nbformat: 4, nbformat_minor: 5 };
  const stream = { output_type: 'stream', name: 'stdout', text: '1\n' };
  const steps = [
    { step: 'a', fromRun: 'r', cells: { 0: { id: 'i', executionCount: 1, outputs: [] }, 1: { id: 'a', executionCount: 2, outputs: [] } } },
    { step: 'b', fromRun: 'r', cells: { 0: { id: 'i', executionCount: 1, outputs: [] }, 2: { id: 'b', executionCount: 2, outputs: [stream] } } },
  ];
  const out = executedNotebook(nb, steps as never, { runId: 'r', state: 'succeeded', notebookChanged: false });
  assert.equal(out.filled, 1);
  const cells = (out.notebook.cells as { outputs: unknown[]; execution_count: number | null }[]);
  assert.deepEqual(cells.map((c) => c.outputs.length), [0, 0, 1]);
  assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, 2], 'cells that ran keep their execution count');
});
