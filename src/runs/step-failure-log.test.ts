/** A failed step's last log line, as the step runtime wrote it in a real Kubeflow pod (KFP 2.17.0's stack). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepFailureFromLog } from './step-failure-log.js';

test('the failure line names the cell (1-based in the text, 0-based in the record), its first line, the line and the error', () => {
  assert.deepEqual(stepFailureFromLog('divide', `[cellpipe] step divide failed in cell 2 ("print('dividing')"), line 2: ZeroDivisionError: division by zero`), {
    message: 'ZeroDivisionError: division by zero', type: 'ZeroDivisionError', cell: 1, cellFirstLine: "print('dividing')", line: 2,
  });
});

test("an error raised in a functions cell's function also names the step's calling cell and line", () => {
  const line = '[cellpipe] step train_logreg failed in cell 2 ("def fit(C):"), line 3, called from cell 4, line 2: ValueError: math domain error';
  assert.deepEqual(stepFailureFromLog('train_logreg', line), {
    message: 'ValueError: math domain error', type: 'ValueError', cell: 1, cellFirstLine: 'def fit(C):', line: 3, calledFrom: [{ cell: 3, line: 2 }],
  });
});

test('a failure outside any cell has only the message', () => {
  assert.deepEqual(stepFailureFromLog('load', '[cellpipe] step load failed: input parts is missing'), { message: 'input parts is missing' });
});

test('other lines, and another step\'s failure line, are not this step\'s failure', () => {
  assert.equal(stepFailureFromLog('divide', 'ZeroDivisionError: division by zero'), undefined);
  assert.equal(stepFailureFromLog('divide', '[cellpipe] step divide: 0 parameters, 2 inputs (parts, total), 1 cell'), undefined);
  assert.equal(stepFailureFromLog('divide', '[cellpipe] step load failed: boom'), undefined);
});
