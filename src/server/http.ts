/**
 * Small HTTP helpers for the backend: typed errors that become `{error: {message, hint?}}` bodies,
 * JSON responses, bounded JSON request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { CellpipeError } from '../core/errors.js';
import { DamagedRunError, StoreWriteError } from '../runs/store-errors.js';
import { logUnexpectedError, type FailedRequest } from './error-log.js';

/** An error the user can act on: its status, message and hint are sent to the client as they are. */
export class HttpError extends CellpipeError {
  constructor(
    readonly status: number,
    message: string,
    hint?: string,
    /** Extra fields merged into the error body (e.g. the compiler's diagnostics). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message, hint);
  }
}

/** The body of every error response. */
export interface ErrorBody {
  error: { message: string; hint?: string; [key: string]: unknown };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function errorBody(err: HttpError): ErrorBody {
  const error: ErrorBody['error'] = { message: err.message, ...err.details };
  if (err.hint) error.hint = err.hint;
  return { error };
}

/** A file name for a message: its last part, shortened when it is very long. */
function shortName(file: string | undefined): string {
  const name = path.basename(file ?? '');
  return name.length > 60 ? `${name.slice(0, 40)}…${name.slice(-12)} (${Buffer.byteLength(name)} bytes)` : name;
}

/**
 * The HTTP error for what a request ran into: HttpErrors as they are; the run store's own errors (disk full,
 * store not writable, damaged record) with their status; what the file system says about a request's names
 * (too long) or a full disk as 4xx/507. Anything else is a 500 — a bug in cellpipe; with `errorLog`, it is written
 * there with its stack and the hint names the file.
 */
export function toHttpError(err: unknown, errorLog?: { file: string; req?: FailedRequest }): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof StoreWriteError || err instanceof DamagedRunError) return new HttpError(err.status, err.message, err.hint);
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code === 'ENAMETOOLONG') {
    return new HttpError(400, `a file name is longer than the file system allows (255 bytes): ${shortName(e.path)}`, 'Use a shorter name (notebook, folder or run id).');
  }
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    return new HttpError(507, `disk full: no space left to write ${e.path ?? 'a file'}`, 'Free space on that disk, then try again.');
  }
  const logged = errorLog !== undefined && logUnexpectedError(errorLog.file, err, errorLog.req);
  return new HttpError(
    500,
    `cellpipe backend error: ${err instanceof Error ? err.message : String(err)}`,
    logged
      ? `This is a bug in cellpipe; the details (the stack) are in ${errorLog.file} — please report it with them.`
      : 'This is a bug in cellpipe; the backend log (Jupyter server output) has the details.',
  );
}

/**
 * Sends `err` as a JSON error; anything that is not a user's or the disk's doing is a 500 whose message is kept, its
 * stack written to `errorLog` (when given) and not sent.
 */
export function sendError(res: ServerResponse, err: unknown, errorLog?: { file: string; req?: FailedRequest }): void {
  const httpError = toHttpError(err, errorLog);
  if (res.headersSent) {
    // A stream already started: the best we can do is end it.
    res.end();
    return;
  }
  sendJson(res, httpError.status, errorBody(httpError));
}

/** The header the JupyterLab extension (and cellpipe's own clients) send with every request. A page on another
 *  origin can't send it without a CORS preflight, which this backend never grants. */
export const CLIENT_HEADER = 'x-cellpipe-request';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function headerValues(v: string | string[] | undefined): string[] {
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((x) => x.split(',')).map((x) => x.trim().toLowerCase()).filter(Boolean);
}

/**
 * Refuses a state-changing request a web page on another site could have sent (a form post, `sendBeacon`, `fetch`
 * with `mode: 'no-cors'`): those can't send a JSON content type or {@link CLIENT_HEADER} without a preflight, and
 * browsers name their page in `Origin`. So a POST/PUT/PATCH/DELETE needs `content-type: application/json`, and an
 * `Origin`, when there is one, must be this server (its `Host`, or `X-Forwarded-Host` behind a proxy) unless the
 * request carries {@link CLIENT_HEADER}. Requests without `Origin` come from programs, not pages (browsers send it
 * with every POST). Behind Jupyter the proxy passes these headers through, so the same check holds there.
 */
export async function refuseCrossSite(req: IncomingMessage): Promise<void> {
  if (!STATE_CHANGING.has(req.method ?? '')) return;
  const type = String(req.headers['content-type'] ?? '');
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    await drain(req);
    throw new HttpError(415, `${req.method} requests must have content-type application/json${type ? `, not '${type}'` : ''}`,
      'cellpipe refuses other bodies so that a page on another site cannot send it commands');
  }
  const origin = req.headers.origin;
  if (origin === undefined || req.headers[CLIENT_HEADER] !== undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    host = undefined;
  }
  const ours = [...headerValues(req.headers.host), ...headerValues(req.headers['x-forwarded-host'])];
  if (!host || !ours.includes(host)) {
    await drain(req);
    throw new HttpError(403, `refused a cross-site ${req.method} request from ${origin === 'null' ? 'an opaque origin' : `'${origin}'`}`,
      `only pages served by this server may change cellpipe's state (its own pages send the ${CLIENT_HEADER} header)`);
  }
}

/** Reads a refused request's body (up to {@link MAX_BODY_BYTES}) before the answer: a proxy still sending it
 *  (jupyter-server-proxy) would otherwise meet a closed connection and turn the refusal into a 500. */
async function drain(req: IncomingMessage): Promise<void> {
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) break;
  }
}

/** Largest JSON body accepted (parameters of a run are small; a notebook is never uploaded). */
export const MAX_BODY_BYTES = 1 << 20;

/** Reads and parses a JSON object body; 400/413/415 with a clear message otherwise. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = String(req.headers['content-type'] ?? '');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  if (type && !/^application\/json\b/i.test(type)) {
    throw new HttpError(415, `expected a JSON body (content-type application/json), got '${type}'`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  const deep = tooDeep(value as Record<string, unknown>, MAX_JSON_DEPTH);
  if (deep !== undefined) {
    throw new HttpError(400, `field '${deep}' of the request is nested more than ${MAX_JSON_DEPTH} levels deep (lists or objects inside each other)`, 'Pass a flatter value; a step can read a deeper structure from a file.');
  }
  return value as Record<string, unknown>;
}

/** Deepest nesting a request's JSON may have: deeper values would overflow the stack of whatever walks them later. */
export const MAX_JSON_DEPTH = 100;

/** The top-level field of `body` whose value nests deeper than `limit`; else undefined. */
function tooDeep(body: Record<string, unknown>, limit: number): string | undefined {
  return Object.entries(body).find(([, value]) => nestedDeeperThan(value, limit))?.[0];
}

/** Do lists or objects nest deeper than `limit` levels in `value`? (Found without recursion, so any depth is safe.) */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(v as object)) stack.push([child, depth + 1]);
  }
  return false;
}

/** A required string field of a JSON body. */
export function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') {
    throw new HttpError(400, `field '${field}' is required and must be a non-empty string`);
  }
  return value;
}
