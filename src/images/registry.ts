/**
 * OCI distribution client: what cellpipe needs to append layers to images in a registry, with no Docker daemon.
 *
 * Library choice (checked 2026-11): no maintained npm package covers the push side of the distribution API.
 * `@snyk/docker-registry-v2-client` (maintained, token auth) only pulls: manifests, configs and layers — no blob
 * upload, no cross-repository mount, no manifest PUT. `docker-registry-client` (Joyent; fork
 * `@renovatebot/docker-registry-client`) targets the v1/early v2 API, is pull-oriented and unmaintained upstream.
 * `oci-registry-client` (0.2.0) is a small pull-only client. `containerify` builds Node.js app images from the
 * command line, not a library API. `dockerode` needs a Docker daemon. So this module implements the protocol
 * itself on `node:http`/`node:https` (no dependency): ping; Bearer token auth from the `WWW-Authenticate` challenge
 * (realm/service/scope, extra `repository:<from>:pull` scope for mounts, OAuth2 refresh-token grant for identity
 * tokens) and Basic auth; manifests (Docker v2 schema 2, OCI manifest, OCI index / Docker manifest list → one
 * platform, default linux/amd64); blob HEAD/GET, monolithic and chunked upload (a dropped chunk resumes from the
 * registry's reported Range where the registry keeps the session — distribution 2.8 invalidates it, so the upload
 * restarts in a new session), cross-repository mount; http only when `insecure`; extra CA for TLS; retries with
 * exponential backoff on 5xx/429 and connection errors; sha256 verified on every blob and manifest read or written.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Credential, CredentialSource } from './credentials.js';
import { apiHost } from './ref.js';
import { sleep } from '../runs/sleep.js';
import { CellpipeError } from '../core/errors.js';

export const MediaTypes = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const MANIFEST_ACCEPT = [MediaTypes.ociManifest, MediaTypes.dockerManifest, MediaTypes.ociIndex, MediaTypes.dockerList].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The image config fields cellpipe reads or writes (everything else is kept as is). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    [key: string]: unknown;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean; author?: string }[];
  [key: string]: unknown;
}

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
  json: ImageManifest | ImageIndex;
}

/** A single-platform image resolved from a tag or digest (an index is resolved to the chosen platform). */
export interface ResolvedImage {
  repository: string;
  /** Digest of the platform manifest. */
  digest: string;
  mediaType: string;
  manifest: ImageManifest;
  config: ImageConfig;
  configBytes: Buffer;
  /** Digest of the index the manifest was picked from, when the reference named an index. */
  indexDigest?: string;
}

export interface RegistryStats {
  requests: number;
  /** Request body bytes written to the network (including attempts that failed and were retried). */
  bytesUp: number;
  bytesDown: number;
  blobsUploaded: number;
  blobsMounted: number;
  blobsSkipped: number;
  manifestsPut: number;
  retries: number;
}

export interface RegistryOptions {
  /** Registry host[:port] as in image references (`docker.io` is mapped to its API host). */
  registry: string;
  /** Plain http. Only when the profile or `--insecure` says so; never guessed. */
  insecure?: boolean;
  /** Extra PEM CA certificate(s) to trust besides the system ones. */
  ca?: string | Buffer;
  credentials?: CredentialSource;
  /** Attempts per request on 5xx/429/connection errors (default 5), first backoff in ms (default 250, doubling). */
  retries?: number;
  backoffMs?: number;
  /** Uploads larger than this go in chunks of this size (default 16 MiB). */
  chunkSize?: number;
  /** Per-request socket idle timeout in ms (default 120 s). */
  timeoutMs?: number;
}

export class RegistryError extends CellpipeError {
  constructor(
    message: string,
    readonly status?: number,
    readonly codes: string[] = [],
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface SendOptions {
  headers?: Record<string, string>;
  body?: Buffer;
  onProgress?: (sent: number) => void;
  /** Follow redirects (blob GETs may go to object storage); Authorization is dropped across hosts. */
  follow?: boolean;
}

interface RequestOptions extends SendOptions {
  /** Token scopes the request needs, e.g. `repository:team/app:pull,push`. */
  scopes: string[];
  /** Statuses that are an answer (not an error). */
  ok: number[];
  /** Retry on 5xx/connection errors (off for upload bodies: the uploader resumes or restarts instead). */
  retry?: boolean;
}

interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** Parses `Bearer realm="…",service="…",scope="…"` (scheme case-insensitive, quoted or bare values). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]))) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme, params };
}

