/**
 * Planning a partial run against a run store: the steps chosen by `--only`/`--from` (or the page's "Run this step" /
 * "Run from here"), the others from the run named by `reuse`, else the newest finished run of this notebook that has
 * outputs of every step the chosen ones need. Shared by `cellpipe run` and the backend, so both choose alike.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { StepGraph, StepProgram } from '../core/model.js';
import type { RunRecord } from './types.js';
import { PartialRunError, canSupply, chooseSteps, neededSteps, planReuse } from './partial.js';
import { findRun, noSuchRun } from './locate.js';
import type { RunStore } from './store.js';

export interface PartialSelection {
  only?: string[];
  from?: string;
  /** Run id, id prefix or `latest`. */
  reuse?: string;
}

/** Which steps run, which earlier run the others come from, and which of those changed since. */
export type PartialPlan = ReturnType<typeof planReuse>;

/**
 * Plans a partial run; throws a PartialRunError saying why there is no plan (`usage`: the selection itself is wrong,
 * e.g. an unknown step; otherwise no earlier run can supply the steps the chosen ones need).
 */
export async function planPartialRun(
  store: RunStore,
  notebookPath: string,
  graph: StepGraph,
  programs: Record<string, StepProgram>,
  sel: PartialSelection,
  /** Which recorded notebook paths are this notebook (default: the same file name, right for a store next to it). */
  sameNotebook: (recorded: string) => boolean = (recorded) => basename(recorded) === basename(notebookPath),
): Promise<PartialPlan> {
  const chosen = chooseSteps(graph, sel);
  try {
    const needed = neededSteps(graph, chosen);
    let rec: RunRecord | undefined;
    if (sel.reuse !== undefined) {
      const found = await findRun(store, sel.reuse);
      if (found === 'ambiguous') throw new PartialRunError(`--reuse ${sel.reuse}: matches several runs; give more of the id`, false);
      if (!found) throw new PartialRunError(`--reuse: ${noSuchRun(sel.reuse, store)}`, false);
      rec = found;
    } else {
      const name = basename(notebookPath);
      const mine = (await store.list()).filter((r) => sameNotebook(r.notebook) && ['succeeded', 'failed', 'cancelled'].includes(r.state));
      rec = mine.find((r) => canSupply(r, needed, existsSync));
      if (!rec) {
        throw new PartialRunError(
          mine.length
            ? `no earlier run of ${name} in ${store.dir} has outputs of ${needed.map((n) => `'${n}'`).join(', ')}; run them too, or the whole notebook first`
            : `no earlier run of ${name} in ${store.dir} to reuse steps from; run the whole notebook first (cellpipe run ${name})`,
          false,
        );
      }
    }
    return planReuse(graph, programs, chosen, rec, existsSync);
  } catch (err) {
    // Past the choice, a step that cannot be planned is not a mistake in the selection.
    if (err instanceof PartialRunError && err.usage) throw new PartialRunError(err.message, false);
    throw err;
  }
}

/** The warning for each reused step whose code changed since the run it is taken from. */
export function staleWarnings(plan: ReturnType<typeof planReuse>): string[] {
  return plan.stale.map((s) =>
    `step '${s.step}' changed since run ${plan.reuse.runId}, whose outputs of it are reused: ` +
    `the inputs of ${s.readers.map((r) => `'${r}'`).join(', ') || 'the chosen steps'} are stale; run from '${s.step}' to refresh them`);
}
