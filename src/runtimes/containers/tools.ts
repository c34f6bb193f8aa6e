/**
 * The programs the container runtime drives (runc, umoci, skopeo, mmdebstrap): found on PATH or in the sbin
 * folders (root's tools live there even when PATH lacks them), with an error naming the Debian package to install.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CellpipeError } from '../../core/errors.js';

export class MissingToolError extends CellpipeError {
  constructor(readonly tool: string, readonly debianPackage: string) {
    super(`${tool} is not installed: steps in containers need it — install the Debian package '${debianPackage}' (apt-get install ${debianPackage})`);
    this.name = 'MissingToolError';
  }
}

const found = new Map<string, string | undefined>();

/** Absolute path of a program, or undefined. */
export function findTool(tool: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (found.has(tool)) return found.get(tool);
  const dirs = [...(env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];
  let hit: string | undefined;
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      hit = p;
      break;
    } catch {
      // next folder
    }
  }
  found.set(tool, hit);
  return hit;
}

/** The program's path; throws MissingToolError naming its Debian package when it is not installed. */
export async function requireTool(tool: string, debianPackage: string): Promise<string> {
  const p = findTool(tool);
  if (!p) throw new MissingToolError(tool, debianPackage);
  return p;
}

/** Runs a program with argv (no shell); resolves stdout, rejects with its stderr. */
export function runTool(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 0 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.slice(0, 2).join(' ')}: ${(stderr || err.message).toString().trim()}`));
      else resolve(stdout.toString());
    });
  });
}
