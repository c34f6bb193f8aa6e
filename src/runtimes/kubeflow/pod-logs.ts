/**
 * The step pods' logs of a watched Kubeflow run, into the run store: one stream for the whole run following every
 * step pod as it appears (`main` container), the cell outputs a step prints into its log written where a local step
 * writes them, how each pod ended (an OOM kill, an eviction) recorded on its step, and why a pod has not started.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { taskName } from '../../core/graph.js';
import type { KubeConnection } from '../../kube/connect.js';
import type { PodLogStream } from '../../kube/logs.js';
import { podWaiting } from '../../kube/pod-waiting.js';
import { CellOutputsAssembler, isCellOutputsLine } from '../../runs/cell-outputs-log.js';
import { stepFailureFromLog } from '../../runs/step-failure-log.js';
import { CELL_OUTPUTS_FILE } from '../../runs/outputs.js';
import type { LogLine, RunRecord } from '../../runs/types.js';
import type { KubeflowContext } from './context.js';
const NODE_NAME = 'workflows.argoproj.io/node-name';

/**
 * Step pods of a run: the latest pod per step, the pods whose step container has started (only those have a log to
 * wait for: a pod still Pending when a run is stopped never prints), and the pods whose logs are completely stored.
 */
export class PodTracking {
  readonly podOf = new Map<string, string>();
  readonly started = new Set<string>();
  readonly logged = new Set<string>();
  private wake: (() => void)[] = [];

  /** What the pod watch (or a listing) says of a step pod now. */
  saw(pod: V1Pod): void {
    const name = pod.metadata?.name;
    const main = pod.status?.containerStatuses?.find((c) => c.name === 'main');
    if (name && (main?.state?.running || main?.state?.terminated?.startedAt || main?.lastState?.terminated)) this.started.add(name);
  }

  /** Whether the step's pod has printed, or may still print, lines that are not stored yet. */
  logPending(step: string): boolean {
    const pod = this.podOf.get(step);
    return pod !== undefined && this.started.has(pod) && !this.logged.has(pod);
  }

  /** The pod's log is stored to its end (and how it ended recorded). */
  markLogged(pod: string): void {
    this.logged.add(pod);
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  /** Known step pods whose logs are not completely stored yet. */
  pending(): string[] {
    return [...this.podOf.values()].filter((p) => this.started.has(p) && !this.logged.has(p));
  }

  /**
   * Resolves once every known step pod's log is stored (true), or when `signal` aborts first (false). Woken by each
   * stored log: no polling.
   */
  async settled(signal: AbortSignal): Promise<boolean> {
    while (this.pending().length) {
      if (signal.aborted) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        signal.addEventListener('abort', done, { once: true });
        this.wake.push(done);
      });
    }
    return true;
  }
}

/**
 * The task a KFP executor pod runs, from Argo's node-name annotation: `<wf>.root.<task>.executor`, where Argo v4 (KFP
 * 2.17's) marks each retryable node's attempt, `<wf>(0).root(0).<task>(0).executor(0)`.
 */
export function podTask(pod: V1Pod): string | undefined {
  const node = pod.metadata?.annotations?.[NODE_NAME];
  return node ? /\.([^.()]+)(?:\(\d+\))?\.executor(?:\(\d+\))?$/.exec(node)?.[1] : undefined;
}

/** Each step of the record with its KFP task name (as recorded at submission; derived for older records). */
export function stepTasks(record: RunRecord): { name: string; task: string }[] {
  let tasks: Record<string, string> = {};
  try {
    tasks = JSON.parse(record.external?.tasks ?? '{}') as Record<string, string>;
  } catch {
    /* older record: derive below */
  }
  return record.steps.map((s) => ({ name: s.name, task: tasks[s.name] ?? taskName(s.name) }));
}

export async function startPodLogs(ctx: KubeflowContext, record: RunRecord, kfpRunId: string, pods: PodTracking): Promise<PodLogStream | undefined> {
  const conn = await ctx.kubeConnection(record.id, record.external?.namespace ?? ctx.profile.namespace);
  if (!conn) return undefined;
  const { streamPodLogs } = await import('../../kube/logs.js');
  const byTask = new Map(stepTasks(record).map((s) => [s.task, s.name]));
  const runId = record.id;
  // Lines a previous watcher (a restarted backend, a CLI that stopped) already stored are read again from the
  // pods; the first that many of each step are dropped so the stored log has each line once.
  const stored = new Map<string, number>();
  for (const s of record.steps) {
    let n = 0;
    for await (const l of ctx.store.readLogs(runId, s.name)) if (l.stream !== 'system') n++;
    if (n) stored.set(s.name, n);
  }
  const outputs = new Map<string, CellOutputsAssembler>();
  const waiting = new StepWaits(ctx, runId);
  const stream = streamPodLogs({
    conn,
    selector: `pipeline/runid=${kfpRunId}`,
    stepOf: (pod) => {
      const task = podTask(pod);
      const step = task ? byTask.get(task) : undefined;
      const name = pod.metadata?.name;
      if (!step || !name) return undefined;
      pods.saw(pod);
      waiting.note(step, podWaiting(pod));
      if (pods.podOf.get(step) !== name) {
        pods.podOf.set(step, name);
        void ctx.store.updateStep(runId, step, { pod: name }).then((r) => ctx.changed(structuredClone(r)), () => {});
      }
      return step;
    },
    containersOf: () => ['main'],
    stopWhenDone: false,
    sink: async (step, line) => {
      // The cell outputs are not log lines (none was counted above): they are written whole again.
      const skip = stored.get(step) ?? 0;
      if (skip > 0 && line.stream !== 'system' && !isCellOutputsLine(line.text)) {
        stored.set(step, skip - 1);
        return;
      }
      await storeStepLine(ctx, runId, step, outputs, line);
    },
    onWarning: (m) => ctx.warn(runId, m),
    // The pod's ending is recorded before the watcher may take the step's log as complete.
    onPodDone: (pod, step) => void recordPodOutcome(ctx, conn, runId, step, pod).finally(() => pods.markLogged(pod)),
  });
  stream.done.catch((err: unknown) => ctx.warn(runId, `step logs stopped: ${(err as Error).message}`));
  return stream;
}

