/**
 * The `containers` target: on this machine, each step in its own image (runtimes/containers) — the step images built
 * into a registry (a private one under the run store unless one is given), then run with runc.
 */
import { CONTAINERS_TARGET, inImages, inImagesUnavailable, type InImages } from '../containers/setup.js';
import type { TargetKind } from './target.js';
import { TargetError } from './target.js';
import { planFromEarlierRun } from './partial.js';

export const CONTAINERS: TargetKind = {
  kind: 'containers',
  capabilities: { prewarm: false, reuse: true, schedules: false, detached: false, cellOutputs: true },
  claims: (name) => name === CONTAINERS_TARGET,
  async open(_name, host) {
    return {
      kind: 'containers',
      capabilities: CONTAINERS.capabilities,
      // Planned on the notebook's own compile first, so a wrong step name or a missing earlier run is said before
      // anything is built.
      plan: (input) => planFromEarlierRun(input),
      async start(input) {
        // Without a registry of the caller's, one is started under the run store: then every piece must be here.
        const why = host.containers?.registry ? undefined : inImagesUnavailable();
        if (why) throw new TargetError('conflict', `cannot run in containers: ${why}`, 'Run it locally, or start Jupyter as root on a machine with runc.');
        let run: InImages;
        try {
          run = await inImages({
            ...host.containers,
            base: host.containers?.base ?? input.defaultBaseImage,
            env: host.containers?.env ?? host.env,
            store: input.store,
            notebookPath: input.path,
            shown: input.shown,
            text: input.bytes.toString('utf8'),
            concurrency: input.concurrency,
          });
        } catch (err) {
          throw new TargetError('usage', `cannot run in containers: ${(err as Error).message}`);
        }
        try {
          host.containersReady?.(run);
          // Planned again on what the images hold (the compile that built them).
          const plan = await planFromEarlierRun(input, run.prepared.request);
          const runId = await run.runtime.submit({
            ...run.prepared.request,
            parameters: input.parameters,
            cache: input.cache ?? true,
            concurrency: input.concurrency,
            ...(plan ? { reuse: plan.reuse } : {}),
          });
          const released = run.runtime.wait(runId).then(() => undefined, () => undefined).finally(() => run.close());
          return { runId, runtime: run.runtime, released };
        } catch (err) {
          await run.close();
          throw err;
        }
      },
    };
  },
};
