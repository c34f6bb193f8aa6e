/**
 * The backend's error log: an error the backend did not expect (a bug in cellpipe) is written here with its stack and
 * the request it broke, and the 500's hint names this file — the page shows a sentence, the file keeps the details.
 *
 * Where: `$XDG_STATE_HOME/cellpipe/backend-errors.log` (default `~/.local/state/cellpipe/`), beside the backend's
 * other state files. Each entry is appended and flushed before the answer goes out, so it survives the backend
 * dying right after. The file is kept below ~1 MB: past that it is moved to `backend-errors.log.1` (one older file).
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** Largest size of the log before it is moved aside. */
export const ERROR_LOG_MAX_BYTES = 1 << 20;

/** The log's file name, in the folder of the backend's state files. */
export const ERROR_LOG_NAME = 'backend-errors.log';

export function defaultErrorLog(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || path.join(env.HOME || homedir(), '.local', 'state');
  return path.join(base, 'cellpipe', ERROR_LOG_NAME);
}

/** What request an error broke: method and URL (query included: it names notebooks and runs, never secrets). */
export interface FailedRequest {
  method?: string;
  url?: string;
}

/**
 * Appends `err` (its stack, else its text) with the time and the request; returns false when the file could not be
 * written (said on stderr, where Jupyter's log has it).
 */
export function logUnexpectedError(file: string, err: unknown, req: FailedRequest = {}): boolean {
  const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  const cause = err instanceof Error && err.cause !== undefined ? `\ncaused by: ${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : String(err.cause)}` : '';
  const entry = `--- ${new Date().toISOString()} ${req.method ?? '?'} ${req.url ?? '?'} (pid ${process.pid})\n${detail}${cause}\n`;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      if (statSync(file).size > ERROR_LOG_MAX_BYTES) renameSync(file, `${file}.1`);
    } catch {
      // no log yet
    }
    appendFileSync(file, entry, { mode: 0o600 });
    return true;
  } catch (writeErr) {
    process.stderr.write(`cellpipe backend: cannot write the error log ${file} (${(writeErr as Error).message}); the error was:\n${entry}`);
    return false;
  }
}
