import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDiagnostics } from './diagnostics.js';

test('the terminal names a diagnostic\'s cell as JupyterLab numbers it: index 6 is "cell 7"', () => {
  const text = formatDiagnostics([
    { severity: 'error', code: 'syntax-error', message: 'syntax error: invalid syntax', hint: 'fix the Python syntax', cell: 6, line: 2 },
    { severity: 'warning', code: 'tag-on-markdown', message: 'tags ignored', cell: 0 },
    { severity: 'info', code: 'single-step', message: 'one step' },
  ], 'nb.ipynb');
  assert.equal(text, [
    'nb.ipynb, cell 7, line 2: error: syntax error: invalid syntax',
    '  hint: fix the Python syntax',
    'nb.ipynb, cell 1: warning: tags ignored',
    'nb.ipynb: info: one step',
  ].join('\n'));
});
