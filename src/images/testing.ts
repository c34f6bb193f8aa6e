/**
 * Real parts for the images tests and the benchmark: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1,
 * open, with htpasswd basic auth, with Bearer token auth (a small RS256 token server here, its certificate in the
 * registry's rootcertbundle), or over TLS with a CA made by openssl; a TCP fault proxy that cuts a connection
 * mid-upload. Everything started here is stopped by `stop()`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import net from 'node:net';
import http from 'node:http';
import { createSign } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MediaTypes, RegistryClient, sha256, type RegistryOptions } from './registry.js';
import { buildLayer, type LayerFile } from './layer.js';
import { freePort, serveRegistry } from './docker-registry.js';

export { freePort };

const exec = promisify(execFile);

export type RegistryMode = 'open' | 'basic' | 'tls' | 'token';

export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  host: string;
  mode: RegistryMode;
  /** PEM of the CA that signed the server certificate (tls mode). */
  ca?: string;
  /** Directory holding `ca.crt` (for skopeo/buildah `--cert-dir`). */
  certDir?: string;
  username?: string;
  password?: string;
  storage: string;
  /** Token mode: every token request the token server answered (`scope` parameters, whether it had credentials). */
  tokenRequests?: { scopes: string[]; authenticated: boolean; service: string | null }[];
  /** Registry client options that reach this registry. */
  clientOptions(): RegistryOptions;
  /** skopeo/buildah flags that reach this registry. */
  toolFlags(): string[];
  stop(): Promise<void>;
}

async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.crt');
  const ext = join(dir, 'ext.cnf');
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=cellpipe test CA',
    '-keyout', caKey, '-out', ca]);
  await exec('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', csr]);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  await exec('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', cert]);
  return { ca, cert, key };
}

/** A key and self-signed certificate for signing registry tokens (RS256 JWTs carrying the cert in `x5c`). */
async function makeTokenSigner(dir: string): Promise<(claims: object) => string> {
  const key = join(dir, 'token.key');
  const cert = join(dir, 'token.crt');
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=cellpipe test token issuer',
    '-keyout', key, '-out', cert]);
  const keyPem = await readFile(key, 'utf8');
  const der = (await readFile(cert, 'utf8')).replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
  return (claims) => {
    const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der] }));
    const body = b64url(JSON.stringify(claims));
    const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(keyPem);
    return `${head}.${body}.${b64url(sig)}`;
  };
}