/**
 * Why each step's pod has not started (kube/pod-waiting.ts), kept on the step record as `preparing` while it holds —
 * the sidebar and the step's cell show it — and said once per kind in the step's log, so `cellpipe submit --watch` and
 * the log say it too. A pod that KFP leaves Pending for ever (no node has the GPU it asks for) is then no mystery.
 */
class StepWaits {
  private readonly now = new Map<string, { what: string; since: string }>();
  /** Records are written one after another: a wait set then cleared (the pod started) must not land cleared-first. */
  private written: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: KubeflowContext, private readonly runId: string) {}

  note(step: string, what: string | undefined): void {
    const before = this.now.get(step);
    if (what === before?.what) return;
    // The kubelet alternates ErrImagePull and ImagePullBackOff: the same kind of wait keeps its start and its one log line.
    const sameKind = before !== undefined && what !== undefined && kindOf(before.what) === kindOf(what);
    const next = what === undefined ? undefined : { what, since: sameKind ? before.since : new Date().toISOString() };
    if (next) this.now.set(step, next);
    else this.now.delete(step);
    this.written = this.written
      .then(() => this.record(step, next, !sameKind))
      .catch((err: unknown) => this.ctx.warn(this.runId, `recording why step ${step} waits: ${(err as Error).message}`));
  }

  private async record(step: string, next: { what: string; since: string } | undefined, say: boolean): Promise<void> {
    if (next && say) {
      const line = { time: next.since, stream: 'system' as const, text: next.what };
      await this.ctx.store.appendLog(this.runId, step, line);
      this.ctx.logged(this.runId, step, line);
    }
    this.ctx.changed(structuredClone(await this.ctx.store.updateStep(this.runId, step, { preparing: next })));
  }
}

/** `waiting for a node`, `cannot pull the image …`: what a wait is, without the kubelet's changing details. */
const kindOf = (what: string) => what.split(/ \(|:/)[0];

/**
 * One line of a step's log (from its pod, or read back from KFP's object store) into the run: a chunk of the cell
 * outputs the step prints goes where a local step writes them, any other line into the step's stored log — and the
 * line the step runtime ends a failed step with becomes the step's error (KFP reports no error text).
 */
export async function storeStepLine(ctx: KubeflowContext, runId: string, step: string, outputs: Map<string, CellOutputsAssembler>, line: LogLine): Promise<void> {
  // The Kubernetes log API (and the launcher's log file) merge stdout and stderr: the prefix alone tells these lines.
  if (isCellOutputsLine(line.text)) {
    await storeCellOutputs(ctx, runId, step, outputs, line.text);
    return;
  }
  await ctx.store.appendLog(runId, step, line);
  ctx.logged(runId, step, line);
  const failure = stepFailureFromLog(step, line.text);
  if (failure) ctx.changed(structuredClone(await ctx.store.updateStep(runId, step, { error: failure })));
}

/** A chunk of a step's cell outputs from its log; the whole document goes where a local step writes it. */
async function storeCellOutputs(ctx: KubeflowContext, runId: string, step: string, outputs: Map<string, CellOutputsAssembler>, text: string): Promise<void> {
  let a = outputs.get(step);
  if (!a) outputs.set(step, (a = new CellOutputsAssembler()));
  const json = a.accept(text);
  if (json === undefined) return;
  const file = path.join(ctx.store.stepDir(runId, step), CELL_OUTPUTS_FILE);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, json);
  await rename(`${file}.tmp`, file);
  const r = await ctx.store.updateStep(runId, step, { cellOutputs: path.relative(ctx.store.dir, file) });
  ctx.changed(structuredClone(r));
}

/**
 * A finished step pod's exit code, and an error for an ending its log cannot tell (an OOM kill at the memory
 * limit, an eviction): in the step record and as a system line in its log.
 */
async function recordPodOutcome(ctx: KubeflowContext, conn: KubeConnection, runId: string, step: string, podName: string): Promise<void> {
  try {
    const { podOutcome } = await import('../../kube/pod-outcome.js');
    const outcome = podOutcome(await conn.core.readNamespacedPod({ name: podName, namespace: conn.namespace }));
    if (!outcome || outcome.exitCode === undefined) return;
    const line = outcome.error ? { time: new Date().toISOString(), stream: 'system' as const, text: outcome.error.message } : undefined;
    if (line) {
      await ctx.store.appendLog(runId, step, line);
      ctx.logged(runId, step, line);
    }
    const r = await ctx.store.updateStep(runId, step, { exitCode: outcome.exitCode, ...(outcome.error ? { error: outcome.error } : {}) });
    ctx.changed(structuredClone(r));
  } catch (err) {
    const { toKubeError } = await import('../../kube/errors.js');
    const e = toKubeError(err, { verb: 'get', resource: 'pods', namespace: conn.namespace, name: podName });
    // Deleted before it was read (a terminated run's pod that never started, a pod cleaned up): nothing to record.
    if (e.kind === 'not-found') return;
    ctx.warn(runId, `reading how pod ${podName} ended: ${e.message}`);
  }
}
