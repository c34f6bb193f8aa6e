/**
 * Before a Kubeflow submission builds anything: can this machine reach Kubeflow Pipelines, the registry the step
 * images are pushed to, and the registries their base images come from? Building first would spend minutes and then
 * fail on a bare `getaddrinfo ENOTFOUND`; this says at once what is unreachable and which profile field sets it.
 * Any HTTP answer counts as reachable (credentials and rights are the build's and the upload's business).
 */
import http from 'node:http';
import https from 'node:https';
import { apiHost, parseImageRef } from '../../images/ref.js';

/** One place a submission needs, and the setting that names it. */
export interface Needed {
  /** In the user's words: "Kubeflow Pipelines at http://…", "the registry registry.example.com (step images)". */
  what: string;
  /** The profile (or notebook) setting that chooses it. */
  field: string;
  /** Resolves when reachable; rejects with why not. */
  check: () => Promise<unknown>;
}

/** Why one needed place could not be reached. */
export interface Unreachable {
  what: string;
  field: string;
  why: string;
}

/** Network error codes in words. */
const WORDS: Record<string, string> = {
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be looked up',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'no answer (timed out)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code;
  const text = e.message || String(err);
  return code && WORDS[code] && !text.includes(WORDS[code]) ? `${WORDS[code]} (${text})` : text;
}

/** Resolves when `host` answers `GET /v2/` with any HTTP status (over http when `insecure`, as the builder would). */
export function registryAnswers(registry: string, insecure: boolean, timeoutMs = 5000): Promise<number> {
  const host = apiHost(registry);
  const mod = insecure ? http : https;
  return new Promise((resolve, reject) => {
    const req = mod.get(`${insecure ? 'http' : 'https'}://${host}/v2/`, { headers: { 'User-Agent': 'cellpipe' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer from ${host} in ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** Rejects after `ms` unless `p` settles first. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer from ${what} in ${ms / 1000} s`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Checks every needed place at once; the unreachable ones, in the order given. */
export async function unreachable(needed: Needed[], timeoutMs = 10_000): Promise<Unreachable[]> {
  const results = await Promise.allSettled(needed.map((n) => within(n.check(), timeoutMs, n.what)));
  return results.flatMap((r, i) => (r.status === 'rejected' ? [{ what: needed[i].what, field: needed[i].field, why: why(r.reason) }] : []));
}

/** The registries of the images a build pulls from, each once, with the setting that names it. */
export function baseRegistries(images: { ref: string; field: string }[]): { registry: string; field: string }[] {
  const seen = new Map<string, string>();
  for (const { ref, field } of images) {
    let registry: string;
    try {
      registry = parseImageRef(ref).registry;
    } catch {
      continue; // a malformed reference is the build's error to report, with the step it belongs to
    }
    if (!seen.has(registry)) seen.set(registry, field);
  }
  return [...seen].map(([registry, field]) => ({ registry, field }));
}

/** One message for everything unreachable: what, why, and which setting to fix. */
export function describeUnreachable(profile: string, list: Unreachable[]): { message: string; hint: string } {
  const message = `cannot reach ${list.map((u) => `${u.what}: ${u.why}`).join('; ')}`;
  const fields = [...new Set(list.map((u) => u.field))];
  const hint = `nothing was built. Check the network, or fix ${fields.join(', ')} in profile '${profile}' (cellpipe doctor --profile ${profile} checks it); the Local target needs none of these`;
  return { message, hint };
}
