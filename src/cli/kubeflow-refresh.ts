/**
 * The freshest record of a run for the commands that read one (`status`, `export`): an unfinished Kubeflow run is
 * refreshed from Kubeflow Pipelines first, and the store updated — a run submitted without --watch, or one that ended
 * while JupyterLab was closed, is then recorded as KFP has it (states, and step logs read back from KFP's object store
 * when the profile sets one). When KFP does not answer, the stored record comes back with why it may be stale.
 */
import { isTerminalRun, type RunStore } from '../runs/store.js';
import type { RunRecord } from '../runs/types.js';

export interface Refreshed {
  record: RunRecord;
  /** Why the record could not be refreshed (it is the stored one then); undefined when fresh or nothing to refresh. */
  stale?: string;
}

export async function refreshedRecord(rec: RunRecord, store: RunStore, env: NodeJS.ProcessEnv): Promise<Refreshed> {
  if (rec.runtime !== 'kubeflow' || isTerminalRun(rec.state)) return { record: rec };
  try {
    // Loaded only here, so reading local runs never loads the Kubeflow (and Kubernetes) code.
    const { runtimeForRecord } = await import('../runtimes/kubeflow/records.js');
    // A quick look: a KFP that does not answer within 10 s (or $CELLPIPE_KFP_TIMEOUT_MS) is reported as such.
    const timeout = Number(env.CELLPIPE_KFP_TIMEOUT_MS);
    const runtime = await runtimeForRecord(rec, store, env, { kube: null, timeoutMs: timeout > 0 ? timeout : 10_000 });
    const r = await runtime.refresh(rec.id);
    return r.fresh ? { record: r.record } : { record: r.record, stale: r.error };
  } catch (err) {
    return { record: rec, stale: (err as Error).message };
  }
}
