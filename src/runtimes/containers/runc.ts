/**
 * runc, driven by argv: a step container is `runc run --bundle DIR ID` in the foreground (its stdout/stderr are
 * the step's, no TTY), stopped with `runc kill`, and always removed with `runc delete --force`, so nothing stays
 * in `runc list` after a step, whatever ended it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { findTool, MissingToolError, runTool } from './tools.js';

/** runc's state folder for root (`--root` default): a container exists while its folder does. */
const STATE_ROOT = '/run/runc';

export function containerExists(id: string): boolean {
  return fs.existsSync(`${STATE_ROOT}/${id}`);
}

export function runcPath(): string {
  const p = findTool('runc');
  if (!p) throw new MissingToolError('runc', 'runc');
  return p;
}

/** A container id runc accepts, unique per run, step and attempt. */
export function containerId(runId: string, step: string, attempt: number): string {
  return `cellpipe-${runId}-${step}-${attempt}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 200);
}

export function runArgs(bundle: string, id: string): string[] {
  return ['run', '--bundle', bundle, id];
}

/** Sends a signal to the container's processes; a container already gone is not an error. */
export async function killContainer(id: string, signal: 'TERM' | 'KILL'): Promise<void> {
  try {
    await runTool(runcPath(), ['kill', '--all', id, signal]);
  } catch {
    // gone already (or runc missing: then there is no container either)
  }
}

/** Kills what is left of the container and removes it (its cgroup and state). */
export async function deleteContainer(id: string): Promise<void> {
  // `runc run` removes a container that exited by itself: no process to start for the usual case.
  if (!containerExists(id)) return;
  try {
    await runTool(runcPath(), ['delete', '--force', id]);
  } catch {
    // gone already
  }
}

/** Ids of the containers runc knows. */
export async function listContainers(): Promise<{ id: string; status: string; pid: number }[]> {
  const out = await runTool(runcPath(), ['list', '--format', 'json']);
  const parsed = JSON.parse(out.trim() || 'null') as { id: string; status: string; pid: number }[] | null;
  return parsed ?? [];
}

/**
 * Synchronous clean-up of what a step container of a dead runner leaves (the run store's recovery is
 * synchronous): the container, and any mount under the step's folder (its overlay root).
 */
export function removeLeftoversSync(id: string, stepDir: string): void {
  const runc = findTool('runc');
  if (runc && containerExists(id)) {
    try {
      execFileSync(runc, ['delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // gone meanwhile
    }
  }
  let mounts: string[] = [];
  try {
    mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(stepDir + '/'));
  } catch {
    return;
  }
  const umount = findTool('umount');
  for (const m of mounts.sort().reverse()) {
    if (!umount) break;
    try {
      execFileSync(umount, ['-l', m], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // not mounted any more
    }
  }
}
