/**
 * Reading KFP's object store (SeaweedFS or MinIO in KFP's manifests, any S3-compatible store) over the S3 API: list a
 * prefix (ListObjectsV2) and get an object, path-style, each request signed with AWS Signature V4 by `aws4fetch`. Only
 * reads: cellpipe never writes into KFP's store. Credentials are held in memory for the requests and never appear
 * in a message. What the keys mean is in ./executor-logs.ts.
 */
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AwsClient } from 'aws4fetch';
import { CellpipeError } from '../core/errors.js';
import { lastExecutorLog, taskPrefix, type BucketPlace, type StoredObject, type TaskRef } from './executor-logs.js';
import { parseListObjects, parseS3Error } from './list-objects.js';

/** An S3 access key pair (KFP keeps it in the namespace's `mlpipeline-minio-artifact` Secret). */
export interface ObjectStoreCredentials {
  accessKey: string;
  secretKey: string;
}

export interface ObjectStoreOptions {
  /** The S3 API's base URL, e.g. `http://seaweedfs.kubeflow:9000`. */
  endpoint: string;
  /** The pipeline root's bucket and prefix: where KFP puts the runs' artifacts. */
  root: BucketPlace;
  credentials: ObjectStoreCredentials;
  /** Signing region; KFP's own client says `minio`, which SeaweedFS and MinIO accept. */
  region?: string;
  /** Per request (default 10 s): an unreachable store costs at most this long. */
  timeoutMs?: number;
  /** Most bytes read of one object (default 32 MiB); of a bigger one only its end is read. */
  maxBytes?: number;
  /** Objects per listing page (S3's `max-keys`; default the store's own, 1000). */
  pageSize?: number;
}

export type ObjectStoreErrorKind = 'unreachable' | 'denied' | 'not-found' | 'api';

export class ObjectStoreError extends CellpipeError {
  constructor(readonly kind: ObjectStoreErrorKind, message: string, hint?: string) {
    super(message, hint);
  }
}

/** A task's executor log as read back from the store. */
export interface ExecutorLog {
  key: string;
  text: string;
  lastModified?: string;
  /** Bytes at the start of the log that were not read (it was bigger than `maxBytes`). */
  skippedBytes: number;
}

/** RFC 3986 percent-encoding, as SigV4 canonicalises: also `!'()*`, which encodeURIComponent leaves. */
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Pages of a listing read at most: a task has a handful of objects; more means a wrong prefix, not a long log. */
const MAX_PAGES = 20;

export class ObjectStore {
  private readonly client: AwsClient;
  private readonly base: string;
  readonly root: BucketPlace;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly pageSize?: number;

  constructor(o: ObjectStoreOptions) {
    if (!/^https?:\/\/[^/]+/.test(o.endpoint)) throw new ObjectStoreError('api', `the object store's endpoint '${o.endpoint}' is not an http:// or https:// URL`);
    this.base = o.endpoint.replace(/\/+$/, '');
    this.root = o.root;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.maxBytes = o.maxBytes ?? 32 * 1024 * 1024;
    this.pageSize = o.pageSize;
    // No retries of its own: a caller that reads after a run can afford to miss a log, not to wait for one.
    this.client = new AwsClient({ accessKeyId: o.credentials.accessKey, secretAccessKey: o.credentials.secretKey, service: 's3', region: o.region ?? 'minio', retries: 0 });
  }

  /** Where this reads, for messages: the endpoint and bucket, never a credential. */
  describe(): string {
    return `the object store ${this.base} (bucket ${this.root.bucket})`;
  }

