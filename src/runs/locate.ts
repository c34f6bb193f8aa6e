/**
 * Which store the run-reading commands (`runs`, `status`, `logs`, `cancel`) use: `--store DIR`, else
 * `$CELLPIPE_STORE`, else `./.cellpipe` (the store `cellpipe run` makes next to a notebook in this folder).
 */
import { resolve } from 'node:path';
import type { RunRecord } from './types.js';
import { RunStore } from './store.js';

export function storeDirFromArgs(flag: unknown, cwd: string, env: NodeJS.ProcessEnv): string {
  if (typeof flag === 'string') return resolve(cwd, flag);
  if (env.CELLPIPE_STORE) return resolve(cwd, env.CELLPIPE_STORE);
  return resolve(cwd, '.cellpipe');
}

/** The message for a run id that is not in the store: where we looked and how to look elsewhere. */
export function noSuchRun(runId: string, store: RunStore): string {
  return `no run '${runId}' in ${store.dir} — runs are kept next to their notebook (<notebook folder>/.cellpipe); pass --store DIR to look elsewhere, \`cellpipe runs\` lists them`;
}

/** Find a run by full id, a unique prefix of it, or `latest` (the newest run). */
export async function findRun(store: RunStore, idOrPrefix: string): Promise<RunRecord | undefined | 'ambiguous'> {
  if (idOrPrefix === 'latest') return (await store.list())[0];
  const exact = await store.get(idOrPrefix);
  if (exact) return exact;
  const matches = (await store.list()).filter((r) => r.id.startsWith(idOrPrefix));
  if (matches.length > 1) return 'ambiguous';
  return matches[0];
}

/**
 * The store named by `--store` (or the default) and the run named by `idOrPrefix`, or exit code 1 after saying
 * on stderr why there is no single such run.
 */
export async function openRun(
  command: string,
  storeFlag: unknown,
  idOrPrefix: string,
  io: { cwd: string; env: NodeJS.ProcessEnv; stderr: NodeJS.WritableStream },
): Promise<{ store: RunStore; rec: RunRecord } | number> {
  const store = new RunStore(storeDirFromArgs(storeFlag, io.cwd, io.env));
  const rec = await findRun(store, idOrPrefix);
  if (rec === 'ambiguous') {
    io.stderr.write(`cellpipe ${command}: '${idOrPrefix}' matches several runs; give more of the id\n`);
    return 1;
  }
  if (!rec) {
    io.stderr.write(`cellpipe ${command}: ${noSuchRun(idOrPrefix, store)}\n`);
    return 1;
  }
  return { store, rec };
}
