import { CellpipeError } from '../core/errors.js';
/**
 * Kubeflow Pipelines failures in the user's words: every error the KFP client throws is a `KfpError` whose message
 * says what failed (with the endpoint and namespace) and whose `hint` says what to do. Tokens never appear in them.
 */

export type KfpErrorKind =
  | 'unreachable'
  | 'unauthorized'
  | 'forbidden'
  | 'namespace'
  | 'not-found'
  | 'invalid'
  | 'conflict'
  | 'config'
  | 'api';

export class KfpError extends CellpipeError {
  readonly kind: KfpErrorKind;
  readonly hint: string;
  /** HTTP status, when KFP (or the Kubernetes API proxy) answered. */
  readonly status?: number;
  /** The body of KFP's error answer (never holds credentials), for callers that read more into it. */
  readonly bodyText?: string;

  constructor(kind: KfpErrorKind, message: string, hint: string, extra: { status?: number; cause?: unknown; body?: string } = {}) {
    super(message, hint, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'KfpError';
    this.kind = kind;
    this.hint = hint;
    this.status = extra.status;
    this.bodyText = extra.body;
  }

  /** Message and hint on two lines, as the CLI prints them. */
  describe(): string {
    return `${this.message}\n  fix: ${this.hint}`;
  }

  /** Transient: worth retrying later (KFP or the cluster is down or overloaded). */
  get transient(): boolean {
    return this.kind === 'unreachable' || (this.kind === 'api' && (this.status === undefined || this.status >= 500 || this.status === 429));
  }
}

/** What the failing request was, to phrase messages. */
export interface KfpRequestContext {
  /** e.g. `create the experiment 'x'`, `upload pipeline 'y'`. */
  action: string;
  /** Where KFP was reached, for messages (never holds credentials). */
  endpoint: string;
  /** How the client authenticates, for hints (`none`, `token-file /path`, `kubeconfig`, `token from $VAR`). */
  auth: string;
  namespace?: string;
  profile?: string;
  /** Set when going through the Kubernetes API service proxy. */
  viaKube?: boolean;
}

/**
 * The message inside a KFP error body: grpc-gateway `google.rpc.Status`, or the upload handler's
 * `{error_message, error_details}` — whose details are the error chain followed by a Go stack trace (and which may
 * come as `text/plain`), so only the chain's lines that are not the message itself or stack frames are kept.
 */
export function errorMessageOf(body: string): string {
  const text = body.trim();
  if (text.startsWith('{')) {
    try {
      const j = JSON.parse(text) as Record<string, unknown>;
      for (const key of ['message', 'error_message', 'error']) {
        if (typeof j[key] === 'string' && j[key]) {
          const message = j[key] as string;
          const details = typeof j.error_details === 'string' ? errorChain(j.error_details).filter((l) => l !== message) : [];
          return details.length ? `${message}: ${details.join(': ')}` : message;
        }
      }
    } catch {
      /* not JSON after all */
    }
  }
  return text.slice(0, 500) || '(empty response)';
}

/** The lines of a Go error text before its stack trace (`pkg.Func` followed by a tab-indented `file:line`). */
function errorChain(details: string): string[] {
  const lines = details.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i + 1]?.startsWith('\t') || lines[i].startsWith('\t')) break;
    if (lines[i].trim()) out.push(lines[i].trim());
  }
  return out;
}

const NETWORK = /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|timed out|certificate|self[- ]signed|TLS/i;

/** A network-level failure (no HTTP answer). */
export function unreachable(err: unknown, ctx: KfpRequestContext): KfpError {
  const what = (err as Error)?.message ?? String(err);
  const profile = ctx.profile ? `profile '${ctx.profile}'` : 'the cellpipe profile';
  return new KfpError(
    'unreachable',
    `cannot reach Kubeflow Pipelines at ${ctx.endpoint} (${NETWORK.test(what) ? what : `network error: ${what}`}) while trying to ${ctx.action}`,
    ctx.viaKube
      ? `check that the cluster of ${profile} is running and reachable (kubectl get ns), then retry`
      : `check 'kfp.host' of ${profile} (is the URL right, is KFP running, is a port-forward/VPN needed?), then retry`,
    { cause: err },
  );
}

