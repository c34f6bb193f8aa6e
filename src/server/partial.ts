/**
 * The partial-run fields of `POST /api/runs` — `only: [STEP…]`, `from: STEP`, `reuse: RUN` — read and planned as
 * `cellpipe run --only/--from/--reuse` plans them (runs/plan.ts), errors as HTTP errors with the message to show.
 */
import type { StepGraph, StepProgram } from '../core/model.js';
import { planPartialRun, staleWarnings, type PartialSelection } from '../runs/plan.js';
import type { RunStore } from '../runs/store.js';
import type { PartialReuse } from '../runs/types.js';
import { HttpError } from './http.js';

/** The selection in a run request, or undefined for a whole run. */
export function readPartialSelection(body: Record<string, unknown>): PartialSelection | undefined {
  const { only, from, reuse } = body;
  if (only !== undefined && (!Array.isArray(only) || !only.length || !only.every((s) => typeof s === 'string' && s))) {
    throw new HttpError(400, "field 'only' must be a list of step names");
  }
  if (from !== undefined && (typeof from !== 'string' || !from)) throw new HttpError(400, "field 'from' must be a step name");
  if (reuse !== undefined && (typeof reuse !== 'string' || !reuse)) throw new HttpError(400, "field 'reuse' must be a run id (or a prefix of one, or 'latest')");
  if (only === undefined && from === undefined) {
    if (reuse !== undefined) throw new HttpError(400, "field 'reuse' goes with 'only' or 'from'");
    return undefined;
  }
  if (only !== undefined && from !== undefined) throw new HttpError(400, "give 'only' or 'from', not both");
  return { ...(only ? { only: only as string[] } : {}), ...(from ? { from: from as string } : {}), ...(reuse ? { reuse: reuse as string } : {}) };
}

/** The reuse plan, with a warning per reused step whose code changed since; 400 for unknown steps, 409 when no run can supply them. */
export async function planPartial(
  store: RunStore,
  notebookPath: string,
  graph: StepGraph,
  programs: Record<string, StepProgram>,
  sel: PartialSelection,
  sameNotebook?: (recorded: string) => boolean,
): Promise<{ reuse: PartialReuse; warnings: string[] }> {
  const plan = await planPartialRun(store, notebookPath, graph, programs, sel, sameNotebook);
  if ('error' in plan) {
    throw new HttpError(plan.usage ? 400 : 409, plan.error.replace(/^--reuse/, 'reuse'), plan.usage ? undefined : 'Run the whole pipeline first, or choose a run in which the steps it needs succeeded.');
  }
  return { reuse: plan.reuse, warnings: staleWarnings(plan) };
}
