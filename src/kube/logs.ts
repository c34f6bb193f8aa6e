/**
 * Pod logs of a run, streamed into the run store as they arrive so they outlive the pods.
 *
 * `streamPodLogs` watches the pods matching a label selector; for each pod and container it follows the log
 * (`follow=true&timestamps=true`). A dropped stream is resumed with `sinceTime` (whole seconds, the API's precision)
 * and the lines already delivered are skipped by their nanosecond timestamps, so every line reaches the sink once and
 * in order. Pods that have not started yet are waited for; a restarted container's previous log is finished first;
 * a deleted pod ends its stream (what arrived is in the store). A container whose stream broke (a dropped connection,
 * a follow cut at its end) has its whole log read once more after it terminated, the lines already delivered dropped:
 * the kubelet's last lines of a container that exits as its stream is cut are not lost. Memory is bounded: lines are handed to the sink one at
 * a time and the socket is not read while the sink is busy.
 */
import { setMaxListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { LogLine } from '../runs/types.js';
import type { KubeConnection } from './connect.js';
import { KubeError, networkCode, toKubeError } from './errors.js';
import { HttpStatusError, streamGet } from './http.js';
import { watchObjects } from './watch.js';

/** Receives every line of every step, in order per container. The promise paces the stream (back-pressure). */
export type LogSink = (step: string, line: LogLine) => Promise<void>;

/** A log line's position: nanoseconds since the epoch, from the kubelet's RFC 3339 timestamp. */
export function parseTimestamp(ts: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** `sinceTime` for a resume: the timestamp rounded down to the second (RFC 3339, what the API accepts). */
export function sinceTimeFor(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Where a container's log was read up to. A new connection replays from a whole second; `accept` drops what was
 * already delivered: lines before the last timestamp, and as many lines at exactly the last timestamp as were
 * delivered at it (lines can share a timestamp).
 */
export class LogCursor {
  last?: bigint;
  private atLast = 0;
  private skipAtLast = 0;

  /** Call when a new connection starts (replay from `since()`). */
  reconnect(): void {
    this.skipAtLast = this.atLast;
  }

  /** Whether a line with this timestamp is new; updates the position when it is. */
  accept(ts: bigint): boolean {
    if (this.last === undefined || ts > this.last) {
      this.last = ts;
      this.atLast = 1;
      this.skipAtLast = 0;
      return true;
    }
    if (ts < this.last) return false;
    if (this.skipAtLast > 0) {
      this.skipAtLast--;
      return false;
    }
    this.atLast++;
    return true;
  }

  since(): string | undefined {
    return this.last === undefined ? undefined : sinceTimeFor(this.last);
  }
}

/** Splits a byte stream into lines without holding more than one partial line. */
async function* lines(res: AsyncIterable<Buffer>, maxLine = 1 << 20): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of res) {
    const text = rest + chunk.toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      yield text.slice(start, nl);
      start = nl + 1;
    }
    rest = text.slice(start);
    if (rest.length > maxLine) {
      yield rest;
      rest = '';
    }
  }
  if (rest) yield rest;
}

/** State of one container as the pod watch last saw it. */
interface ContainerView {
  /** 'restarting': the container exited and the kubelet will start it again (restartPolicy Always, or OnFailure after a failure). */
  state: 'waiting' | 'running' | 'restarting' | 'terminated' | 'gone';
  restartCount: number;
  reason?: string;
}

function viewOf(pod: V1Pod | undefined, container: string, init: boolean): ContainerView {
  if (!pod) return { state: 'gone', restartCount: 0 };
  const statuses: V1ContainerStatus[] = (init ? pod.status?.initContainerStatuses : pod.status?.containerStatuses) ?? [];
  const s = statuses.find((c) => c.name === container);
  const phase = pod.status?.phase;
  // A finished pod (completed, failed, evicted) runs no container, whatever its last container status says.
  if (phase === 'Succeeded' || phase === 'Failed') {
    return { state: 'terminated', restartCount: s?.restartCount ?? 0, reason: pod.status?.reason ?? phase };
  }
  if (!s) return { state: 'waiting', restartCount: 0, reason: phase };
  if (s.state?.terminated) {
    // A kubelet reports the exited container as terminated until it starts the next attempt (at once, or after a
    // back-off): the pod is not done, so neither is its log.
    const policy = init ? 'OnFailure' : pod.spec?.restartPolicy ?? 'Always';
    const again = policy === 'Always' || (policy === 'OnFailure' && s.state.terminated.exitCode !== 0);
    return { state: again ? 'restarting' : 'terminated', restartCount: s.restartCount ?? 0, reason: s.state.terminated.reason };
  }
  if (s.state?.running) return { state: 'running', restartCount: s.restartCount ?? 0 };
  return { state: 'waiting', restartCount: s.restartCount ?? 0, reason: s.state?.waiting?.reason };
}

