import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editorDiagnostics } from './squiggles.js';

const source = ['import os', '    x = 1', '', 'print(y)'];
const line = (n: number) => {
  if (n < 1 || n > source.length) return undefined;
  const from = source.slice(0, n - 1).reduce((a, l) => a + l.length + 1, 0);
  return { from, to: from + source[n - 1].length, text: source[n - 1] };
};

test('a diagnostic on a line underlines that line\'s code, its hint in the message; one without a line is not drawn', () => {
  const marks = editorDiagnostics([
    { severity: 'warning', code: 'star', message: 'star import', line: 2, hint: 'import the names' },
    { severity: 'error', code: 'undefined-name', message: "'y' is not defined", line: 4 },
    { severity: 'info', code: 'edge', message: 'added the edge' },
    { severity: 'error', code: 'x', message: 'past the end', line: 9 },
  ], line);
  assert.deepEqual(marks, [
    { from: 14, to: 19, severity: 'warning', message: 'star import — import the names', source: 'cellpipe' },
    { from: 21, to: 29, severity: 'error', message: "'y' is not defined", source: 'cellpipe' },
  ]);
});

test('an empty line gets an empty mark at its start (still hoverable), not one over the next line', () => {
  assert.deepEqual(editorDiagnostics([{ severity: 'info', code: 'c', message: 'm', line: 3 }], line), [{ from: 20, to: 20, severity: 'info', message: 'm', source: 'cellpipe' }]);
});
