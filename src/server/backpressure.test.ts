/**
 * Slow readers slow the backend down; they never fill its memory. A real `cellpipe serve` process on a Unix
 * socket serves a 50 MB step log to ten clients that read it at a trickle through real sockets; the backend's
 * peak resident memory (VmHWM, measured by the kernel, so no sample is missed) must stay within a bound far below
 * what buffering the log for them would take (10 × 50 MB). Then one client reads to the end: pacing loses no line.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RunStore } from '../runs/store.js';
import { call, numberedLines, recordRunWithLogs } from './testing.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const LINES = 400_000;
const READERS = 10;
/** What each slow client reads before the backend's memory is judged, and how fast. */
const READ_BYTES = 1024 * 1024;
const READ_RATE = 256 * 1024; // bytes per second, per client
/** Peak memory the backend may add while serving them: far below 10 × 50 MB, well above its own working set. */
const BOUND_MB = 120;

/** Kilobytes of a process's memory from /proc (`VmRSS` now, `VmHWM` its peak). */
function memoryKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

/** A client of `urlPath` on the socket that reads at most `rate` bytes per second; `received` counts bytes. */
class SlowReader {
  readonly socket: Socket;
  received = 0;
  private text = '';
  ended: Promise<void>;
  constructor(socketPath: string, urlPath: string, private rate: number, private keepText = false) {
    this.socket = connect(socketPath);
    this.socket.pause();
    this.socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: cellpipe\r\nConnection: close\r\n\r\n`);
    this.ended = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  /** Reads until `bytes` more arrived (or the server ended), never faster than the rate. */
  async read(bytes: number): Promise<void> {
    const goal = this.received + bytes;
    const started = Date.now();
    const startBytes = this.received;
    while (this.received < goal && !this.socket.destroyed) {
      const chunk = this.socket.read() as Buffer | null;
      if (chunk === null) {
        if (this.socket.readableEnded) return;
        await new Promise<void>((resolve) => {
          const done = () => {
            this.socket.off('readable', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.once('readable', done);
          this.socket.once('close', done);
        });
        continue;
      }
      this.received += chunk.length;
      if (this.keepText) this.text += chunk.toString('latin1');
      // The rate is the workload (a client on a slow link), not a wait for something to happen.
      const due = started + ((this.received - startBytes) / this.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  count(needle: string): number {
    let n = 0;
    for (let i = this.text.indexOf(needle); i >= 0; i = this.text.indexOf(needle, i + needle.length)) n++;
    return n;
  }
}

describe('slow readers of a big log', () => {
  let dir: string;
  let child: ChildProcess;
  let socket: string;
  let runId: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-slow-'));
    writeFileSync(path.join(dir, 'big.ipynb'), JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
    const store = new RunStore(path.join(dir, '.cellpipe'));
    runId = await recordRunWithLogs(store, 'big.ipynb', { sack: numberedLines(LINES) });
    store.close();
    socket = path.join(dir, 'backend.sock');
    child = spawn(process.execPath, [path.join(repo, 'bin', 'cellpipe.js'), 'serve', '--socket', socket, '--root', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`cellpipe serve exited with ${code}`)));
    });
  });
  after(async () => {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  });

  for (const follow of [false, true]) {
    test(`ten clients reading a 50 MB log${follow ? ' (follow=1)' : ''} at ${READ_RATE / 1024} KB/s keep the backend's memory bounded`, async () => {
      const file = new RunStore(path.join(dir, '.cellpipe')).logFile(runId, 'sack');
      const logMb = statSync(file).size / 1024 / 1024;
      // Warm up (store opened, run found), then take the baseline and restart the kernel's peak count from it.
      assert.equal((await call(socket, 'GET', `/api/runs/${runId}?notebook=big.ipynb`)).status, 200);
      writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
      const before = memoryKb(child.pid!, 'VmRSS');
      const url = `/api/runs/${runId}/logs/sack?notebook=big.ipynb${follow ? '&follow=1' : ''}`;
      const readers = Array.from({ length: READERS }, () => new SlowReader(socket, url, READ_RATE));
      await Promise.all(readers.map((r) => r.read(READ_BYTES)));
      const peak = memoryKb(child.pid!, 'VmHWM');
      for (const r of readers) r.socket.destroy();
      const grewMb = (peak - before) / 1024;
      process.stderr.write(`# backend memory with ${READERS} slow readers of a ${logMb.toFixed(0)} MB log: ${(before / 1024).toFixed(0)} MB before, peak ${(peak / 1024).toFixed(0)} MB (+${grewMb.toFixed(0)} MB)\n`);
      assert.ok(readers.every((r) => r.received >= READ_BYTES), 'every reader got its share');
      assert.ok(grewMb < BOUND_MB, `the backend grew by ${grewMb.toFixed(0)} MB serving ${READERS} slow readers of a ${logMb.toFixed(0)} MB log (bound ${BOUND_MB} MB)`);
    });
  }

  test('a paced client that reads on to the end gets every line, in order, then the end event', async () => {
    const reader = new SlowReader(socket, `/api/runs/${runId}/logs/sack?notebook=big.ipynb`, Number.POSITIVE_INFINITY, true);
    await reader.read(Number.POSITIVE_INFINITY);
    await reader.ended;
    assert.equal(reader.count('\nevent: line\n'), LINES);
    assert.ok(reader.count(`"text":"line ${LINES} `) === 1 && reader.count('event: end\n') === 1);
    assert.ok(reader.count(`id: ${LINES - 1}\n`) === 1);
  });
});
