/**
 * The record of a Kubeflow run, written in one place: the backend makes it `queued` at the `validate` stage before
 * anything is built (so the page shows the submission), the runtime once the KFP run exists (`external`, `url`).
 */
import type { JsonValue, StepGraph } from '../../core/model.js';
import { taskName } from '../../core/graph.js';
import { pendingStep } from '../../runs/store.js';
import type { RunRecord, SubmitStage } from '../../runs/types.js';

export interface KubeflowRunFacts {
  id: string;
  /** The notebook as recorded (relative to the workspace for the backend, as typed for the CLI). */
  notebook: string;
  notebookHash: string;
  specHash: string;
  profile: string;
  parameters: Record<string, JsonValue>;
  graph: StepGraph;
  createdAt?: string;
  /** Made before the submission: the stage it is at. */
  stage?: SubmitStage;
}

/** Where the run is in KFP, once it was created there. */
export interface KfpRunPlace {
  kfpRunId: string;
  url?: string;
  experimentId: string;
  namespace: string;
  pipelineId: string;
  pipelineVersionId: string;
  /** The spec's `pipelineInfo.name`: KFP names the run's folder in its object store by it (kfp/executor-logs.ts). */
  pipelineName?: string;
}

/** A `queued` Kubeflow run record, every step pending; with `kfp`, the ids that tie it to its KFP run. */
export function kubeflowRunRecord(facts: KubeflowRunFacts, kfp?: KfpRunPlace): RunRecord {
  const { graph } = facts;
  return {
    id: facts.id,
    notebook: facts.notebook,
    notebookHash: facts.notebookHash,
    specHash: facts.specHash,
    runtime: 'kubeflow',
    profile: facts.profile,
    parameters: facts.parameters,
    parameterTypes: Object.fromEntries(graph.parameters.map((p) => [p.name, p.type])),
    state: 'queued',
    ...(facts.stage ? { stage: facts.stage } : {}),
    createdAt: facts.createdAt ?? new Date().toISOString(),
    steps: graph.steps.map((s) => pendingStep(s.name, s.unit)),
    ...(kfp
      ? {
          url: kfp.url,
          external: {
            kfpRunId: kfp.kfpRunId,
            experimentId: kfp.experimentId,
            namespace: kfp.namespace,
            pipelineId: kfp.pipelineId,
            pipelineVersionId: kfp.pipelineVersionId,
            ...(kfp.pipelineName ? { pipelineName: kfp.pipelineName } : {}),
            tasks: JSON.stringify(Object.fromEntries(graph.steps.map((s) => [s.name, taskName(s.name)]))),
          },
        }
      : {}),
  };
}
