/**
 * Small HTTP helpers for the backend: typed errors that become `{error: {message, hint?}}` bodies,
 * JSON responses, bounded JSON request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

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

/** Sends `err` as a JSON error; anything that is not an HttpError is a 500 whose message is kept, stack is not. */
export function sendError(res: ServerResponse, err: unknown): void {
  const httpError =
    err instanceof HttpError
      ? err
      : new HttpError(
          500,
          `cellpipe backend error: ${err instanceof Error ? err.message : String(err)}`,
          'This is a bug in cellpipe; the backend log (Jupyter server output) has the details.',
        );
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
  return value as Record<string, unknown>;
}

/** A required string field of a JSON body. */
export function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') {
    throw new HttpError(400, `field '${field}' is required and must be a non-empty string`);
  }
  return value;
}
