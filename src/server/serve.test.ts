/**
 * `cellpipe serve` as Jupyter starts it: a real Node process on a Unix socket (or a 127.0.0.1 port),
 * stopped with SIGTERM, leaving nothing behind.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { call } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const bin = path.join(repo, 'bin', 'cellpipe.js');

/** Starts `cellpipe serve ARGS` and resolves once it printed its "listening" line. */
function serve(args: string[]): Promise<{ child: ChildProcess; banner: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve({ child, banner: out, stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

function getWithHost(port: number, host: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/health', headers: { host } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('cellpipe serve', () => {
  test('--socket: answers on the socket, stops on SIGTERM with exit 0 and removes the socket', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-serve-'));
    try {
      writeFileSync(path.join(dir, 'a.ipynb'), '{}');
      const socket = path.join(dir, 's.sock');
      const { child, banner } = await serve(['--socket', socket, '--root', dir]);
      assert.match(banner, new RegExp(`listening on unix:${socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      const health = await call(socket, 'GET', '/api/health');
      assert.equal(health.status, 200);
      assert.match(health.json.version, /^\d+\.\d+\.\d+/);
      // A second backend on the same socket must not steal it.
      const second = spawn(process.execPath, [bin, 'serve', '--socket', socket, '--root', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let secondErr = '';
      second.stderr!.on('data', (c) => (secondErr += c));
      assert.equal(await exited(second), 1);
      assert.match(secondErr, /already listening/);
      assert.equal((await call(socket, 'GET', '/api/health')).status, 200);

      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
      assert.equal(existsSync(socket), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a stale socket file left by a killed backend is replaced', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-serve-'));
    try {
      const socket = path.join(dir, 's.sock');
      const first = await serve(['--socket', socket, '--root', dir]);
      first.child.kill('SIGKILL');
      await exited(first.child);
      assert.equal(existsSync(socket), true, 'SIGKILL leaves the socket file');
      const { child } = await serve(['--socket', socket, '--root', dir]);
      assert.equal((await call(socket, 'GET', '/api/health')).status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--port listens on 127.0.0.1 only and refuses requests addressed to another host name', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-serve-'));
    try {
      const { child, banner } = await serve(['--port', '0', '--root', dir]);
      const port = Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
      assert.ok(port > 0);
      assert.equal((await getWithHost(port, `127.0.0.1:${port}`)).status, 200);
      assert.equal((await getWithHost(port, `localhost:${port}`)).status, 200);
      const rebound = await getWithHost(port, `evil.example:${port}`);
      assert.equal(rebound.status, 403);
      assert.match(rebound.body.error.message, /127\.0\.0\.1/);
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('usage mistakes exit 2 with a message', async () => {
    for (const [args, pattern] of [
      [[], /either --socket PATH or --port N/],
      [['--port', 'x'], /--port must be a number/],
      [['--port', '0', '--root', '/nonexistent-cellpipe-root'], /is not a directory/],
      [['--frobnicate'], /unknown option '--frobnicate'/],
    ] as const) {
      const child = spawn(process.execPath, [bin, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (c) => (err += c));
      assert.equal(await exited(child), 2, args.join(' '));
      assert.match(err, pattern);
    }
  });
});
