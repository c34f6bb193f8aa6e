/**
 * What a step leaves behind besides its process group — the containers runtime's runc container and overlay root —
 * removed when the store records that a run's runner died, and when a cancel from outside killed the steps. The
 * store and the local runtime know no runtime's leftovers: a runtime registers its clean-up here
 * (`runtimes/containers/leftovers.ts`), and whoever opens a store for such runs (the CLI, the backend) loads it.
 */
import type { StepRecord } from './types.js';

export interface StepLeftoverCleanup {
  /** After the step's runner died (synchronous: the store's recovery is). `stepDir` is the step's folder in the store. */
  afterRunnerDied(step: StepRecord, stepDir: string): void;
  /** After a cancel from outside the runner killed the step's process group. */
  afterKilled(step: StepRecord): Promise<void>;
}

const cleanups = new Set<StepLeftoverCleanup>();

/** Register a runtime's clean-up (once: registering the same one again changes nothing). */
export function registerStepLeftoverCleanup(cleanup: StepLeftoverCleanup): void {
  cleanups.add(cleanup);
}

export function removeLeftoversAfterRunnerDied(step: StepRecord, stepDir: string): void {
  for (const c of cleanups) c.afterRunnerDied(step, stepDir);
}

export async function removeLeftoversAfterKilled(step: StepRecord): Promise<void> {
  for (const c of cleanups) await c.afterKilled(step);
}
