#!/usr/bin/env node
/**
 * Backend memory under slow readers of a big log (issue 20): a real `cellpipe serve` on a Unix socket, a run whose
 * step printed 1e6 lines (~75 MB stored), and R clients that each read its log stream at a fixed rate for S seconds
 * (the event stream, `follow=1` with --follow). Prints the backend's resident memory idle (the baseline, measured in
 * the same run), its peak while serving (the kernel's VmHWM), the ratio, and what the readers received.
 *
 * usage: node bench/slow-readers.mjs [--lines 1000000] [--readers 10] [--rate 20480] [--seconds 15] [--follow] [--json]
 *        [--bin OTHER/bin/cellpipe.js]   (serve with another build, e.g. a checkout of an older commit, to compare)
 * Needs a build (`npm run build:lib`). Linux only (/proc).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunStore } from '../lib/runs/store.js';
import { numberedLines, recordRunWithLogs } from '../lib/server/testing.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const LINES = opt('--lines', 1_000_000);
const READERS = opt('--readers', 10);
const RATE = opt('--rate', 20 * 1024);
const SECONDS = opt('--seconds', 15);
const follow = argv.includes('--follow');
const bin = argv.includes('--bin') ? path.resolve(argv[argv.indexOf('--bin') + 1]) : path.join(repo, 'bin', 'cellpipe.js');
const asJson = argv.includes('--json');
const log = (...a) => process.stderr.write(a.join(' ') + '\n');

const memMb = (pid, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-bench-slow-'));
let child;
try {
  writeFileSync(path.join(dir, 'big.ipynb'), JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
  const store = new RunStore(path.join(dir, '.cellpipe'));
  log(`recording a run whose step printed ${LINES} lines…`);
  const runId = await recordRunWithLogs(store, 'big.ipynb', { flood: numberedLines(LINES, 5) });
  const logMb = statSync(store.logFile(runId, 'flood')).size / 1024 / 1024;
  store.close();

  const socket = path.join(dir, 'backend.sock');
  child = spawn(process.execPath, [bin, 'serve', '--socket', socket, '--root', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`cellpipe serve exited with ${code}`)));
  });
  const idle = memMb(child.pid, 'VmRSS');
  writeFileSync(`/proc/${child.pid}/clear_refs`, '5'); // the peak counts from here

  log(`${READERS} readers at ${(RATE / 1024).toFixed(0)} KB/s for ${SECONDS} s of a ${logMb.toFixed(1)} MB log${follow ? ' (follow=1)' : ''}…`);
  const url = `/api/runs/${runId}/logs/flood?notebook=big.ipynb${follow ? '&follow=1' : ''}`;
  const received = new Array(READERS).fill(0);
  const sockets = [];
  const t0 = Date.now();
  const readers = received.map((_, i) => new Promise((resolve) => {
    const s = connect(socket);
    sockets.push(s);
    s.pause();
    s.write(`GET ${url} HTTP/1.1\r\nHost: cellpipe\r\nConnection: close\r\n\r\n`);
    // Every 100 ms, take what the rate allows (a client on a slow link).
    const tick = setInterval(() => {
      const due = ((Date.now() - t0) / 1000) * RATE;
      let chunk;
      while (received[i] < due && (chunk = s.read()) !== null) received[i] += chunk.length;
    }, 100);
    s.once('close', () => clearInterval(tick));
    setTimeout(() => {
      clearInterval(tick);
      resolve();
    }, SECONDS * 1000);
  }));
  const samples = [];
  const sampler = setInterval(() => samples.push(memMb(child.pid, 'VmRSS')), 500);
  await Promise.all(readers);
  clearInterval(sampler);
  const peak = memMb(child.pid, 'VmHWM');
  const end = memMb(child.pid, 'VmRSS');
  for (const s of sockets) s.destroy();
  const result = {
    logMb: Number(logMb.toFixed(1)), readers: READERS, rateKBs: RATE / 1024, seconds: SECONDS, follow,
    idleMb: Math.round(idle), peakMb: Math.round(peak), endMb: Math.round(end), peakOverIdle: Number((peak / idle).toFixed(2)),
    receivedMbEach: Number((received.reduce((a, b) => a + b, 0) / READERS / 1024 / 1024).toFixed(2)),
  };
  if (asJson) console.log(JSON.stringify(result));
  else {
    console.log(`backend RSS: idle ${result.idleMb} MB, peak ${result.peakMb} MB while serving (${result.peakOverIdle}× idle), ${result.endMb} MB at the end`);
    console.log(`${READERS} readers got ${result.receivedMbEach} MB each of the ${result.logMb} MB log in ${SECONDS} s`);
  }
} finally {
  child?.kill('SIGTERM');
  if (child && child.exitCode === null) await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
