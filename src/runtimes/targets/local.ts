/** The `local` target: the steps run on this machine as the notebook's kernel would run them (runtimes/local). */
import { createHash } from 'node:crypto';
import type { TargetKind } from './target.js';
import { planFromEarlierRun } from './partial.js';

export const LOCAL: TargetKind = {
  kind: 'local',
  capabilities: { prewarm: true, reuse: true, schedules: false, detached: false, cellOutputs: true },
  claims: (name) => name === 'local',
  async open(_name, host) {
    return {
      kind: 'local',
      capabilities: LOCAL.capabilities,
      plan: (input) => planFromEarlierRun(input),
      async start(input, plan) {
        const runtime = await host.localRuntime(input.store);
        const { compiled } = input;
        const runId = await runtime.submit({
          notebookPath: input.shown,
          notebookHash: createHash('sha256').update(input.bytes).digest('hex'),
          specHash: compiled.specHash ?? createHash('sha256').update(compiled.yaml ?? JSON.stringify(compiled.graph)).digest('hex'),
          graph: compiled.graph,
          programs: compiled.programs,
          parameters: input.parameters,
          cache: input.cache ?? true,
          // Steps run where the notebook is, as they would in the notebook's kernel.
          workdir: input.workdir,
          ...(input.concurrency !== undefined ? { concurrency: input.concurrency } : {}),
          ...(plan ? { reuse: plan.reuse } : {}),
        });
        return { runId, runtime };
      },
      async prewarm(input) {
        const runtime = await host.localRuntime(input.store);
        if (!runtime.prewarm) return { warm: false, reason: 'this backend runs no local steps' };
        return runtime.prewarm({ graph: input.compiled.graph, programs: input.compiled.programs, workdir: input.workdir });
      },
    };
  },
};
