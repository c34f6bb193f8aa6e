/**
 * Debian's `docker-registry` (distribution 2.8) as a child process on loopback: the private registry of
 * `cellpipe run --in-images` without `--registry`, and the tests' registries. The caller writes the config (what
 * the registry stores and how it authenticates differ); this starts it, waits until it accepts connections, and
 * stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { sleep } from '../runs/sleep.js';

/** A TCP port free on 127.0.0.1 now (bound, then released, for a program that takes its port from its config). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServeOptions {
  /** The docker-registry program. */
  bin: string;
  /** Its config file, whose `http.addr` is `127.0.0.1:<port>`. */
  config: string;
  port: number;
  /** Who it is in error messages, e.g. "the private registry". */
  label?: string;
  /** How long it may take to listen (default 15 s). */
  timeoutMs?: number;
}

export interface RegistryProcess {
  child: ChildProcess;
  /** Stops it (SIGTERM, SIGKILL after 3 s) and resolves once it has exited. */
  stop(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => { sock.destroy(); resolve(true); });
    sock.on('error', () => resolve(false));
  });
}

/**
 * `docker-registry serve CONFIG`, resolved once it accepts connections on `port`. It logs nothing it could be
 * waited on at the error log level the callers use, so readiness is a connect probe, given up when the process
 * exits (its stderr is the error) or after `timeoutMs`.
 */
export async function serveRegistry(o: ServeOptions): Promise<RegistryProcess> {
  const label = o.label ?? 'docker-registry';
  const child = spawn(o.bin, ['serve', o.config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + (o.timeoutMs ?? 15_000);
  for (;;) {
    const listening = await accepts(o.port);
    if (spawnError) throw new Error(`${label} (${o.bin}) could not start: ${spawnError.message}`);
    if (child.exitCode !== null) throw new Error(`${label} (docker-registry) exited: ${stderr.trim()}`);
    if (listening) return { child, stop };
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${label} did not listen on 127.0.0.1:${o.port}: ${stderr.trim()}`);
    }
    await sleep(50);
  }
}
