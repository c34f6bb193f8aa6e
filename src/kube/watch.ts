/**
 * List-then-watch of a collection that survives the API server's watch timeouts and "resource version too old"
 * (410 Gone): the watch is re-opened from the last resource version seen, and after a 410 the collection is listed
 * again and the differences are replayed as events — so callers see every change once, without an informer cache.
 */
import { Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeConnection } from './connect.js';
import { KubeError, networkCode, toKubeError } from './errors.js';
import { HttpStatusError, streamGet } from './http.js';
import { sleep } from '../runs/sleep.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchOptions<T> {
  conn: KubeConnection;
  /** Collection path, e.g. `/api/v1/namespaces/ns/pods`. */
  path: string;
  /** For messages, e.g. `pods`, `jobs.batch`. */
  resource: string;
  labelSelector?: string;
  fieldSelector?: string;
  onEvent: (type: WatchEventType, obj: T) => void;
  signal: AbortSignal;
  /** Server-side watch timeout per connection (default 240 s); the watch is re-opened after it. */
  timeoutSeconds?: number;
  /** Transport problems that were retried. */
  onWarning?: (message: string) => void;
  /** Called each time a watch connection opens (for tests: counts re-watches). */
  onWatchStart?: (resourceVersion: string) => void;
}

async function readJson(res: AsyncIterable<Buffer>): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Runs until `signal` aborts; rejects on errors that retrying cannot fix (401, 403, 404 namespace). */
export async function watchObjects<T extends KubernetesObject>(o: WatchOptions<T>): Promise<void> {
  const known = new Map<string, T>();
  const ctx = { verb: 'watch', resource: o.resource, namespace: o.conn.namespace, server: o.conn.server, profile: o.conn.profile || undefined };
  let delay = 200;

  const list = async (): Promise<string> => {
    const res = await streamGet(o.conn.kc, o.path, { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector }, o.signal);
    const body = (await readJson(res)) as { metadata?: { resourceVersion?: string }; items?: T[] };
    const seen = new Set<string>();
    for (const item of body.items ?? []) {
      const uid = item.metadata?.uid ?? item.metadata?.name ?? '';
      seen.add(uid);
      const prev = known.get(uid);
      known.set(uid, item);
      if (!prev) o.onEvent('ADDED', item);
      else if (prev.metadata?.resourceVersion !== item.metadata?.resourceVersion) o.onEvent('MODIFIED', item);
    }
    for (const [uid, item] of known) {
      if (!seen.has(uid)) {
        known.delete(uid);
        o.onEvent('DELETED', item);
      }
    }
    return body.metadata?.resourceVersion ?? '';
  };

  let rv: string | undefined;
  while (!o.signal.aborted) {
    try {
      if (rv === undefined) rv = await list();
      delay = 200;
      // One abort listener per watch request, removed when it ends: the signal outlives many re-watches (every
      // timeoutSeconds), and a listener left per request would pile up on it for as long as the run is followed.
      let stopRequest: (() => void) | undefined;
      const outcome = await new Promise<'expired' | 'closed'>((resolve, reject) => {
        let expired = false;
        o.onWatchStart?.(rv!);
        const started = new Watch(o.conn.kc).watch(
          o.path,
          {
            resourceVersion: rv,
            allowWatchBookmarks: true,
            labelSelector: o.labelSelector,
            fieldSelector: o.fieldSelector,
            timeoutSeconds: o.timeoutSeconds ?? 240,
          },
          (type, obj: T & { code?: number }) => {
            if (type === 'ERROR') {
              if (obj.code === 410) expired = true;
              return;
            }
            if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
            if (type === 'BOOKMARK') return;
            const uid = obj.metadata?.uid ?? obj.metadata?.name ?? '';
            if (type === 'DELETED') known.delete(uid);
            else known.set(uid, obj);
            o.onEvent(type as WatchEventType, obj);
          },
          (err: unknown) => {
            if (err && !o.signal.aborted) {
              const status = (err as { statusCode?: number }).statusCode;
              if (status === 410) resolve('expired');
              else if (status) reject(new HttpStatusError(status, (err as Error).message));
              else reject(err);
            } else resolve(expired ? 'expired' : 'closed');
          },
        );
        started.then((ac) => {
          stopRequest = () => ac.abort();
          o.signal.addEventListener('abort', stopRequest, { once: true });
        }, reject);
      }).finally(() => {
        if (stopRequest) o.signal.removeEventListener('abort', stopRequest);
      });
      if (outcome === 'expired') rv = undefined; // too old: list again, replaying differences
    } catch (err) {
      if (o.signal.aborted) return;
      if (err instanceof HttpStatusError) {
        const kerr = toKubeError(err, ctx, err);
        if (kerr.kind === 'unauthorized' || kerr.kind === 'forbidden' || kerr.status === 404) throw kerr;
        if (err.status === 410) rv = undefined;
      } else if (err instanceof KubeError) {
        throw err;
      } else if (!networkCode(err)) {
        // Not an HTTP answer: a transport problem (closed early, reset, timeout); retried with backoff.
        o.onWarning?.(`watch of ${o.resource} interrupted (${(err as Error).message}); re-watching`);
      }
      await sleep(delay, o.signal);
      delay = Math.min(delay * 2, 5000);
    }
  }
}