  /** Every object under `prefix` (all pages of ListObjectsV2). */
  async list(prefix: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: [string, string][] = [['list-type', '2'], ['prefix', prefix]];
      if (this.pageSize) query.push(['max-keys', String(this.pageSize)]);
      if (token) query.push(['continuation-token', token]);
      // Percent-encoded as SigV4 encodes (a space is %20, never `+`): what is sent is what was signed.
      const search = query.map(([k, v]) => `${k}=${encodeRfc3986(v)}`).join('&');
      const url = new URL(`${this.base}/${encodeURIComponent(this.root.bucket)}?${search}`);
      const res = await this.request(url, {}, `listing ${prefix}`);
      const listing = parseListObjects(res.text);
      objects.push(...listing.objects);
      if (!listing.next) return objects;
      token = listing.next;
    }
    throw new ObjectStoreError('api', `listing ${prefix} in ${this.describe()} did not end after ${MAX_PAGES} pages`);
  }

  /** An object's text (UTF-8); of an object over `maxBytes` (its listed `size`), only the last `maxBytes`. */
  async getText(key: string, size?: number): Promise<{ text: string; skippedBytes: number }> {
    const url = new URL(`${this.base}/${encodeURIComponent(this.root.bucket)}/${key.split('/').map(encodeRfc3986).join('/')}`);
    const tail = size !== undefined && size > this.maxBytes;
    const res = await this.request(url, tail ? { range: `bytes=-${this.maxBytes}` } : {}, `reading ${key}`);
    const text = res.text;
    // A store that ignores Range answers 200 with the whole object.
    if (!tail || res.status !== 206) return { text, skippedBytes: 0 };
    // Cut at a line start: the first, partial line of the tail would read as a line of its own.
    const nl = text.indexOf('\n');
    return { text: nl >= 0 ? text.slice(nl + 1) : text, skippedBytes: size - this.maxBytes + (nl >= 0 ? Buffer.byteLength(text.slice(0, nl + 1)) : 0) };
  }

  /**
   * An object's bytes, streamed into the file `file` (created or replaced). The timeout is per wait, not for the whole
   * object: an artifact of gigabytes takes what it takes while bytes keep coming; a store that stops sending fails it.
   */
  async download(key: string, file: string): Promise<number> {
    const url = new URL(`${this.base}/${encodeURIComponent(this.root.bucket)}/${key.split('/').map(encodeRfc3986).join('/')}`);
    const doing = `reading ${key}`;
    const controller = new AbortController();
    let timer = setTimeout(() => controller.abort(), this.timeoutMs);
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), this.timeoutMs);
    };
    let bytes = 0;
    try {
      const signed = await this.client.sign(url.toString(), {});
      const res = await fetch(signed.url, { method: signed.method, headers: signed.headers, signal: controller.signal });
      if (res.status < 200 || res.status >= 300 || !res.body) {
        const text = await res.text();
        throw this.failure(res.status, text, doing);
      }
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          idle();
          done(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), count, createWriteStream(file));
      return bytes;
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string }; code?: string };
      if (!controller.signal.aborted && e.code && /^E(NOSPC|ACCES|ROFS|DQUOT|NOENT)$/.test(e.code)) throw err;
      const why = controller.signal.aborted ? `no answer within ${this.timeoutMs / 1000}s` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new ObjectStoreError('unreachable', `${doing} in ${this.describe()}: ${why}`, "check 'kfp.objectStore.endpoint' in the profile: this machine must reach it");
    } finally {
      clearTimeout(timer);
    }
  }

  /** One signed GET, its answer read whole within the timeout. */
  private async request(url: URL, headers: Record<string, string>, doing: string): Promise<{ status: number; text: string }> {
    // Signed here, sent by Node's fetch with a signal of our own: a signal handed through aws4fetch's fetch reaches the
    // request only through signals Node holds weakly, and once those are garbage-collected the timeout never fires
    // (a silent store then held the caller for undici's 300 s). The timer's closure keeps the controller alive.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let status: number;
    let text: string;
    try {
      const signed = await this.client.sign(url.toString(), { headers });
      const res = await fetch(signed.url, { method: signed.method, headers: signed.headers, signal: controller.signal });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = controller.signal.aborted ? `no answer within ${this.timeoutMs / 1000}s` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new ObjectStoreError('unreachable', `${doing} in ${this.describe()}: ${why}`, "check 'kfp.objectStore.endpoint' in the profile: this machine must reach it");
    } finally {
      clearTimeout(timer);
    }
    if (status >= 200 && status < 300) return { status, text };
    throw this.failure(status, text, doing);
  }

  /** The error for a store's answer that is not a success, from its S3 error document. */
  private failure(status: number, text: string, doing: string): ObjectStoreError {
    const s3 = parseS3Error(text);
    const what = s3?.code ? `${s3.code}${s3.message ? `: ${s3.message}` : ''}` : `HTTP ${status}`;
    const message = `${doing} in ${this.describe()}: ${what}`;
    if (status === 404) return new ObjectStoreError('not-found', message, s3?.code === 'NoSuchBucket' ? "check the pipeline root's bucket ('kfp.pipelineRoot' in the profile)" : undefined);
    if (status === 401 || status === 403) {
      return new ObjectStoreError('denied', message, "the access key in the namespace's object store Secret ('kfp.objectStore.secret', default mlpipeline-minio-artifact) is not accepted there");
    }
    return new ObjectStoreError('api', message);
  }
}

/** The log of the task's last execution in KFP's object store (as its launcher uploaded it); undefined when none. */
export async function findExecutorLog(store: ObjectStore, ref: TaskRef): Promise<ExecutorLog | undefined> {
  const prefix = taskPrefix(store.root, ref);
  const found = lastExecutorLog(await store.list(prefix), prefix);
  if (!found) return undefined;
  const { text, skippedBytes } = await store.getText(found.key, found.size);
  return { key: found.key, text, lastModified: found.lastModified, skippedBytes };
}
