/**
 * How a step's pod ended, as the kubelet reports it: the container's exit code, and for the endings the step's
 * own log cannot explain — the kernel's OOM killer at the memory limit, an eviction — an error that says what
 * happened and what to do. Pure: the caller reads the pod.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { StepError } from '../runs/types.js';

export interface PodOutcome {
  exitCode?: number;
  /** The kubelet's reason, e.g. `Completed`, `Error`, `OOMKilled`, `Evicted`. */
  reason?: string;
  /** Only for endings the step could not report itself. */
  error?: StepError;
}

export function podOutcome(pod: V1Pod, container = 'main'): PodOutcome | undefined {
  if (pod.status?.reason === 'Evicted') {
    return { reason: 'Evicted', error: { type: 'Evicted', message: `the step's pod was evicted by its node: ${pod.status.message ?? 'no reason given'}` } };
  }
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  const ended = status?.state?.terminated ?? status?.lastState?.terminated;
  if (!ended) return undefined;
  const out: PodOutcome = { exitCode: ended.exitCode, reason: ended.reason };
  if (ended.reason === 'OOMKilled') {
    const limit = pod.spec?.containers?.find((c) => c.name === container)?.resources?.limits?.memory;
    out.error = {
      type: 'OOMKilled',
      message: `the step was killed for using more memory than its limit${limit ? ` (${limit})` : ''}: raise its limit:memory tag or make it use less`,
    };
  }
  return out;
}
