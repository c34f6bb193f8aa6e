/**
 * Small HTTP helpers for the backend: typed errors that become `{error: {message, hint?}}` bodies,
 * JSON responses, bounded JSON request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { DamagedRunError, StoreWriteError } from '../runs/store-errors.js';

/** An error the user can act on: its status, message and hint are sent to the client as they are. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
    /** Extra fields merged into the error body (e.g. the compiler's diagnostics). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
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
 * (too long) or a full disk as 4xx/507. Anything else is a 500 — a bug in cellpipe.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof StoreWriteError || err instanceof DamagedRunError) return new HttpError(err.status, err.message, err.hint);
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code === 'ENAMETOOLONG') {
    return new HttpError(400, `a file name is longer than the file system allows (255 bytes): ${shortName(e.path)}`, 'Use a shorter name (notebook, folder or run id).');
  }
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    return new HttpError(507, `disk full: no space left to write ${e.path ?? 'a file'}`, 'Free space on that disk, then try again.');
  }
  return new HttpError(
    500,
    `cellpipe backend error: ${err instanceof Error ? err.message : String(err)}`,
    'This is a bug in cellpipe; the backend log (Jupyter server output) has the details.',
  );
}

/** Sends `err` as a JSON error; anything that is not a user's or the disk's doing is a 500 whose message is kept, stack is not. */
export function sendError(res: ServerResponse, err: unknown): void {
  const httpError = toHttpError(err);
  if (res.headersSent) {
    // A stream already started: the best we can do is end it.
    res.end();
    return;
  }
  sendJson(res, httpError.status, errorBody(httpError));
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