/** Options of `streamPodLogs`. */
export interface PodLogOptions {
  conn: KubeConnection;
  /** Label selector of the pods whose logs to stream, e.g. `pipelines.kubeflow.org/run-id=…`. */
  selector: string;
  /** The step a pod belongs to (from its labels); pods mapping to `undefined` are ignored. */
  stepOf: (pod: V1Pod) => string | undefined;
  /** Which containers to stream (default: every container of the spec, not init containers). */
  containersOf?: (pod: V1Pod) => string[];
  sink: LogSink;
  /** End when every pod seen has terminated and its log is read (default: run until `stop()`). */
  stopWhenDone?: boolean;
  /** Delay before reconnecting a dropped stream, doubling up to 5 s (default 200 ms). */
  retryDelayMs?: number;
  /** Called for problems that do not stop streaming (reconnects, denied access, …). */
  onWarning?: (message: string) => void;
  /** Called once a pod has terminated and the log of every container streamed from it is in the sink. */
  onPodDone?: (pod: string, step: string) => void;
}

export interface PodLogStream {
  /** Resolves when streaming ended (stopped, or done with `stopWhenDone`); rejects on a fatal error (e.g. 403). */
  done: Promise<void>;
  /** Stops every stream; lines already handed to the sink stay there. */
  stop(): void;
  /** Number of (re)connections made, per `pod/container` — for tests and diagnostics. */
  connections: Map<string, number>;
  /** Resolves once the pods that existed at the start are known (each handed to `stepOf`), or streaming ended. */
  synced: Promise<void>;
  /**
   * Lists the pods now and follows those the watch has not delivered yet (and the endings it has not delivered yet):
   * whoever learns from elsewhere that the pods are over (KFP's run state) catches the watch up before waiting for
   * their logs. Resolves when the listed pods are handed to `stepOf`; a failed listing is a warning.
   */
  resync(): Promise<void>;
}

class Waiter {
  private waiters: (() => void)[] = [];
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  /** Resolves on the next notify, after `ms`, or on abort. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }
}

/** Follows one container of one pod until it terminated and its log is read, or the pod is gone. */
class ContainerFollower {
  readonly key: string;
  private readonly changed = new Waiter();
  private view: ContainerView;
  private current?: AbortController;
  /** Whether the current connection follows (only a follow stream can hang on a terminated container). */
  private currentFollows = false;
  /** A connection ended before the container's log did: the terminated container's log is read whole once more. */
  private broken = false;
  readonly finished: Promise<void>;

  constructor(
    private readonly opts: PodLogOptions,
    private readonly podName: string,
    private readonly container: string,
    private readonly step: string,
    pod: V1Pod,
    private readonly signal: AbortSignal,
    private readonly connections: Map<string, number>,
  ) {
    this.key = `${podName}/${container}`;
    this.view = viewOf(pod, container, false);
    this.finished = this.run();
  }

  /** The pod watch saw a change (or the pod's deletion: `undefined`). */
  update(pod: V1Pod | undefined): void {
    const before = this.view;
    this.view = viewOf(pod, this.container, false);
    // A follow stream on a terminated container may stay open (KWOK never closes it): end it, then catch up.
    // A one-shot read of a finished container ends by itself; cutting it would lose what it had not read yet.
    if (this.currentFollows && (['terminated', 'restarting', 'gone'].includes(this.view.state) || this.view.restartCount > before.restartCount)) {
      this.current?.abort();
    }
    this.changed.notify();
  }

  private system(text: string): Promise<void> {
    return this.opts.sink(this.step, { time: new Date().toISOString(), stream: 'system', text });
  }

