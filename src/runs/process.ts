/**
 * Process identity on this machine: a pid plus its start time, so that a recorded runner or step process is
 * never confused with an unrelated process that later got the same pid.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import type { RunnerInfo } from './types.js';
import { sleep } from './sleep.js';

/**
 * Start time of a process in clock ticks since boot (`/proc/<pid>/stat` field 22), or undefined where `/proc`
 * is not available or the process does not exist.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is in parentheses and may contain spaces: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether a live process with this pid exists (signal 0 probe; EPERM means it exists but belongs to someone
 * else). A zombie — dead, waiting for a parent that never reaps it — does not count. A negative pid asks about
 * a process group.
 */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (pid > 0) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return false;
    } catch {
      // no /proc (or the process just went): the signal probe's answer stands
    }
  }
  return true;
}

/** Whether the process identified by pid (+ start time when recorded) is still the same live process. */
export function processAlive(pid: number, startTime?: string): boolean {
  if (!pidExists(pid)) return false;
  if (startTime === undefined) return true;
  const now = processStartTime(pid);
  // Without /proc we cannot check for pid reuse; trust the pid.
  return now === undefined || now === startTime;
}

/** Whether a process group still has live (non-zombie) members. */
export function groupAlive(pgid: number): boolean {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return pidExists(-pgid);
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/** The RunnerInfo of the calling process. */
export function currentRunner(): RunnerInfo {
  const startTime = processStartTime(process.pid);
  return { pid: process.pid, host: hostname(), ...(startTime !== undefined ? { startTime } : {}) };
}

/**
 * Whether a recorded runner is known to be gone. A runner on another host can't be checked from here and
 * counts as alive (the store is meant to be used from one machine; a shared disk must not kill runs).
 */
export function runnerGone(info: RunnerInfo): boolean {
  if (info.host !== hostname()) return false;
  if (info.pid === process.pid) {
    const mine = processStartTime(process.pid);
    return info.startTime !== undefined && mine !== undefined && mine !== info.startTime;
  }
  return !processAlive(info.pid, info.startTime);
}

/** Send a signal to a whole process group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until a process group has no live members, at most `timeoutMs`; true when it is gone. A signal is
 * delivered asynchronously: a process that was sent SIGKILL still runs until the kernel has torn it down, so
 * "stopped" is only true once the group is seen empty.
 */
export async function awaitGroupGone(pgid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

/** {@link awaitGroupGone} for synchronous callers (the run store's recovery while it folds a record). */
export function awaitGroupGoneSync(pgid: number, timeoutMs = 5000): boolean {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    Atomics.wait(pause, 0, 0, 10);
  }
}
