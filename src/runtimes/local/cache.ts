/**
 * The local step cache: a step whose program, input contents, parameter values and step-runtime version are
 * unchanged reuses the outputs of the run that last produced them, without starting a process.
 * Entries live in `<store>/cache/<key>.json` and point at the producing run's output directories.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalHash } from '../../core/hash.js';
import type { StepFile, StepProgram } from '../../core/model.js';
import type { StepOutput } from '../../runs/types.js';

export interface CacheEntry {
  key: string;
  runId: string;
  step: string;
  outputs: StepOutput[];
  metrics: Record<string, number | string>;
  createdAt: string;
}

/** The cache key of one step execution. */
export function stepCacheKey(parts: {
  program: StepProgram;
  inputs: Record<string, string>;
  parameters: Record<string, string>;
  runtimeVersion: string;
  /** The step's environment variables, when it has any. */
  env?: Record<string, string>;
  /** Content hashes of the files the step reads, when it reads any (see `stepFileHashes`). */
  files?: Record<string, string>;
}): string {
  return canonicalHash({ v: 1, ...parts });
}

/**
 * Size and content hash of an artifact (a directory, or a file): the hash covers every file's relative path
 * and bytes, in sorted order, so equal content gives an equal hash wherever it lives.
 */
export function hashArtifact(p: string): { bytes: number; sha256: string } {
  const h = createHash('sha256');
  let bytes = 0;
  const buf = Buffer.alloc(1 << 20);
  const visit = (abs: string, rel: string): void => {
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) visit(path.join(abs, name), rel ? `${rel}/${name}` : name);
    } else if (st.isSymbolicLink()) {
      h.update(`L ${rel}\0${fs.readlinkSync(abs)}\0`);
    } else if (st.isFile()) {
      h.update(`F ${rel}\0${st.size}\0`);
      bytes += st.size;
      const fd = fs.openSync(abs, 'r');
      try {
        for (;;) {
          const n = fs.readSync(fd, buf, 0, buf.length, null);
          if (n === 0) break;
          h.update(buf.subarray(0, n));
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  };
  visit(p, '');
  return { bytes, sha256: h.digest('hex') };
}

export class StepCache {
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  /** The entry for `key` whose outputs all still exist, else undefined. */
  lookup(key: string): CacheEntry | undefined {
    let entry: CacheEntry;
    try {
      entry = JSON.parse(fs.readFileSync(this.file(key), 'utf8')) as CacheEntry;
    } catch {
      return undefined;
    }
    for (const o of entry.outputs) if (!o.path || !fs.existsSync(o.path)) return undefined;
    return entry;
  }

  /** Record an entry (atomically: write a temporary file, then rename). */
  save(entry: CacheEntry): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file(entry.key)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(entry));
    fs.renameSync(tmp, this.file(entry.key));
  }
}

/**
 * Content hashes of the files a step reads (`Step.files` that travel, relative to the notebook's folder `workdir`;
 * `missing` for one that is not there), or undefined when it reads none. A changed data file is a new cache key, as
 * it is a new image in containers. Patterns (`images/*`) are not hashed: a step reading one is keyed by its code.
 */
export function stepFileHashes(files: readonly StepFile[] | undefined, workdir: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const f of files ?? []) {
    if (f.status !== 'travels' || f.pattern) continue;
    const abs = path.resolve(workdir, f.path);
    out[f.path] = fs.existsSync(abs) ? hashArtifact(abs).sha256 : 'missing';
  }
  return Object.keys(out).length ? out : undefined;
}