  private async run(): Promise<void> {
    let attempt = this.view.restartCount;
    /** The attempt whose log was read to its end after it exited, while its restart is awaited. */
    let readUntilExit = -1;
    let cursor = new LogCursor();
    let delay = this.opts.retryDelayMs ?? 200;
    const maxDelay = 5000;
    while (!this.signal.aborted) {
      const view = this.view;
      if (view.state === 'gone') {
        // Deleted: what is still readable (e.g. deleted right after it finished) is fetched once; a 404 ends it.
        if (cursor.last !== undefined) await this.read(cursor, { previous: false, follow: false });
        return;
      }
      if (view.state === 'waiting' && view.restartCount === attempt && cursor.last === undefined) {
        await this.changed.wait(2000, this.signal);
        continue;
      }
      if (view.restartCount > attempt) {
        // The container restarted: finish the attempt we were reading from its previous log, then start afresh.
        if (view.restartCount === attempt + 1) await this.read(cursor, { previous: true, follow: false });
        attempt = view.restartCount;
        cursor = new LogCursor();
        await this.system(`container '${this.container}' restarted (restart ${attempt})`);
        continue;
      }
      if (view.state === 'restarting' && readUntilExit === attempt) {
        // Until the next attempt starts (a back-off can take minutes) there is nothing more to read.
        await this.changed.wait(2000, this.signal);
        continue;
      }
      const terminated = view.state === 'terminated' || view.state === 'restarting';
      // After a broken stream the exited container's log is read from its start (duplicates dropped by the cursor):
      // a resume from the last second seen relies on the kubelet's timestamps alone.
      const whole = terminated && this.broken;
      const outcome = await this.read(cursor, { previous: false, follow: !terminated, whole });
      if (outcome === 'ok' && whole) this.broken = false;
      if (outcome === 'ok' && view.state === 'restarting') readUntilExit = attempt;
      if (this.signal.aborted) return;
      if (outcome === 'gone') return;
      if (outcome !== 'ok') this.broken = true;
      if (outcome === 'cut') continue; // ended on purpose: read again from where it stopped
      if (outcome === 'ok' && view.state === 'terminated' && !(this.view.restartCount > attempt)) return;
      if (outcome === 'ok') {
        delay = this.opts.retryDelayMs ?? 200;
        // A follow that ended before the watch said the container ended may have ended early: read it whole later.
        if (!terminated) this.broken = true;
        if (['terminated', 'restarting', 'gone'].includes(this.view.state) || this.view.restartCount > attempt) continue;
        // The stream ended while the pod watch still says running: the watch may just lag behind the container's
        // exit (the kubelet ends a follow when the container exits), else a connection dropped (or the API server
        // timed it out) — said once the watch has had its chance to tell.
        await this.changed.wait(delay, this.signal);
        if (this.signal.aborted) return;
        if (this.view.state === 'running' && this.view.restartCount === attempt) {
          this.opts.onWarning?.(`log stream of ${this.key} ended while the container runs; reconnecting`);
        }
        continue;
      }
      await this.changed.wait(delay, this.signal);
      delay = Math.min(delay * 2, maxDelay);
    }
  }

  /**
   * One connection: reads lines and delivers the new ones. 'ok' when the stream ended (or was ended on purpose),
   * 'retry' on a network error or a not-yet-readable container, 'gone' when the pod no longer exists.
   */
  private async read(cursor: LogCursor, o: { previous: boolean; follow: boolean; whole?: boolean }): Promise<'ok' | 'retry' | 'gone' | 'cut'> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    this.signal.addEventListener('abort', onAbort, { once: true });
    this.current = controller;
    this.currentFollows = o.follow;
    this.connections.set(this.key, (this.connections.get(this.key) ?? 0) + 1);
    cursor.reconnect();
    let res: IncomingMessage | undefined;
    try {
      res = await streamGet(
        this.opts.conn.kc,
        `/api/v1/namespaces/${encodeURIComponent(this.opts.conn.namespace)}/pods/${encodeURIComponent(this.podName)}/log`,
        {
          container: this.container,
          follow: o.follow || undefined,
          previous: o.previous || undefined,
          timestamps: true,
          sinceTime: o.whole ? undefined : cursor.since(),
        },
        controller.signal,
      );
      for await (const raw of lines(res)) {
        const sp = raw.indexOf(' ');
        const ts = sp > 0 ? parseTimestamp(raw.slice(0, sp)) : undefined;
        if (ts === undefined) {
          // Not a timestamped line (should not happen with timestamps=true): deliver as is.
          await this.opts.sink(this.step, { time: new Date().toISOString(), stream: 'stdout', text: raw });
          continue;
        }
        if (!cursor.accept(ts)) continue;
        await this.opts.sink(this.step, { time: new Date().toISOString(), stream: 'stdout', text: raw.slice(sp + 1) });
      }
      return controller.signal.aborted && !this.signal.aborted ? 'cut' : 'ok';
    } catch (err) {
      if (controller.signal.aborted) return this.signal.aborted ? 'ok' : 'cut';
      if (err instanceof HttpStatusError) {
        if (err.status === 404) return 'gone';
        if (err.status === 400 && /waiting to start|ContainerCreating|PodInitializing|not found|previous terminated container/i.test(err.body)) {
          return 'retry';
        }
        const kerr = toKubeError(err, { verb: 'get', resource: 'pods/log', namespace: this.opts.conn.namespace, name: this.podName, server: this.opts.conn.server }, err);
        if (kerr.kind === 'forbidden' || kerr.kind === 'unauthorized') throw kerr;
        this.opts.onWarning?.(`${this.key}: ${kerr.message}`);
        return 'retry';
      }
      if (networkCode(err) || (err as Error).name === 'AbortError' || /aborted|socket hang up|premature close/i.test(String((err as Error).message))) {
        this.opts.onWarning?.(`log stream of ${this.key} dropped (${(err as Error).message}); reconnecting`);
        return 'retry';
      }
      throw err;
    } finally {
      this.signal.removeEventListener('abort', onAbort);
      if (this.current === controller) this.current = undefined;
      res?.destroy();
    }
  }
}

