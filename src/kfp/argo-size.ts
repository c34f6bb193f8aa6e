/**
 * Will a spec's run fit in Argo? Argo Workflows keeps a Workflow object of at most 1 MiB (its JSON, with the node
 * statuses gzip'd and base64'd when that helps): a bigger one stops the run midway with `workflow is longer than
 * maximum allowed size … offload node status is not supported` (KFP's manifests do not enable Argo's node-status
 * offload, and KFP's persistence agent would not read offloaded nodes anyway).
 *
 * Under KFP 2.17 each step's container (command and args) is in that object several times: in the Workflow's
 * arguments (`implementations-<hash>`, one per distinct container), then in the status of the nodes that handle the
 * step — the driver's `container` input, the pod-spec patch the driver outputs and the executor takes as input (it
 * holds the command and args again), each once more for the retry node Argo wraps every attempt in. A built-image
 * step's container is a few hundred bytes; the step runtime inlined in a plain spec's command (~56 KB, compressed
 * already, so gzip gains nothing) makes a run of more than two or three steps too big — cellpipe then mounts the
 * runtime from a ConfigMap instead (core/inline-runtime.ts), and refuses before the upload what still cannot fit.
 */
import { CellpipeError } from '../core/errors.js';

/** A spec whose run would not fit in Argo's Workflow object, refused before the upload. */
export class SpecTooLargeError extends CellpipeError {}

/** Argo's default limit (`MAX_WORKFLOW_SIZE`), bytes of the Workflow's JSON. */
export const ARGO_MAX_WORKFLOW_BYTES = 1024 * 1024;
/**
 * Copies of a step's container the Workflow holds once the step ran: the arguments (1), the driver's retry and
 * attempt nodes' `container` input (2), their pod-spec-patch output (2, and the executor's inputs take it again, 2)
 * — 7, as the node status gzip'd barely shrinks an incompressible command. An upper bound for text that compresses.
 */
export const COPIES_PER_STEP = 7;
/** Bytes per step besides its container (node names, ids, phases, timestamps, the DAG's task entry), gzip'd. */
export const OVERHEAD_PER_STEP = 3_000;
/** Bytes of a Workflow without steps (KFP's templates, the root driver, labels, annotations, the stored spec). */
export const OVERHEAD = 60_000;
/** Headroom under Argo's limit: a step's retries add nodes, and names grow with the run's. */
export const HEADROOM = 0.8;

export interface ArgoSizeEstimate {
  steps: number;
  /** Bytes of the largest step's container (command and args). */
  largestStep: number;
  /** Estimated bytes of the Workflow object once every step ran. */
  bytes: number;
  /** How many steps of this spec's average size fit. */
  maxSteps: number;
}

type Doc = Record<string, unknown>;

/** The estimate for a KFP v2 pipeline spec (its first YAML document, parsed). */
export function estimateArgoSize(spec: Doc): ArgoSizeEstimate {
  const executors = ((spec.deploymentSpec as Doc | undefined)?.executors ?? {}) as Record<string, Doc>;
  const sizes = Object.values(executors).map((e) => {
    const c = (e.container ?? {}) as Doc;
    return Buffer.byteLength(JSON.stringify([c.command ?? [], c.args ?? []]));
  });
  const perStep = sizes.map((s) => s * COPIES_PER_STEP + OVERHEAD_PER_STEP);
  const total = perStep.reduce((a, b) => a + b, 0);
  const average = perStep.length ? total / perStep.length : OVERHEAD_PER_STEP;
  return {
    steps: sizes.length,
    largestStep: Math.max(0, ...sizes),
    bytes: OVERHEAD + total,
    maxSteps: Math.max(0, Math.floor((ARGO_MAX_WORKFLOW_BYTES * HEADROOM - OVERHEAD) / average)),
  };
}

/** Why this spec's run would not fit in Argo, and what to do; undefined when it fits. */
export function argoSizeProblem(spec: Doc, o: { runtimeInlined: boolean }): { message: string; hint: string } | undefined {
  const e = estimateArgoSize(spec);
  if (e.bytes <= ARGO_MAX_WORKFLOW_BYTES * HEADROOM) return undefined;
  const kb = (n: number) => `${Math.round(n / 1024)} KB`;
  return {
    message:
      `this pipeline's run would not fit in Argo: ${e.steps} steps whose containers carry up to ${kb(e.largestStep)} each ` +
      `${o.runtimeInlined ? '(the step runtime is inlined in every step) ' : ''}make a Workflow of about ${(e.bytes / 1048576).toFixed(1)} MB ` +
      `once they ran, over Argo's 1 MB limit, and Argo would stop the run midway ("workflow is longer than maximum allowed size"); ` +
      `at most ${e.maxSteps} such steps fit`,
    hint: o.runtimeInlined
      ? 'build the step images (submit without --no-build, with a registry in the profile: a built step\'s container is a few hundred bytes), ' +
        'or let the profile create ConfigMaps in its namespace, so cellpipe mounts the step runtime from one instead of inlining it'
      : 'build the step images (submit without --no-build, with a registry in the profile): the programs then travel in the images, not in the spec',
  };
}
