/**
 * What the parts of the Kubeflow runtime (submit.ts, watch.ts, pod-logs.ts) share: the runtime itself, seen through
 * what they need of it — its store and profile, the KFP client, the cluster connection, and where events go.
 */
import type { Profile } from '../../kube/profile.js';
import type { KubeConnection } from '../../kube/connect.js';
import type { KfpClient } from '../../kfp/client.js';
import type { KfpSettings } from '../../kfp/endpoint.js';
import type { RunStore } from '../../runs/store.js';
import type { LogLine, RunRecord } from '../../runs/types.js';
import type { ObjectStoreAccess } from './stored-logs.js';

export interface KubeflowRuntimeEvents {
  change: [record: RunRecord];
  log: [runId: string, step: string, line: LogLine];
  /** Problems that do not stop the run: KFP unreachable (retrying), logs unavailable, … */
  warning: [runId: string, message: string];
}

export interface KubeflowContext {
  readonly store: RunStore;
  readonly profile: Profile;
  readonly settings: KfpSettings;
  readonly env: NodeJS.ProcessEnv;
  /** Polling of a watched run: first interval, longest interval, longest wait while KFP is unreachable (ms). */
  readonly pollMs: number;
  readonly maxPollMs: number;
  readonly maxBackoffMs: number;
  kfp(): Promise<KfpClient>;
  /** The cluster connection for pod logs and builds, made on first use; null when there is none. */
  kubeConnection(runId: string, namespace: string): Promise<KubeConnection | null>;
  /** What reading KFP's object store in `namespace` needs (its access key, the launcher's pipeline root); throws why not. */
  objectStoreAccess(runId: string, namespace: string): Promise<ObjectStoreAccess>;
  /** Whether pod logs are switched off (no cluster connection, by choice or because it failed). */
  logsOff(): boolean;
  /** The default base image of a notebook that names none (see KubeflowRuntime.baseImage). */
  baseImage(userDefault: string | undefined, runId?: string): Promise<string | undefined>;
  /** Watches a run until it ends (one watcher per run). */
  watch(runId: string): Promise<RunRecord>;
  warn(runId: string, message: string): void;
  changed(record: RunRecord): void;
  logged(runId: string, step: string, line: LogLine): void;
}