/** Streams the logs of every pod matching `selector` into `sink` (see the module comment). */
export function streamPodLogs(opts: PodLogOptions): PodLogStream {
  const controller = new AbortController();
  // Every container followed listens on this one signal (while connected, and while waiting to reconnect), and
  // removes its listener after: a 20-step run has 40 of them at once, no leak, so Node's warning at 11 is off here.
  setMaxListeners(0, controller.signal);
  const followers = new Map<string, ContainerFollower>();
  const podsSeen = new Map<string, V1Pod | undefined>();
  const connections = new Map<string, number>();
  let fatal: unknown;
  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  const containersOf = opts.containersOf ?? ((pod: V1Pod) => (pod.spec?.containers ?? []).map((c) => c.name));
  let resolveSynced!: () => void;
  const synced = new Promise<void>((res) => (resolveSynced = res));
  const podReported = new Set<string>();
  let stopped = false;

  const finishIfDone = () => {
    if (!opts.stopWhenDone || podsSeen.size === 0) return;
    for (const pod of podsSeen.values()) {
      const phase = pod?.status?.phase;
      if (pod && phase !== 'Succeeded' && phase !== 'Failed') return;
    }
    const waitingFor = [...followers.values()];
    void Promise.all(waitingFor.map((f) => f.finished)).then(() => {
      // Pods seen meanwhile (e.g. the rest of the first listing) have followers of their own to wait for.
      if (followers.size !== waitingFor.length) return;
      for (const pod of podsSeen.values()) {
        const phase = pod?.status?.phase;
        if (pod && phase !== 'Succeeded' && phase !== 'Failed') return;
      }
      controller.abort();
    });
  };

  const onPod = (type: string, pod: V1Pod) => {
    const name = pod.metadata?.name;
    if (!name) return;
    const step = opts.stepOf(pod);
    if (step === undefined) return;
    const gone = type === 'DELETED';
    podsSeen.set(name, gone ? undefined : pod);
    let created = false;
    for (const container of containersOf(pod)) {
      const key = `${name}/${container}`;
      let f = followers.get(key);
      if (!f && !gone) {
        f = new ContainerFollower(opts, name, container, step, pod, controller.signal, connections);
        followers.set(key, f);
        f.finished.then(finishIfDone, (err) => {
          fatal ??= err;
          controller.abort();
        });
        created = true;
      } else f?.update(gone ? undefined : pod);
    }
    if (created && opts.onPodDone && !podReported.has(name)) {
      podReported.add(name);
      const all = containersOf(pod).flatMap((c) => followers.get(`${name}/${c}`)?.finished ?? []);
      void Promise.all(all).then(() => {
        if (!stopped && fatal === undefined) opts.onPodDone?.(name, step);
      }, () => undefined);
    }
    finishIfDone();
  };

  const watching = watchObjects<V1Pod>({
    conn: opts.conn,
    path: `/api/v1/namespaces/${encodeURIComponent(opts.conn.namespace)}/pods`,
    resource: 'pods',
    labelSelector: opts.selector,
    onEvent: onPod,
    signal: controller.signal,
    onWarning: opts.onWarning,
    onWatchStart: () => resolveSynced(),
  });
  watching.catch((err) => {
    fatal ??= err;
    controller.abort();
  });

  controller.signal.addEventListener('abort', () => {
    resolveSynced();
    void Promise.allSettled([watching, ...[...followers.values()].map((f) => f.finished)]).then(() =>
      fatal ? rejectDone(fatal) : resolveDone(),
    );
  });
  const stop = () => {
    stopped = true;
    controller.abort();
  };
  const resync = async () => {
    if (controller.signal.aborted) return;
    try {
      const list = await opts.conn.core.listNamespacedPod({ namespace: opts.conn.namespace, labelSelector: opts.selector });
      if (controller.signal.aborted) return;
      for (const pod of list.items) {
        const name = pod.metadata?.name;
        if (!name) continue;
        const known = podsSeen.get(name);
        // A listing can be older than what the watch delivered since: it only adds pods and endings (phases do not
        // go back from Succeeded or Failed).
        const ended = (p?: V1Pod) => p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed';
        if (!podsSeen.has(name)) onPod('ADDED', pod);
        else if (known && !ended(known) && ended(pod)) onPod('MODIFIED', pod);
      }
    } catch (err) {
      opts.onWarning?.(`listing the pods (${opts.selector}): ${(err as Error).message}`);
    }
  };
  return { done, stop, connections, synced, resync };
}

export { KubeError };