/** An HTTP error answer. */
export function httpError(status: number, body: string, ctx: KfpRequestContext): KfpError {
  const message = errorMessageOf(body);
  const profile = ctx.profile ? `profile '${ctx.profile}'` : 'the cellpipe profile';
  const ns = ctx.namespace ? ` in namespace '${ctx.namespace}'` : '';
  if (status === 401) return unauthorized(message, ctx, profile);
  if (status === 403) return forbidden(message, ctx, profile);
  if ((status === 400 || status === 404) && /namespace/i.test(message) && !/with name/i.test(message) && /(not found|does not exist|invalid|required|empty|cannot be|must)/i.test(message)) {
    return new KfpError(
      'namespace',
      `Kubeflow Pipelines refused the namespace${ctx.namespace ? ` '${ctx.namespace}'` : ''} while trying to ${ctx.action}: ${message}`,
      `set 'namespace' of ${profile} to your Kubeflow profile namespace (multi-user installs need one; single-user installs ignore it)`,
      { status },
    );
  }
  if (status === 404) {
    if (ctx.viaKube && /services?\b.*not found|"ml-pipeline"/i.test(message)) {
      return new KfpError(
        'not-found',
        `the Kubeflow Pipelines API service was not found through the Kubernetes API (${message})`,
        `check 'kfp.kfpNamespace' and 'kfp.service' of ${profile} (default kubeflow / ml-pipeline:8888), or set 'kfp.host'`,
        { status },
      );
    }
    return new KfpError('not-found', `${ctx.action}: not found${ns} (${message})`, 'check the name or id; it may have been deleted', { status });
  }
  if (status === 503 && ctx.viaKube) {
    return new KfpError(
      'unreachable',
      `the Kubernetes API cannot reach the Kubeflow Pipelines service (503: ${message}) while trying to ${ctx.action}`,
      'the ml-pipeline pods are not ready; wait and retry (kubectl -n kubeflow get pods)',
      { status },
    );
  }
  if (status === 409) {
    return new KfpError('conflict', `${ctx.action}: ${message}`, 'it already exists or changed meanwhile; retry', { status });
  }
  if (status === 400 || status === 422) {
    return new KfpError('invalid', `Kubeflow Pipelines rejected the request to ${ctx.action}: ${message}`, 'fix what the message names; if cellpipe made the request, please report it', { status, body });
  }
  return new KfpError('api', `${ctx.action} failed (HTTP ${status}): ${message}`, 'retry; if it persists, check the Kubeflow Pipelines API server logs', { status });
}

/** The audience KFP's TokenReview asks for (its `TOKEN_REVIEW_AUDIENCE`, which installs leave at this default). */
export const KFP_TOKEN_AUDIENCE = 'pipelines.kubeflow.org';

/** How to get a token KFP accepts, for hints. */
function tokenHowTo(namespace?: string): string {
  return `a service account's token needs the audience ${KFP_TOKEN_AUDIENCE} (kubectl -n ${namespace ?? 'NAMESPACE'} create token default-editor --audience ${KFP_TOKEN_AUDIENCE})`;
}