function isRetryableError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return (e.code !== undefined && RETRYABLE_CODES.has(e.code)) || /socket hang up|aborted|timed out/i.test(e.message ?? '');
}

/** One registry; reuse it for every repository on that host so tokens and connections are shared. */
export class RegistryClient {
  readonly registry: string;
  readonly stats: RegistryStats = {
    requests: 0, bytesUp: 0, bytesDown: 0, blobsUploaded: 0, blobsMounted: 0, blobsSkipped: 0, manifestsPut: 0, retries: 0,
  };
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly chunkSize: number;
  private readonly timeoutMs: number;
  private challenge?: Challenge;
  private credential?: Promise<Credential | undefined>;
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  /** Blobs seen in a repository during this client's life (`repo@digest` → size): not asked for again. */
  private readonly knownBlobs = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(private readonly options: RegistryOptions) {
    this.registry = options.registry;
    const host = apiHost(options.registry);
    this.base = new URL(`${options.insecure ? 'http' : 'https'}://${host}`);
    this.agent = options.insecure
      ? new http.Agent({ keepAlive: true, maxSockets: 8 })
      : new https.Agent({
        keepAlive: true,
        maxSockets: 8,
        ca: options.ca ? [...rootCertificates, options.ca.toString()] : undefined,
      });
    this.retries = options.retries ?? 5;
    this.backoffMs = options.backoffMs ?? 250;
    this.chunkSize = options.chunkSize ?? 16 * 1024 * 1024;
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Transport

  private send(method: string, url: URL, opts: SendOptions = {}, redirects = 0): Promise<RawResponse> {
    const isHttps = url.protocol === 'https:';
    if (!isHttps && !this.options.insecure) {
      return Promise.reject(new RegistryError(`refusing plain http to ${url.host}: the registry is not marked insecure`));
    }
    this.stats.requests++;
    const headers: Record<string, string> = { 'User-Agent': 'cellpipe', ...(opts.headers ?? {}) };
    if (opts.body) headers['Content-Length'] = String(opts.body.length);
    else if (method === 'PUT' || method === 'POST' || method === 'PATCH') headers['Content-Length'] = '0';
    const sameHost = url.host === this.base.host;
    const agent = sameHost ? this.agent : undefined;
    const mod = isHttps ? https : http;
    return new Promise<RawResponse>((resolve, reject) => {
      const req = mod.request(url, {
        method,
        headers,
        agent,
        ca: !sameHost && isHttps && this.options.ca ? [...rootCertificates, this.options.ca.toString()] : undefined,
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`${method} ${url.pathname} timed out`), { code: 'ETIMEDOUT' })));
      // Many small requests: without TCP_NODELAY each one can wait for a delayed ACK (~40 ms).
      req.on('socket', (socket) => socket.setNoDelay(true));
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          this.stats.bytesDown += c.length;
        });
        res.on('error', reject);
        res.on('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks);
          if (opts.follow && [301, 302, 303, 307, 308].includes(status) && res.headers.location && redirects < 5) {
            const next = new URL(res.headers.location, url);
            const h = { ...(opts.headers ?? {}) };
            if (next.host !== url.host) delete h.Authorization;
            this.send(method === 'HEAD' ? 'HEAD' : 'GET', next, { ...opts, headers: h, body: undefined }, redirects + 1).then(resolve, reject);
            return;
          }
          resolve({ status, headers: res.headers, body });
        });
      });
      if (opts.body && opts.body.length <= 64 * 1024) {
        // Small bodies go out with the headers, in one write.
        this.stats.bytesUp += opts.body.length;
        opts.onProgress?.(opts.body.length);
        req.end(opts.body);
      } else if (opts.body) {
        const body = opts.body;
        const piece = 256 * 1024;
        let offset = 0;
        const writeMore = (): void => {
          while (offset < body.length) {
            const end = Math.min(offset + piece, body.length);
            const chunk = body.subarray(offset, end);
            offset = end;
            this.stats.bytesUp += chunk.length;
            opts.onProgress?.(offset);
            if (!req.write(chunk)) {
              req.once('drain', writeMore);
              return;
            }
          }
          req.end();
        };
        writeMore();
      } else {
        req.end();
      }
    });
  }

  private url(pathOrUrl: string): URL {
    const u = new URL(pathOrUrl, this.base);
    if (u.protocol === 'http:' && this.base.protocol === 'https:' && u.host === this.base.host) u.protocol = 'https:';
    return u;
  }

  private async getCredential(): Promise<Credential | undefined> {
    this.credential ??= this.options.credentials ? this.options.credentials(this.registry) : Promise.resolve(undefined);
    return this.credential;
  }

  private async authorization(scopes: string[]): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    const cred = await this.getCredential();
    if (this.challenge.scheme === 'basic') {
      if (!cred?.username) return undefined;
      return 'Basic ' + Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64');
    }
    if (cred?.registryToken) return `Bearer ${cred.registryToken}`;
    const all = [...new Set([...scopes, ...(this.challenge.params.scope ? [this.challenge.params.scope] : [])])].sort();
    const key = all.join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken(all, cred);
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  private async fetchToken(scopes: string[], cred: Credential | undefined): Promise<{ token: string; expires: number }> {
    const { realm, service } = this.challenge!.params;
    if (!realm) throw new RegistryError(`registry ${this.registry} asked for a Bearer token but named no realm`);
    const realmUrl = new URL(realm);
    let res: RawResponse;
    if (cred?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'cellpipe' });
      if (service) form.set('service', service);
      form.set('scope', scopes.join(' '));
      res = await this.sendWithRetry('POST', realmUrl, {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      });
    } else {
      if (service) realmUrl.searchParams.set('service', service);
      for (const s of scopes) realmUrl.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (cred?.username) headers.Authorization = 'Basic ' + Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64');
      res = await this.sendWithRetry('GET', realmUrl, { headers });
    }
    if (res.status !== 200) {
      throw new RegistryError(
        `registry ${this.registry}: token request to ${realmUrl.host} for ${scopes.join(' ')} was refused (${res.status})` +
          (cred ? ' — check the credentials in your Docker config / registry secret' : ' — log in first (docker login / podman login) or give credentials in the profile'),
        res.status,
      );
    }
    const json = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = json.token ?? json.access_token;
    if (!token) throw new RegistryError(`registry ${this.registry}: token response from ${realmUrl.host} holds no token`);
    const seconds = Math.max(json.expires_in ?? 60, 10);
    return { token, expires: Date.now() + (seconds - 5) * 1000 };
  }

  private async sendWithRetry(method: string, url: URL, opts: SendOptions): Promise<RawResponse> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.send(method, url, opts);
        if ((res.status >= 500 || res.status === 429) && attempt + 1 < this.retries) {
          this.stats.retries++;
          await sleep(this.backoff(attempt, res));
          continue;
        }
        return res;
      } catch (err) {
        if (attempt + 1 < this.retries && isRetryableError(err)) {
          this.stats.retries++;
          await sleep(this.backoff(attempt));
          continue;
        }
        throw this.networkError(method, url, err);
      }
    }
  }

  private backoff(attempt: number, res?: RawResponse): number {
    const retryAfter = Number(res?.headers['retry-after']);
    if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(retryAfter * 1000, 30_000);
    return this.backoffMs * 2 ** attempt * (0.75 + Math.random() * 0.5);
  }

  private networkError(method: string, url: URL, err: unknown): Error {
    if (err instanceof RegistryError) return err;
    const e = err as NodeJS.ErrnoException;
    let hint = '';
    if (/certificate|self.signed|unable to verify/i.test(e.message)) {
      hint = ' — the registry certificate is not trusted: pass its CA with --ca-file (or caFile in the profile)';
    } else if (e.code === 'EPROTO' || /wrong version number|packet length too long/i.test(e.message)) {
      hint = ' — the registry may speak plain http: use --insecure only if you trust the network';
    } else if (e.code === 'ECONNREFUSED') {
      hint = ' — is the registry running and the host:port right?';
    }
    return new RegistryError(`registry ${this.registry}: ${method} ${url.pathname} failed: ${e.message}${hint}`);
  }

  /** Sends a registry API request with auth (answering one 401 challenge) and retries. */
  private async request(method: string, path: string, opts: RequestOptions): Promise<RawResponse> {
    const url = this.url(path);
    for (let authAttempt = 0; ; authAttempt++) {
      const headers = { ...(opts.headers ?? {}) };
      const auth = await this.authorization(opts.scopes);
      if (auth) headers.Authorization = auth;
      const sendOpts: SendOptions = { ...opts, headers };
      let res: RawResponse;
      if (opts.retry === false) {
        try {
          res = await this.send(method, url, sendOpts);
        } catch (err) {
          throw Object.assign(this.networkError(method, url, err), { retryable: isRetryableError(err) });
        }
      } else {
        res = await this.sendWithRetry(method, url, sendOpts);
      }
      if (res.status === 401 && authAttempt < 2) {
        const challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined);
        if (challenge) {
          const had = auth;
          this.challenge = challenge;
          if (challenge.scheme === 'bearer') {
            // A 401 with a token means the token expired or lacks a scope: drop cached tokens.
            this.tokens.clear();
          }
          const cred = await this.getCredential();
          if (challenge.scheme === 'basic' && !cred?.username) {
            throw new RegistryError(
              `registry ${this.registry} requires a user name and password — add them with docker login ${this.registry} ` +
                '(or a registry secret in the profile)',
              401,
            );
          }
          if (had && challenge.scheme === 'basic') {
            throw new RegistryError(`registry ${this.registry} rejected the user name/password from your Docker config (401)`, 401);
          }
          continue;
        }
      }
      if (!opts.ok.includes(res.status)) throw this.apiError(method, url, res, await this.getCredential());
      return res;
    }
  }

  private apiError(method: string, url: URL, res: RawResponse, cred?: Credential): RegistryError {
    let codes: string[] = [];
    let detail = '';
    try {
      const json = JSON.parse(res.body.toString('utf8')) as { errors?: { code: string; message?: string }[] };
      codes = (json.errors ?? []).map((e) => e.code);
      detail = (json.errors ?? []).map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}`).join('; ');
    } catch {
      detail = res.body.toString('utf8').slice(0, 200).trim();
    }
    let hint = '';
    if ((res.status === 401 || res.status === 403) && !cred) hint = ` — log in first (docker login ${this.registry}) or give a registry secret in the profile`;
    else if (res.status === 401 || res.status === 403) hint = ' — the credentials lack access to this repository (need pull and push)';
    return new RegistryError(
      `registry ${this.registry}: ${method} ${url.pathname} → ${res.status}${detail ? ` ${detail}` : ''}${hint}`,
      res.status,
      codes,
    );
  }

  // ---------------------------------------------------------------------------------------------------------------
  // API

  /** `GET /v2/`: true when the registry answers (also learns its auth scheme). */
  async ping(): Promise<void> {
    const res = await this.sendWithRetry('GET', this.url('/v2/'), {});
    if (res.status === 401) {
      this.challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined);
      return;
    }
    if (res.status !== 200) {
      throw new RegistryError(`registry ${this.registry}: GET /v2/ → ${res.status}; is this an OCI registry?`, res.status);
    }
  }

  /** HEAD a manifest; `undefined` when the tag or digest does not exist. */
  async headManifest(repository: string, reference: string): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const res = await this.request('HEAD', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull`],
      headers: { Accept: MANIFEST_ACCEPT },
      ok: [200, 404],
    });
    if (res.status === 404) return undefined;
    const digest = res.headers['docker-content-digest'] as string | undefined;
    if (!digest) {
      // Some registries omit the digest on HEAD: fall back to GET, which is verified.
      const m = await this.getManifest(repository, reference);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    }
    return { digest, mediaType: String(res.headers['content-type'] ?? ''), size: Number(res.headers['content-length'] ?? 0) };
  }

  /** GET a manifest or index; the digest is computed from the bytes and checked against what was asked for. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull`],
      headers: { Accept: MANIFEST_ACCEPT },
      ok: [200],
    });
    const digest = sha256(res.body);
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError(`registry ${this.registry}: manifest ${repository}@${reference} has digest ${digest} — refusing it`);
    }
    const header = res.headers['docker-content-digest'] as string | undefined;
    if (header && header.startsWith('sha256:') && header !== digest) {
      throw new RegistryError(`registry ${this.registry}: manifest ${repository}:${reference} bytes hash to ${digest}, registry says ${header}`);
    }
    const json = JSON.parse(res.body.toString('utf8')) as ImageManifest | ImageIndex;
    const mediaType = json.mediaType ?? String(res.headers['content-type'] ?? '').split(';')[0];
    return { mediaType, digest, bytes: res.body, json };
  }

  /** PUT a manifest by tag or digest; returns its digest, checked against the registry's answer. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const digest = sha256(bytes);
    if (reference.startsWith('sha256:') && reference !== digest) throw new Error(`manifest digest ${digest} ≠ reference ${reference}`);
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull,push`],
      headers: { 'Content-Type': mediaType },
      body: bytes,
      ok: [201, 200],
    });
    const header = res.headers['docker-content-digest'] as string | undefined;
    if (header && header !== digest) {
      throw new RegistryError(`registry ${this.registry}: stored manifest ${repository}:${reference} as ${header}, expected ${digest}`);
    }
    this.stats.manifestsPut++;
    return digest;
  }

  /** Resolves a tag or digest to one platform's image manifest and its config. */
  async resolveImage(repository: string, reference: string, platform = 'linux/amd64'): Promise<ResolvedImage> {
    let fetched = await this.getManifest(repository, reference);
    let indexDigest: string | undefined;
    if (fetched.mediaType === MediaTypes.ociIndex || fetched.mediaType === MediaTypes.dockerList || 'manifests' in fetched.json) {
      const index = fetched.json as ImageIndex;
      const [os, architecture, variant] = platform.split('/');
      const images = index.manifests.filter((m) => m.platform && m.platform.os !== 'unknown');
      const pick = images.find((m) => m.platform!.os === os && m.platform!.architecture === architecture &&
        (!variant || m.platform!.variant === variant));
      if (!pick) {
        const have = images.map((m) => [m.platform!.os, m.platform!.architecture, m.platform!.variant].filter(Boolean).join('/'));
        throw new RegistryError(`image ${repository}:${reference} has no ${platform} variant (it has: ${have.join(', ') || 'none'}) — choose another base or platform`);
      }
      indexDigest = fetched.digest;
      fetched = await this.getManifest(repository, pick.digest);
    }
    const manifest = fetched.json as ImageManifest;
    if (!manifest.config || !Array.isArray(manifest.layers)) {
      throw new RegistryError(`${repository}:${reference} is not a container image manifest (${fetched.mediaType})`);
    }
    const configBytes = await this.getBlob(repository, manifest.config.digest);
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    return { repository, digest: fetched.digest, mediaType: fetched.mediaType, manifest, config, configBytes, indexDigest };
  }

  /** HEAD a blob; its size, or `undefined` when the repository does not have it. */
  async headBlob(repository: string, digest: string): Promise<number | undefined> {
    const known = this.knownBlobs.get(`${repository}@${digest}`);
    if (known !== undefined) return known;
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, {
      scopes: [`repository:${repository}:pull`],
      ok: [200, 404],
      follow: true,
    });
    if (res.status !== 200) return undefined;
    const size = Number(res.headers['content-length'] ?? 0);
    this.knownBlobs.set(`${repository}@${digest}`, size);
    return size;
  }

  /** GET a blob, verified against its digest. */
  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`, {
      scopes: [`repository:${repository}:pull`],
      ok: [200],
      follow: true,
    });
    const got = sha256(res.body);
    if (got !== digest) throw new RegistryError(`registry ${this.registry}: blob ${repository}@${digest} arrived with digest ${got}`);
    return res.body;
  }

  /**
   * Cross-repository mount (`POST …/uploads/?mount=&from=`). True when mounted; false when the registry declined
   * (then the caller uploads).
   */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const res = await this.request('POST', `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, {
      scopes: [`repository:${repository}:pull,push`, `repository:${from}:pull`],
      ok: [201, 202],
    });
    if (res.status === 201) {
      this.stats.blobsMounted++;
      return true;
    }
    // 202 opened an upload session we do not use; cancel it so it does not linger.
    const loc = res.headers.location as string | undefined;
    if (loc) await this.request('DELETE', loc, { scopes: [`repository:${repository}:pull,push`], ok: [204, 200, 404, 405] }).catch(() => undefined);
    return false;
  }

  /**
   * Uploads a blob unless the repository has it. Blobs up to `chunkSize` go in one PUT; bigger ones in PATCH chunks,
   * and a chunk cut by a dropped connection resumes at the offset the registry reports. A failed session is
   * abandoned and the upload restarts in a new one (registries only commit a blob whose digest matches).
   */
  async uploadBlob(
    repository: string,
    data: Buffer,
    options: {
      digest?: string;
      onProgress?: (sent: number, total: number) => void;
      /** Skip the existence check (one round trip) for blobs that are almost surely new, e.g. a fresh image config. */
      assumeNew?: boolean;
    } = {},
  ): Promise<{ digest: string; size: number; uploaded: boolean }> {
    const digest = sha256(data);
    if (options.digest && options.digest !== digest) throw new Error(`blob content hashes to ${digest}, expected ${options.digest}`);
    // Concurrent uploads of the same blob (steps built in parallel share layers) become one.
    return this.once(`upload ${repository}@${digest}`, () => this.uploadBlobOnce(repository, data, digest, options));
  }

  /** Runs `fn` once for concurrent callers with the same key (the result is shared while it is in flight). */
  once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async uploadBlobOnce(
    repository: string,
    data: Buffer,
    digest: string,
    options: { onProgress?: (sent: number, total: number) => void; assumeNew?: boolean },
  ): Promise<{ digest: string; size: number; uploaded: boolean }> {
    if (!options.assumeNew && (await this.headBlob(repository, digest)) !== undefined) {
      this.stats.blobsSkipped++;
      options.onProgress?.(data.length, data.length);
      return { digest, size: data.length, uploaded: false };
    }
    const scopes = [`repository:${repository}:pull,push`];
    for (let attempt = 0; ; attempt++) {
      try {
        await this.uploadSession(repository, data, digest, scopes, options.onProgress);
        this.stats.blobsUploaded++;
        this.knownBlobs.set(`${repository}@${digest}`, data.length);
        return { digest, size: data.length, uploaded: true };
      } catch (err) {
        const retryable = (err as { retryable?: boolean }).retryable ||
          (err instanceof RegistryError && ((err.status ?? 0) >= 500 || err.status === 416 || err.codes.includes('BLOB_UPLOAD_INVALID') || err.codes.includes('BLOB_UPLOAD_UNKNOWN') || err.codes.includes('DIGEST_INVALID')));
        if (!retryable || attempt + 1 >= this.retries) throw err;
        this.stats.retries++;
        await sleep(this.backoff(attempt));
      }
    }
  }

  private async uploadSession(
    repository: string,
    data: Buffer,
    digest: string,
    scopes: string[],
    onProgress?: (sent: number, total: number) => void,
  ): Promise<void> {
    const start = await this.request('POST', `/v2/${repository}/blobs/uploads/`, { scopes, ok: [202] });
    let location = start.headers.location as string | undefined;
    if (!location) throw new RegistryError(`registry ${this.registry}: upload start for ${repository} returned no Location`);
    const total = data.length;
    if (total <= this.chunkSize) {
      await this.request('PUT', withQuery(location, 'digest', digest), {
        scopes,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: data,
        ok: [201],
        retry: false,
        onProgress: (sent) => onProgress?.(sent, total),
      }).then((res) => this.checkCommitted(res, digest));
      return;
    }
    let offset = 0;
    let resumes = 0;
    while (offset < total) {
      const end = Math.min(offset + this.chunkSize, total);
      try {
        const res = await this.request('PATCH', location, {
          scopes,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end - 1}` },
          body: data.subarray(offset, end),
          ok: [202],
          retry: false,
          onProgress: (sent) => onProgress?.(offset + sent, total),
        });
        location = (res.headers.location as string | undefined) ?? location;
        offset = end;
      } catch (err) {
        if (!(err as { retryable?: boolean }).retryable || resumes >= this.retries) throw err;
        resumes++;
        this.stats.retries++;
        await sleep(this.backoff(resumes - 1));
        // Ask the registry how much of the session it holds and continue from there.
        const status = await this.request('GET', location, { scopes, ok: [204, 200] });
        location = (status.headers.location as string | undefined) ?? location;
        const range = /^(?:bytes=)?0-(\d+)$/.exec(String(status.headers.range ?? ''));
        // `0-0` is ambiguous (empty or one byte); a wrong guess gets 416 and the session restarts.
        offset = range ? Number(range[1]) + 1 : 0;
        if (range && Number(range[1]) === 0) offset = 0;
      }
    }
    const res = await this.request('PUT', withQuery(location, 'digest', digest), { scopes, ok: [201], retry: false });
    this.checkCommitted(res, digest);
  }

  private checkCommitted(res: RawResponse, digest: string): void {
    const header = res.headers['docker-content-digest'] as string | undefined;
    if (header && header !== digest) {
      throw new RegistryError(`registry ${this.registry}: committed blob as ${header}, expected ${digest}`);
    }
  }
}

function withQuery(location: string, key: string, value: string): string {
  return location + (location.includes('?') ? '&' : '?') + `${key}=${encodeURIComponent(value)}`;
}
