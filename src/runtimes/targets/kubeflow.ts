/**
 * The Kubeflow targets, one per profile (`target` = the profile's name): the run recorded at once (`queued`, stage
 * `validate`), then submitted in the background — images built, pipeline uploaded, KFP run created — each stage and
 * the upload's progress written into the record, so the page shows them. A submission that fails ends the record
 * `failed` with the reason (`cancelled` when a cancel came first).
 *
 * With `host.kubeflowNow` (`cellpipe submit`) the submission happens while the caller waits, and the run is recorded
 * once it exists in KFP. A partial run executes its chosen steps; the others take KFP's cached outputs (no earlier
 * run of this machine).
 */
import { createHash } from 'node:crypto';
import { compileNotebook } from '../../core/compile.js';
import { formatBytes } from '../../core/bytes.js';
import { notebookReader } from '../../runs/notebook-reader.js';
import { chooseSteps, PartialRunError } from '../../runs/partial.js';
import { isTerminalRun, newRunId, type RunStore } from '../../runs/store.js';
import type { Profile } from '../../kube/profile.js';
import type { KubeflowRuntime, SubmitOptions, SubmitProgress } from '../kubeflow/runtime.js';
import { kubeflowRunRecord } from '../kubeflow/run-record.js';
import type { RunRecord } from '../../runs/types.js';
import type { RunInput, TargetHost, TargetKind } from './target.js';
import { TargetError } from './target.js';

export const KUBEFLOW: TargetKind = {
  kind: 'kubeflow',
  capabilities: { prewarm: false, reuse: false, schedules: true, detached: true, cellOutputs: true },
  // Every name that is not another kind's is a profile's (the host says when there is no such profile).
  claims: () => true,
  async open(name, host) {
    const profile = await host.profile(name);
    return {
      kind: 'kubeflow',
      capabilities: KUBEFLOW.capabilities,
      async plan(input) {
        if (input.selection?.reuse) {
          throw new TargetError('usage', "'reuse' names an earlier run of this machine; on Kubeflow the steps not chosen take KFP's cached outputs", "Leave 'reuse' out, or run on Local.");
        }
        try {
          // A wrong step name is said now, not in the background.
          if (input.selection) chooseSteps(input.compiled.graph, input.selection);
        } catch (err) {
          throw err instanceof PartialRunError ? new TargetError('usage', err.message) : err;
        }
        return undefined;
      },
      async start(input) {
        const runtime = await host.kubeflowRuntime(profile, input.store);
        if (host.kubeflowNow) {
          const { images, parameterTexts, onProgress } = host.kubeflowNow;
          const select = selectionOf(input);
          const submitted = await runtime.submitNotebook({
            notebookPath: input.path,
            shownPath: input.shown,
            compiled: { result: input.compiled, notebookHash: sha256(input.bytes) },
            parameters: input.parameters,
            ...(parameterTexts ? { parameterTexts } : {}),
            ...(images ? { images } : {}),
            ...(onProgress ? { onProgress } : {}),
            ...(select ? { select } : {}),
            watch: false,
          });
          return { runId: submitted.runId, runtime };
        }
        const runId = await recordRun(input, profile, host);
        submitInBackground(runtime, input, runId, host);
        return { runId, runtime };
      },
    };
  },
};

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The run, `queued` at stage `validate`, before anything is built. */
async function recordRun(input: RunInput, profile: Profile, host: TargetHost): Promise<string> {
  const { compiled } = input;
  const runId = newRunId();
  await input.store.create(kubeflowRunRecord({
    id: runId,
    notebook: input.shown,
    notebookHash: sha256(input.bytes),
    specHash: compiled.specHash ?? sha256(compiled.yaml ?? JSON.stringify(compiled.graph)),
    profile: profile.name,
    parameters: input.parameters,
    graph: compiled.graph,
    stage: 'validate',
  }));
  await host.kubeflowRecorded?.(runId, profile);
  return runId;
}

/** What a partial run (or `cache: false`) asks of KFP. */
function selectionOf(input: RunInput): SubmitOptions['select'] | undefined {
  if (input.selection) return { ...(input.selection.only ? { only: input.selection.only } : {}), ...(input.selection.from !== undefined ? { from: input.selection.from } : {}) };
  return input.cache === false ? { noCache: true } : undefined;
}

function submitInBackground(runtime: KubeflowRuntime, input: RunInput, runId: string, host: TargetHost): void {
  const { store } = input;
  const progress = stageWriter(store, runId, input.compiled.graph.steps.length);
  const select = selectionOf(input);
  void (async () => {
    // The notebook as the profile compiles it: its base image, the user's setting, else this notebook pod's own.
    const base = await runtime.baseImage(input.defaultBaseImage, runId);
    const result = base === input.defaultBaseImage
      ? input.compiled
      : compileNotebook(input.bytes.toString('utf8'), { path: input.shown, graphOnly: true, defaultBaseImage: base, readNotebook: notebookReader(input.path) });
    await runtime.submitNotebook({
      notebookPath: input.path,
      shownPath: input.shown,
      compiled: { result, notebookHash: sha256(input.bytes) },
      parameters: input.parameters,
      runId,
      onProgress: progress.onProgress,
      ...(select ? { select } : {}),
    });
  })().catch(async (err: unknown) => {
    await progress.written();
    const now = await store.get(runId);
    if (!now || now.external?.kfpRunId || isTerminalRun(now.state)) return;
    await abandon(store, now, err);
    await host.kubeflowAbandoned?.(runId);
  });
}

/** A submission that ended without a KFP run: no step ran, none is left pending under its cells as if it still might. */
async function abandon(store: RunStore, now: RunRecord, err: unknown): Promise<void> {
  const cancelled = now.cancelRequestedAt !== undefined;
  const finishedAt = new Date().toISOString();
  for (const s of now.steps) if (s.state === 'pending') await store.updateStep(now.id, s.name, { state: cancelled ? 'cancelled' : 'skipped', finishedAt });
  await store.update(now.id, {
    state: cancelled ? 'cancelled' : 'failed',
    reason: cancelled ? 'cancelled before it was submitted to Kubeflow' : `${now.stage ?? 'submit'} failed: ${(err as Error).message}`,
    finishedAt,
  });
}

/** Writes each stage and the build's progress into the record, one write after another; upload progress at most every 250 ms. */
function stageWriter(store: RunStore, runId: string, total: number): { onProgress: (p: SubmitProgress) => void; written: () => Promise<unknown> } {
  let writes: Promise<unknown> = Promise.resolve();
  const write = (patch: Partial<RunRecord>) => {
    writes = writes.then(() => store.update(runId, patch)).catch(() => undefined);
  };
  let lastBytes = 0;
  const ready = new Set<string>();
  const onProgress = (p: SubmitProgress) => {
    if (!p.build) {
      write({ stage: p.stage, stageDetail: p.state === 'done' ? p.detail : undefined });
      return;
    }
    const b = p.build;
    if (b.kind === 'bytes') {
      const now = Date.now();
      if (now - lastBytes < 250) return;
      lastBytes = now;
      write({ stageDetail: `uploaded ${formatBytes(b.uploaded)}` });
    } else if (b.kind === 'step') {
      ready.add(b.step);
      write({ stageDetail: `${ready.size} of ${total} step images ready` });
    } else if (b.kind === 'requirements' && b.state === 'building') {
      write({ stageDetail: `installing requirements for ${b.steps.join(', ')}` });
    }
  };
  return { onProgress, written: () => writes };
}
