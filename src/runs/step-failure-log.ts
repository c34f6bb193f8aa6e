/**
 * The line the step runtime ends a failed step's log with (python/cellpipe_runtime/runner.py `_fail`):
 * `[cellpipe] step NAME failed in cell N ("first line"), line L[, called from cell M, line K]: MESSAGE` (the cell and
 * line when known; where the step's own cell called the function of another cell that raised). Where the
 * error record file cannot be read back (a Kubeflow step's pod), this line is how the step says why it failed.
 * Pure.
 */
import type { StepError } from './types.js';

const FAILED = /^\[cellpipe\] step (\S+) failed(?: in cell (\d+) \("(.*)"\)(?:, line (\d+))?(?:, called from cell (\d+), line (\d+))?)?: (.+)$/;

/** The error a step's failure line states, or undefined for any other line (or another step's). */
export function stepFailureFromLog(step: string, text: string): StepError | undefined {
  const m = FAILED.exec(text.trimEnd());
  if (!m || m[1] !== step) return undefined;
  const error: StepError = { message: m[7] };
  const type = /^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)): /.exec(m[7]);
  if (type) error.type = type[1];
  if (m[2]) {
    error.cell = Number(m[2]) - 1;
    error.cellFirstLine = m[3];
  }
  if (m[4]) error.line = Number(m[4]);
  if (m[5]) error.calledFrom = [{ cell: Number(m[5]) - 1, line: Number(m[6]) }];
  return error;
}
