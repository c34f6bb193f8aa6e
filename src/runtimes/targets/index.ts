/**
 * Every target, in the order their names are claimed: `local`, `containers`, then any other name is a Kubeflow
 * profile's. A new target is its file beside these and one line here.
 */
import { CONTAINERS } from './containers.js';
import { KUBEFLOW } from './kubeflow.js';
import { LOCAL } from './local.js';
import type { Target, TargetHost, TargetKind } from './target.js';

export const TARGET_KINDS: readonly TargetKind[] = [
  LOCAL,
  CONTAINERS,
  KUBEFLOW,
];

/** The kind of target `name` names. */
export function targetKind(name: string): TargetKind {
  const kind = TARGET_KINDS.find((k) => k.claims(name));
  if (!kind) throw new Error(`no target kind claims '${name}'`);
  return kind;
}

/** The target `name` names, opened for `host` (a Kubeflow profile that does not exist is the host's error). */
export function openTarget(name: string, host: TargetHost): Promise<Target> {
  return targetKind(name).open(name, host);
}

export type { RunInput, Started, Target, TargetCapabilities, TargetHost, TargetKind } from './target.js';
export { TargetError } from './target.js';
export { CONTAINERS, KUBEFLOW, LOCAL };
