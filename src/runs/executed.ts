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
  if (!steps.length) throw new Error(noOutputsMessage(rec));
  const changed = createHash('sha256').update(notebookBytes).digest('hex') !== rec.notebookHash;
  return executedNotebook(json, steps, { runId: rec.id, state: rec.state, notebookChanged: changed, notebook: path.basename(notebookPath) });
}

/** Why a run has nothing to export, and what to do about it. */
export function noOutputsMessage(rec: RunRecord): string {
  const ran = rec.steps.some((s) => ['succeeded', 'failed', 'cancelled'].includes(s.state));
  if (rec.runtime === 'kubeflow' && ran) {
    // Outputs of a Kubeflow step travel in its log: followed from the pod, or read back from KFP's object store.
    return `run ${rec.id} ran on Kubeflow, and no step's log reached this store: a step's cell outputs come from its pod's log, ` +
      'followed while the run goes on (JupyterLab, `cellpipe submit --watch`, `cellpipe logs --follow`), or read back from ' +
      `KFP's object store once the run ends — set kfp.objectStore in profile '${rec.profile ?? '(unnamed)'}' for that (README, Configuration)`;
  }
  return `run ${rec.id} recorded no cell outputs (its steps did not run, or it was made before cellpipe kept them)`;
}

/** `<notebook name>.<run id>.ipynb`, beside the notebook. */
export function executedFileName(notebookPath: string, runId: string): string {
  return `${path.basename(notebookPath, '.ipynb')}.${runId}.ipynb`;
}

export function executedText(nb: ExecutedNotebook): string {
  return JSON.stringify(nb.notebook, null, 1) + '\n';
}
