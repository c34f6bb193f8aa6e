/**
 * docker-registry as a child process: ready when it answers, stopped for good by stop(); a registry that cannot
 * start says why (its own stderr), a missing program says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, serveRegistry } from './docker-registry.js';

const BIN = '/usr/bin/docker-registry';
const opts = { skip: existsSync(BIN) ? false : 'docker-registry is not installed (Debian package docker-registry)' };

function config(storage: string, port: number): string {
  return ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${storage}`, 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n');
}

test('serveRegistry resolves once the registry answers; stop() ends the process and frees the port', opts, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cellpipe-docker-registry-'));
  try {
    const port = await freePort();
    await writeFile(join(dir, 'config.yml'), config(join(dir, 'storage'), port));
    const reg = await serveRegistry({ bin: BIN, config: join(dir, 'config.yml'), port });
    const res = await fetch(`http://127.0.0.1:${port}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await reg.stop();
    assert.ok(reg.child.exitCode !== null || reg.child.signalCode !== null, 'exited');
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(false); });
      s.on('error', () => resolve(true));
    });
    assert.ok(refused, 'nothing listens any more');
    await reg.stop(); // a second stop is harmless
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a registry that cannot start is reported with its own error; a missing program too', opts, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cellpipe-docker-registry-'));
  try {
    await writeFile(join(dir, 'bad.yml'), 'version: 0.1\nstorage:\n  nosuchdriver: {}\n');
    await assert.rejects(serveRegistry({ bin: BIN, config: join(dir, 'bad.yml'), port: await freePort(), label: 'the private registry' }),
      /^Error: the private registry \(docker-registry\) exited: .*nosuchdriver/s);
    await assert.rejects(serveRegistry({ bin: join(dir, 'no-such-program'), config: join(dir, 'bad.yml'), port: await freePort() }),
      /could not start: .*ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
