/**
 * Planning a partial run for a target that takes the other steps from an earlier run of this machine (local and
 * container runs): `runs/plan.ts`, its refusals as TargetErrors.
 */
import { PartialRunError } from '../../runs/partial.js';
import { planPartialRun, type PartialPlan } from '../../runs/plan.js';
import type { Compiled, RunInput } from './target.js';
import { TargetError } from './target.js';

export async function planFromEarlierRun(input: RunInput, compiled: Pick<Compiled, 'graph' | 'programs'> = input.compiled): Promise<PartialPlan | undefined> {
  if (!input.selection) return undefined;
  try {
    return await planPartialRun(input.store, input.shown, compiled.graph, compiled.programs, input.selection, input.sameNotebook);
  } catch (err) {
    if (!(err instanceof PartialRunError)) throw err;
    throw err.usage
      ? new TargetError('usage', err.message)
      : new TargetError('conflict', err.message, 'Run the whole pipeline first, or choose a run in which the steps it needs succeeded.');
  }
}
