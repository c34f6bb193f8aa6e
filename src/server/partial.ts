/**
 * The partial-run fields of `POST /api/runs` — `only: [STEP…]`, `from: STEP`, `reuse: RUN` — read, and a run started on
 * its target (runtimes/targets), planned as `cellpipe run --only/--from/--reuse` plans it, errors as HTTP errors.
 */
import { staleWarnings, type PartialSelection } from '../runs/plan.js';
import { TargetError, type RunInput, type Target } from '../runtimes/targets/index.js';
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

/**
 * Plans and starts a run on `target`; its refusals become HTTP errors with the message to show: 400 for a wrong
 * request, 409 when the state of things stands in the way. `warnings`: reused steps whose code changed since.
 */
export async function startOn(target: Target, input: RunInput): Promise<{ runId: string; warnings: string[] }> {
  try {
    const plan = await target.plan(input);
    const { runId } = await target.start(input, plan);
    return { runId, warnings: plan ? staleWarnings(plan) : [] };
  } catch (err) {
    if (!(err instanceof TargetError)) throw err;
    throw new HttpError(err.kind === 'usage' ? 400 : 409, err.message.replace(/^--reuse/, 'reuse'), err.hint);
  }
}
