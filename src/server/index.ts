/**
 * Starting and stopping the backend: on a Unix socket (what jupyter-server-proxy connects to, so only
 * Jupyter — and the user owning the socket — can reach it) or, for development, on a 127.0.0.1 port.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { CELLPIPE_VERSION } from '../core/version.generated.js';
import { Backend, type BackendOptions, type RunBackend } from './app.js';
import { HttpError, sendError } from './http.js';

export { Backend } from './app.js';
export type { BackendOptions, RunBackend } from './app.js';

export interface ServeOptions {
  root: string;
  /** Listen on this Unix socket path … */
  socket?: string;
  /** … or on this TCP port of 127.0.0.1 (0: any free port). */
  port?: number;
  /** Override parts of the backend (tests); version and local runtime default to the real ones. */
  backend?: Partial<BackendOptions>;
}

export interface RunningServer {
  backend: Backend;
  server: Server;
  /** `unix:/path` or `http://127.0.0.1:PORT`. */
  address: string;
  /** Cancels runs this server started, stops listening, removes the socket file. */
  close(): Promise<void>;
}


/** The real store + local runtime for a store directory. */
export async function localRunBackend(storeDir: string): Promise<RunBackend> {
  const { RunStore } = await import('../runs/store.js');
  const store: RunBackend['store'] = new RunStore(storeDir);
  // The store may hold runs in containers: recovering or cancelling one removes their leftovers.
  const { registerContainerLeftovers } = await import('../runtimes/containers/leftovers.js');
  registerContainerLeftovers();
  // The local runtime is loaded on first use only (a literal import, so the wheel's bundle carries it).
  const { LocalRuntime } = await import('../runtimes/local/runtime.js');
  return { store, runtime: new LocalRuntime({ store }) };
}

/** Is something already accepting connections on this Unix socket? */
function socketInUse(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * In port mode any local process and any web page (through DNS rebinding) could reach us, so requests
 * must name us by a loopback host. (Socket mode is protected by the socket's file permissions.)
 */
function loopbackHostOnly(port: () => number) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const host = String(req.headers.host ?? '');
    const ok = [`127.0.0.1:${port()}`, `localhost:${port()}`, `[::1]:${port()}`].includes(host.toLowerCase());
    if (!ok) sendError(res, new HttpError(403, `requests must be addressed to 127.0.0.1:${port()} (got Host '${host}')`));
    return ok;
  };
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  if ((options.socket === undefined) === (options.port === undefined)) {
    throw new Error('give exactly one of socket and port');
  }
  const backend = await Backend.create({
    root: options.root,
    version: options.backend?.version ?? CELLPIPE_VERSION,
    localBackend: options.backend?.localBackend ?? localRunBackend,
    ...options.backend,
  });
  let port = 0;
  const hostCheck = options.port !== undefined ? loopbackHostOnly(() => port) : undefined;
  const server = createServer((req, res) => {
    if (hostCheck && !hostCheck(req, res)) return;
    backend.handle(req, res);
  });
  // Event streams are long-lived; node's default request timeout (5 min) would cut a followed log.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  let address: string;
  if (options.socket !== undefined) {
    const socketPath = options.socket;
    if (existsSync(socketPath)) {
      if (!lstatSync(socketPath).isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
      if (await socketInUse(socketPath)) throw new Error(`another process is already listening on ${socketPath}`);
      unlinkSync(socketPath);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    await chmod(socketPath, 0o600);
    address = `unix:${socketPath}`;
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, '127.0.0.1', () => resolve());
    });
    const a = server.address();
    port = typeof a === 'object' && a ? a.port : 0;
    address = `http://127.0.0.1:${port}`;
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await Promise.race([backend.shutdown(), new Promise((r) => setTimeout(r, 10_000).unref())]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (options.socket !== undefined && existsSync(options.socket)) {
        try {
          unlinkSync(options.socket);
        } catch {
          // already gone
        }
      }
    })());
  return { backend, server, address, close };
}
