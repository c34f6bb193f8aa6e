/**
 * A run's executed notebook from the notebook's bytes and the outputs its steps recorded (core/executed.ts), for
 * `cellpipe export` and the backend's export route alike; and where it is written by default.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { executedNotebook, type ExecutedNotebook } from '../core/executed.js';
import type { RunRecord } from './types.js';
import { readRunCellOutputs } from './outputs.js';
import type { RunStore } from './store.js';

/** Throws, with a message for people, when the bytes are no notebook or the run recorded no outputs. */
export function executedRun(store: RunStore, rec: RunRecord, notebookBytes: Buffer, notebookPath: string): ExecutedNotebook {
  let json: unknown;
  try {
    json = JSON.parse(notebookBytes.toString('utf8'));
  } catch (err) {
    throw new Error(`${notebookPath} is not valid JSON (${(err as Error).message})`);
  }
  const steps = readRunCellOutputs(store, rec);
  if (!steps.length) throw new Error(`run ${rec.id} recorded no cell outputs (its steps did not run, or it was made before cellpipe kept them)`);
  const changed = createHash('sha256').update(notebookBytes).digest('hex') !== rec.notebookHash;
  return executedNotebook(json, steps, { runId: rec.id, state: rec.state, notebookChanged: changed, notebook: path.basename(notebookPath) });
}

/** `<notebook name>.<run id>.ipynb`, beside the notebook. */
export function executedFileName(notebookPath: string, runId: string): string {
  return `${path.basename(notebookPath, '.ipynb')}.${runId}.ipynb`;
}

export function executedText(nb: ExecutedNotebook): string {
  return JSON.stringify(nb.notebook, null, 1) + '\n';
}
