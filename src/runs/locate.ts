/**
 * Which store the run-reading commands (`runs`, `status`, `logs`, `cancel`) use: `--store DIR`, else
 * `$CELLPIPE_STORE`, else `./.cellpipe` (the store `cellpipe run` makes next to a notebook in this folder).
 */
import { resolve } from 'node:path';
import type { RunRecord } from '../runtimes/types.js';
import type { RunStore } from './store.js';

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