/** 401: no identity, or a token KFP's TokenReview did not accept (expired, another audience, another cluster's). */
function unauthorized(message: string, ctx: KfpRequestContext, profile: string): KfpError {
  const status = 401;
  if (ctx.viaKube) {
    return new KfpError(
      'unauthorized',
      `Kubeflow Pipelines at ${ctx.endpoint} rejected the credentials (401 Unauthorized) while trying to ${ctx.action} (auth: ${ctx.auth})`,
      `the kubeconfig credentials of ${profile} are missing or expired: log in to the cluster again`,
      { status },
    );
  }
  if (ctx.auth === 'none') {
    // Multi-user KFP identifies every call (a bearer token through TokenReview, or a trusted user-id header).
    return new KfpError(
      'unauthorized',
      `Kubeflow Pipelines at ${ctx.endpoint} needs to know who is calling (401 Unauthorized): it runs multi-user and the request carried no token (auth: none of ${profile}) while trying to ${ctx.action}`,
      `give ${profile} a token: 'kfp.auth: token-file' with 'kfp.tokenFile' (inside a Kubeflow notebook the projected token is found without settings), or 'kfp.auth: token' with $CELLPIPE_KFP_TOKEN; ${tokenHowTo(ctx.namespace)}`,
      { status },
    );
  }
  const audience = /audience/i.test(message);
  return new KfpError(
    'unauthorized',
    `Kubeflow Pipelines at ${ctx.endpoint} rejected the credentials (401 Unauthorized${audience ? `: the token is not for its audience ${KFP_TOKEN_AUDIENCE}` : ''}) while trying to ${ctx.action} (auth: ${ctx.auth})`,
    audience
      ? `get a token for the audience ${KFP_TOKEN_AUDIENCE} (kubectl -n ${ctx.namespace ?? 'NAMESPACE'} create token default-editor --audience ${KFP_TOKEN_AUDIENCE}; a Kubeflow notebook's projected token has it) and put it where 'kfp.auth' of ${profile} reads it`
      : `give a valid token: set 'kfp.auth' of ${profile} (token-file, or a token in $CELLPIPE_KFP_TOKEN / 'kfp.tokenFile'); tokens expire, get a fresh one; ${tokenHowTo(ctx.namespace)}`,
    { status },
  );
}

/** Who KFP says was denied (`User 'system:serviceaccount:team-b:default-editor' is not authorized …`), in words. */
export function deniedAccount(message: string): { who: string; serviceAccount?: { namespace: string; name: string } } | undefined {
  const user = /User '([^']+)' is not authorized/.exec(message)?.[1];
  if (!user) return undefined;
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  return sa ? { who: `service account '${sa[2]}' of namespace '${sa[1]}' (${user})`, serviceAccount: { namespace: sa[1], name: sa[2] } } : { who: `user '${user}'` };
}

/**
 * 403: KFP's SubjectAccessReview said no. Its message names the user, the reason (RBAC gives none when it denies) and
 * the request: `… User 'U' is not authorized with reason: R (request: &ResourceAttributes{Namespace:N,Verb:V,…,
 * Resource:RES,…})`.
 */
function forbidden(message: string, ctx: KfpRequestContext, profile: string): KfpError {
  const verb = /Verb:([A-Za-z]+)/.exec(message)?.[1];
  const resource = /Resource:([a-z]+)/.exec(message)?.[1];
  const namespace = /Namespace:([a-z0-9-]*)/.exec(message)?.[1] || ctx.namespace;
  const reason = /not authorized with reason: (.*?) \(request: /.exec(message)?.[1]?.trim();
  const account = deniedAccount(message);
  const parsed = Boolean(verb && resource && account);
  const denied = verb && resource ? `may not ${verb} ${resource}` : `may not ${ctx.action}`;
  const inNs = namespace ? ` in namespace '${namespace}'` : '';
  const sa = account?.serviceAccount;
  let hint: string;
  if (!namespace) hint = `use an account with access to Kubeflow Pipelines, or set 'namespace' of ${profile}`;
  else if (sa && sa.namespace !== namespace) {
    hint = `the token (${ctx.auth}) is of namespace '${sa.namespace}', not '${namespace}': use a token of a service account of '${namespace}' ` +
      `(kubectl -n ${namespace} create token default-editor --audience ${KFP_TOKEN_AUDIENCE}), or set 'namespace' of ${profile} to '${sa.namespace}', ` +
      `the Kubeflow profile namespace the token is of; or ask the owner of '${namespace}' to add ${sa.namespace}/${sa.name} as a contributor ` +
      `(a RoleBinding to kubeflow-pipelines-edit in '${namespace}')`;
  } else {
    hint = `check 'namespace' of ${profile} is your Kubeflow profile namespace, or ask the owner of '${namespace}' to add ${account ? account.who : 'you'} as a contributor (edit access to ${resource ?? 'pipelines, experiments and runs'})`;
  }
  return new KfpError(
    'forbidden',
    `permission denied by Kubeflow Pipelines: ${account ? account.who : 'this account'} ${denied}${inNs} (403 while trying to ${ctx.action}${reason ? `; reason: ${reason}` : ''}${parsed ? '' : `: ${message}`})`,
    hint,
    { status: 403 },
  );
}
