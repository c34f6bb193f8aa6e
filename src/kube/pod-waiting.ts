/**
 * Why a step's pod has not started, as the scheduler and the kubelet report it: a pod no node can take (KFP leaves
 * such an executor Pending for ever, e.g. `limit:nvidia.com/gpu:2` on a cluster without GPUs), an image that cannot
 * be pulled, a container that cannot be created (a missing secret). Said with what to do, so the step and its cell
 * can show it while the run waits. Pure: the caller reads the pod.
 */
import type { V1Pod } from '@kubernetes/client-node';

/** Container waiting reasons that mean the image cannot be had (not a pull still going). */
const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable']);
/** Container waiting reasons that mean the container cannot be made as specified. */
const CREATE_FAILURES = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** What keeps the pod from running, with the fix; undefined while it is on its way (or running, or done). */
export function podWaiting(pod: V1Pod, container = 'main'): string | undefined {
  if (pod.status?.phase && pod.status.phase !== 'Pending') return undefined;
  const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (unschedulable) {
    const why = oneLine(unschedulable.message) ?? 'no node can take it';
    const resources = /Insufficient ([\w./-]*\w)/.exec(why)?.[1];
    const fix = resources
      ? `no node has the ${resources} it asks for: lower its limit:${resources} tag, or run it where there is such a node`
      : 'change what the step asks for (limit: tags, node selectors) or ask the cluster\'s admin for a node that fits';
    return `waiting for a node: ${why} — ${fix}`;
  }
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  const waiting = status?.state?.waiting;
  if (!waiting?.reason) return undefined;
  const image = status?.image ?? pod.spec?.containers?.find((c) => c.name === container)?.image;
  if (PULL_FAILURES.has(waiting.reason)) {
    return `cannot pull the image ${image ?? ''} (${waiting.reason}${waiting.message ? `: ${oneLine(waiting.message)}` : ''}) — check the image name and that the cluster can reach and log in to its registry (the profile's registry setting)`;
  }
  if (CREATE_FAILURES.has(waiting.reason)) {
    return `cannot start the container (${waiting.reason}${waiting.message ? `: ${oneLine(waiting.message)}` : ''}) — check the secrets and volumes the step names exist in the namespace`;
  }
  return undefined;
}

function oneLine(text: string | undefined): string | undefined {
  const t = text?.replace(/\s+/g, ' ').trim();
  return t || undefined;
}
