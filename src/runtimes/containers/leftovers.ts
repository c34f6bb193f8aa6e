/**
 * The containers runtime's step leftovers — a runc container and its overlay root outlive a killed step's process
 * group — registered with the run store (`runs/leftovers.ts`), which removes them when it records a dead runner and
 * when a cancel from outside kills the steps. Registered by the containers runtime and by the CLI and the backend,
 * which open stores holding its runs.
 */
import { registerStepLeftoverCleanup, type StepLeftoverCleanup } from '../../runs/leftovers.js';
import { deleteContainer, removeLeftoversSync } from './runc.js';

const containerLeftovers: StepLeftoverCleanup = {
  afterRunnerDied(step, stepDir) {
    if (step.container) removeLeftoversSync(step.container, stepDir);
  },
  async afterKilled(step) {
    if (step.container) await deleteContainer(step.container);
  },
};

export function registerContainerLeftovers(): void {
  registerStepLeftoverCleanup(containerLeftovers);
}
