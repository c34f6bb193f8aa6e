/**
 * The Kubeflow runtime for a stored run record, for the run-reading commands (`status`, `logs`, `cancel`): the
 * record names its profile; the profile says how to reach KFP. Loaded lazily by those commands, so reading local
 * runs never loads the Kubeflow (and Kubernetes) code.
 */
import type { RunStore } from '../../runs/store.js';
import type { RunRecord } from '../../runs/types.js';
import { KubeflowRuntime, type KubeflowRuntimeOptions } from './runtime.js';

/** The runtime that watches and controls `record`; throws a message saying what to fix when its profile is gone. */
export async function runtimeForRecord(
  record: RunRecord,
  store: RunStore,
  env: NodeJS.ProcessEnv,
  options: Partial<Pick<KubeflowRuntimeOptions, 'kube' | 'pollMs' | 'maxPollMs' | 'maxBackoffMs'>> & {
    /** Per-request timeout of the KFP client (default: the client's 30 s). */
    timeoutMs?: number;
  } = {},
): Promise<KubeflowRuntime> {
  if (record.runtime !== 'kubeflow') throw new Error(`run ${record.id} is a ${record.runtime} run, not a Kubeflow run`);
  if (!record.profile) throw new Error(`run ${record.id} does not say which profile it was submitted with`);
  const { loadProfile } = await import('../../kube/profile.js');
  let profile;
  try {
    profile = await loadProfile(record.profile, env);
  } catch (err) {
    throw new Error(`run ${record.id} was submitted with profile '${record.profile}': ${(err as Error).message}`);
  }
  const { timeoutMs, ...rest } = options;
  let client;
  if (timeoutMs !== undefined) {
    const [{ kfpEndpoint }, { KfpClient }] = await Promise.all([import('../../kfp/endpoint.js'), import('../../kfp/client.js')]);
    client = new KfpClient(await kfpEndpoint(profile, env), { timeoutMs });
  }
  return new KubeflowRuntime({ store, profile, env, client, ...rest });
}