/** Starts a registry on a free loopback port; resolves once `GET /v2/` answers. */
export async function startRegistry(mode: RegistryMode = 'open'): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), `cellpipe-registry-${mode}-`));
  const storage = join(dir, 'storage');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const lines = [
    'version: 0.1',
    'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${storage}`, '  delete:', '    enabled: true',
    'http:', `  addr: ${host}`, '  secret: cellpipe-test',
  ];
  let ca: string | undefined;
  let certDir: string | undefined;
  if (mode === 'tls') {
    const certs = await makeCerts(dir);
    ca = await readFile(certs.ca, 'utf8');
    certDir = join(dir, 'certdir');
    await (await import('node:fs/promises')).mkdir(certDir);
    await writeFile(join(certDir, 'ca.crt'), ca);
    lines.push('  tls:', `    certificate: ${certs.cert}`, `    key: ${certs.key}`);
  }
  let username: string | undefined;
  let password: string | undefined;
  if (mode === 'basic') {
    username = 'cellpipe';
    password = 'pw-' + Math.random().toString(36).slice(2);
    const { stdout } = await exec('htpasswd', ['-Bbn', username, password]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    lines.push('auth:', '  htpasswd:', '    realm: cellpipe-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  let tokenServer: http.Server | undefined;
  const tokenRequests: { scopes: string[]; authenticated: boolean; service: string | null }[] = [];
  if (mode === 'token') {
    username = 'cellpipe';
    password = 'pw-' + Math.random().toString(36).slice(2);
    const signer = await makeTokenSigner(dir);
    const service = 'cellpipe-test-registry';
    const issuer = 'cellpipe-test-issuer';
    const expected = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
    tokenServer = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const scopes = url.searchParams.getAll('scope');
      const authenticated = req.headers.authorization === expected;
      tokenRequests.push({ scopes, authenticated, service: url.searchParams.get('service') });
      if (req.headers.authorization && !authenticated) {
        res.writeHead(401).end('{"details":"wrong credentials"}');
        return;
      }
      // Authenticated users get what they ask for; anonymous users get nothing.
      const access = authenticated ? scopes.map((sc) => {
        const [type, name, actions] = sc.split(':');
        return { type, name, actions: actions.split(',') };
      }) : [];
      const now = Math.floor(Date.now() / 1000);
      const token = signer({ iss: issuer, sub: authenticated ? username : '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: Math.random().toString(36).slice(2), access });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
    });
    await new Promise<void>((r) => tokenServer!.listen(0, '127.0.0.1', () => r()));
    const tport = (tokenServer.address() as net.AddressInfo).port;
    lines.push('auth:', '  token:', `    realm: http://127.0.0.1:${tport}/token`, `    service: ${service}`, `    issuer: ${issuer}`,
      `    rootcertbundle: ${join(dir, 'token.crt')}`);
  }
  const config = join(dir, 'config.yml');
  await writeFile(config, lines.join('\n') + '\n');
  const registry = await serveRegistry({ bin: '/usr/bin/docker-registry', config, port, label: `docker-registry (${mode === 'tls' ? 'https' : 'http'})` });
  const credentials = username ? async () => ({ username, password }) : undefined;
  return {
    host, mode, ca, certDir, username, password, storage,
    clientOptions: () => ({ registry: host, insecure: mode !== 'tls', ca, credentials }),

    toolFlags: () => [
      ...(mode === 'tls' ? ['--cert-dir', certDir!] : ['--tls-verify=false']),
      ...(username ? ['--creds', `${username}:${password}`] : []),
    ],
    tokenRequests: mode === 'token' ? tokenRequests : undefined,
    async stop() {
      if (tokenServer) await new Promise<void>((r) => tokenServer!.close(() => r()));
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`. `dropAfter(n)` arms it: the connection that carries the client's
 * n-th byte (counted over all connections from then on) is cut, once.
 */
export interface FaultProxy {
  host: string;
  /** Client→server bytes forwarded (requests: headers and bodies). */
  bytesForwarded: number;
  /** Server→client bytes forwarded (responses). */
  bytesReturned: number;
  drops: number;
  dropAfter(bytes: number): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const [thost, tport] = target.split(':');
  const sockets = new Set<net.Socket>();
  let armed: number | undefined;
  let counted = 0;
  const proxy: FaultProxy = {
    host: '',
    bytesForwarded: 0,
    bytesReturned: 0,
    drops: 0,
    dropAfter(bytes) {
      armed = bytes;
      counted = 0;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(tport), thost);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d: Buffer) => {
      proxy.bytesForwarded += d.length;
      if (armed !== undefined) {
        counted += d.length;
        if (counted >= armed) {
          armed = undefined;
          proxy.drops++;
          // Forward part of the chunk so the registry has received a partial body, then cut both sides.
          upstream.write(d.subarray(0, Math.floor(d.length / 2)), () => setTimeout(cut, 20));
          client.pause();
          return;
        }
      }
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (d: Buffer) => {
      proxy.bytesReturned += d.length;
      client.write(d);
    });
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', () => { upstream.end(); sockets.delete(client); });
    upstream.on('close', () => { client.end(); sockets.delete(upstream); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxy.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return proxy;
}

/**
 * Pushes a small base image made here (no download): one rootfs layer holding `files`, a config with an entrypoint,
 * env and working dir, as a Docker v2 schema 2 or OCI manifest. Returns its digest.
 */
export async function pushBaseImage(
  client: RegistryClient,
  repository: string,
  tag: string,
  files: LayerFile[],
  options: {
    oci?: boolean;
    gzipLevel?: number;
    extraLayers?: LayerFile[][];
    /** Image config fields to set instead of the defaults (a test entrypoint, PATH and working dir). */
    config?: { Env?: string[]; Entrypoint?: string[]; Cmd?: string[]; WorkingDir?: string };
  } = {},
): Promise<string> {
  const layers = [await buildLayer(files, options.gzipLevel)];
  for (const extra of options.extraLayers ?? []) layers.push(await buildLayer(extra, options.gzipLevel));
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2026-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8'], Entrypoint: ['/bin/entry'], Cmd: ['--help'], WorkingDir: '/', ...options.config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '2026-01-01T00:00:00Z', created_by: `test base layer ${i}` })),
  };
  for (const l of layers) await client.uploadBlob(repository, l.blob, { digest: l.digest });
  const configBytes = Buffer.from(JSON.stringify(config));
  await client.uploadBlob(repository, configBytes);
  const oci = options.oci ?? false;
  const manifest = {
    schemaVersion: 2,
    mediaType: oci ? MediaTypes.ociManifest : MediaTypes.dockerManifest,
    config: { mediaType: oci ? MediaTypes.ociConfig : MediaTypes.dockerConfig, digest: sha256(configBytes), size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: oci ? MediaTypes.ociLayer : MediaTypes.dockerLayer, digest: l.digest, size: l.size })),
  };
  return client.putManifest(repository, tag, Buffer.from(JSON.stringify(manifest)), manifest.mediaType);
}

/** Runs a tool with argv; resolves stdout. */
export async function tool(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await exec(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}
