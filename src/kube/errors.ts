import { CellpipeError } from '../core/errors.js';
/**
 * Kubernetes failures in the user's words. Every error cellpipe's Kubernetes layer throws is a `KubeError` whose
 * message says what failed and whose `hint` says what to do; the raw API status stays available for logs.
 */

/** What kind of failure, stable for callers and tests. */
export type KubeErrorKind =
  | 'no-kubeconfig'
  | 'no-context'
  | 'unreachable'
  | 'unauthorized'
  | 'forbidden'
  | 'namespace-not-found'
  | 'not-found'
  | 'invalid'
  | 'conflict'
  | 'api';

export class KubeError extends CellpipeError {
  readonly kind: KubeErrorKind;
  readonly hint: string;
  /** HTTP status, when the API server answered. */
  readonly status?: number;
  /** For `forbidden`: the verb and resource that were denied, e.g. `create` `jobs.batch`. */
  readonly verb?: string;
  readonly resource?: string;

  constructor(
    kind: KubeErrorKind,
    message: string,
    hint: string,
    extra: { status?: number; verb?: string; resource?: string; cause?: unknown } = {},
  ) {
    super(message, hint, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'KubeError';
    this.kind = kind;
    this.hint = hint;
    this.status = extra.status;
    this.verb = extra.verb;
    this.resource = extra.resource;
  }

  /** Message and hint on two lines, as the CLI prints them. */
  describe(): string {
    return `${this.message}\n  fix: ${this.hint}`;
  }
}

/** The parts of a Kubernetes `Status` object cellpipe reads. */
interface ApiStatus {
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string };
}

/** What the failing request was, to phrase the message ("creating job cellpipe-build-x"). */
export interface RequestContext {
  /** e.g. `create`, `get`, `watch`, `delete`, `list`. */
  verb: string;
  /** Plural resource with group, e.g. `jobs.batch`, `pods`, `pods/log`. */
  resource: string;
  namespace?: string;
  name?: string;
  /** API server URL, for unreachable errors. */
  server?: string;
  /** Profile name, for hints. */
  profile?: string;
}

function parseStatus(body: unknown): ApiStatus | undefined {
  if (body && typeof body === 'object') return body as ApiStatus;
  if (typeof body === 'string' && body.trim().startsWith('{')) {
    try {
      return JSON.parse(body) as ApiStatus;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The network error code (ECONNREFUSED, …) buried in a fetch/https error, if any. */
export function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    const errno = (e as { errno?: unknown }).errno;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    if (typeof errno === 'string' && NETWORK_CODES.has(errno)) return errno;
    e = (e as { cause?: unknown }).cause;
  }
  const text = String((err as Error)?.message ?? err);
  for (const c of NETWORK_CODES) if (text.includes(c)) return c;
  return undefined;
}

function what(ctx: RequestContext): string {
  const res = ctx.resource.replace(/\.batch$/, '');
  return `${ctx.verb} ${res}${ctx.name ? ` '${ctx.name}'` : ''}${ctx.namespace ? ` in namespace '${ctx.namespace}'` : ''}`;
}

/**
 * Turns anything the client library throws (ApiException, fetch errors, plain errors) into a `KubeError`.
 * `status`/`body` may also be passed directly for raw HTTP requests.
 */
export function toKubeError(err: unknown, ctx: RequestContext, raw?: { status: number; body: string }): KubeError {
  if (err instanceof KubeError) return err;
  const profile = ctx.profile ? `profile '${ctx.profile}'` : 'the cellpipe profile';
  const status = raw?.status ?? (typeof (err as { code?: unknown })?.code === 'number' ? ((err as { code: number }).code) : undefined);
  const body = parseStatus(raw ? raw.body : (err as { body?: unknown })?.body);
  if (status === undefined) {
    const code = networkCode(err);
    if (code || /fetch|socket|connect|TLS|certificate/i.test(String((err as Error)?.message))) {
      return new KubeError(
        'unreachable',
        `cannot reach the Kubernetes API server${ctx.server ? ` at ${ctx.server}` : ''} (${code ?? (err as Error)?.message ?? err}) while trying to ${what(ctx)}`,
        `check that the cluster is running and that the kubeconfig of ${profile} points at it (server URL, network, VPN)`,
        { cause: err },
      );
    }
    return new KubeError('api', `${what(ctx)} failed: ${(err as Error)?.message ?? String(err)}`, 'see the message above', { cause: err });
  }
  const message = body?.message ?? (err as Error)?.message ?? `HTTP ${status}`;
  if (status === 401) {
    return new KubeError(
      'unauthorized',
      `the Kubernetes API server rejected the credentials (401 Unauthorized) while trying to ${what(ctx)}`,
      `the token or certificate in the kubeconfig of ${profile} is missing, wrong or expired: log in to the cluster again (or refresh the kubeconfig)`,
      { status, cause: err },
    );
  }
  if (status === 403) {
    // "jobs.batch is forbidden: User "x" cannot create resource "jobs" in API group "batch" in the namespace "y""
    const m = /cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?/.exec(message);
    const verb = m?.[1] ?? ctx.verb;
    const resource = m ? (m[3] ? `${m[2]}.${m[3]}` : m[2]) : ctx.resource;
    const user = /User "([^"]+)"/.exec(message)?.[1];
    return new KubeError(
      'forbidden',
      `permission denied: ${user ? `'${user}'` : 'this account'} may not ${verb} ${resource}${ctx.namespace ? ` in namespace '${ctx.namespace}'` : ''} (403 Forbidden)`,
      `ask a cluster admin to grant '${verb}' on '${resource}' in namespace '${ctx.namespace ?? '<namespace>'}' (a Role + RoleBinding), or use a profile whose account has it`,
      { status, verb, resource, cause: err },
    );
  }
  if (status === 404) {
    const details = body?.details;
    if (ctx.namespace && details?.kind === 'namespaces' && details.name === ctx.namespace) {
      return namespaceNotFound(ctx.namespace, profile, err);
    }
    return new KubeError('not-found', `${what(ctx)}: not found (${message})`, 'check the name and namespace', { status, cause: err });
  }
  if (status === 409) {
    return new KubeError('conflict', `${what(ctx)}: ${message}`, 'it already exists or changed meanwhile; retry', { status, cause: err });
  }
  if (status === 422 || status === 400) {
    return new KubeError('invalid', `${what(ctx)} was rejected by the API server: ${message}`, 'this is a cellpipe bug if the object was made by cellpipe; please report it with this message', { status, cause: err });
  }
  return new KubeError('api', `${what(ctx)} failed (HTTP ${status}): ${message}`, 'retry; if it persists, check the API server', { status, cause: err });
}

export function namespaceNotFound(namespace: string, profile: string, cause?: unknown): KubeError {
  return new KubeError(
    'namespace-not-found',
    `namespace '${namespace}' not found in the cluster`,
    `set 'namespace' of ${profile} to an existing namespace (kubectl get namespaces), or ask an admin to create '${namespace}'`,
    { status: 404, cause },
  );
}
