import { CellpipeError } from '../core/errors.js';
/**
 * What can go wrong with the run store that is nobody's bug: the disk it is on is full, it cannot be written (a
 * read-only disk, no permission, a file where a folder should be), a name in it is too long, or a run's record was
 * damaged by hand or by a crash. Each becomes an error a person can act on — what happened, where, what to do — with
 * the HTTP status the backend answers it with (4xx, or 507 for a full disk), never "a bug in cellpipe".
 */

/** Error codes of a write that failed because of the disk or the file system, not because of cellpipe. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);
const WRITE_CODES = new Set([...NO_SPACE, 'EROFS', 'EACCES', 'EPERM', 'ENOTDIR', 'ENOENT', 'ENAMETOOLONG', 'EIO', 'EFBIG', 'EISDIR']);

/** Did this error come from a disk (or quota) that is full? */
export function isNoSpace(err: unknown): boolean {
  return NO_SPACE.has((err as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** Writing to the run store failed; `message` says what and where, `hint` what to do. */
export class StoreWriteError extends CellpipeError {
  override readonly name = 'StoreWriteError';
  constructor(
    message: string,
    /** The file system's error code (ENOSPC, EROFS, …). */
    readonly code: string,
    /** The run store's folder. */
    readonly dir: string,
    /** What the backend answers: 507 for a full disk, 400 for a name too long, 409 for a store it cannot write. */
    readonly status: number,
    readonly hint: string,
  ) {
    super(message);
  }

  /** Message and hint in one sentence, for a run record (which has no separate hint). */
  get sentence(): string {
    return `${this.message}. ${this.hint}`;
  }
}

/**
 * The StoreWriteError for a failed write to the store in `dir` (`doing`: what was being written, e.g. "the log
 * of step 'train'"), or undefined when `err` is not a file system error a person can act on.
 */
export function storeWriteError(err: unknown, dir: string, doing: string): StoreWriteError | undefined {
  if (err instanceof StoreWriteError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!code || !WRITE_CODES.has(code)) return undefined;
  const elsewhere = 'or keep runs on another disk (the "Runs folder" setting, or CELLPIPE_STORE for the command line)';
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreWriteError(
        `${code === 'EDQUOT' ? 'disk quota exceeded' : 'disk full'}: ${dir} (while writing ${doing})`,
        code, dir, 507,
        `Free space on that disk — old runs are in ${dir}/runs, delete the ones you no longer need — ${elsewhere}, then run again`,
      );
    case 'ENAMETOOLONG':
      return new StoreWriteError(
        `a name is too long for the file system (over 255 bytes) while writing ${doing} in ${dir}`,
        code, dir, 400,
        'Use a shorter notebook name or path',
      );
    case 'EIO':
      return new StoreWriteError(`the disk holding ${dir} reported an input/output error while writing ${doing}`, code, dir, 507, `Check that disk, ${elsewhere}`);
    case 'EFBIG':
      return new StoreWriteError(`a file grew larger than the file system allows while writing ${doing} in ${dir}`, code, dir, 507, 'Lower the step log limit (CELLPIPE_LOG_LIMIT)');
    default: {
      const why: Record<string, string> = {
        EROFS: 'it is on a read-only file system',
        EACCES: 'this user has no permission to write there',
        EPERM: 'this user has no permission to write there',
        ENOTDIR: 'a part of its path is a file, not a folder',
        ENOENT: 'a folder on its path is missing (deleted while in use?)',
        EISDIR: 'a folder is where a file should be',
      };
      return new StoreWriteError(
        `cannot write the run store ${dir}: ${why[code]} (while writing ${doing})`,
        code, dir, 409,
        `Make ${dir} a folder this user can write, ${elsewhere}`,
      );
    }
  }
}

/** Where a run's record is damaged. */
export interface RunDamage {
  /** The record file (absolute). */
  file: string;
  /** 1-based line of the record file, when one line is the problem. */
  line?: number;
  problem: string;
}

/** A run whose record cannot be read: listed as damaged, never taken for a run it is not. */
export interface DamagedRun extends RunDamage {
  id: string;
  /** The notebook, when the record says it. */
  notebook?: string;
}

/** Reading a run whose record is damaged. */
export class DamagedRunError extends CellpipeError {
  override readonly name = 'DamagedRunError';
  readonly status = 422;
  readonly hint: string;
  constructor(readonly damaged: DamagedRun) {
    super(`the record of run '${damaged.id}' is damaged: ${damaged.file}${damaged.line ? ` line ${damaged.line}` : ''}: ${damaged.problem}`);
    this.hint = `Repair that line, or move the run's folder (${damaged.file.replace(/\/run\.jsonl$/, '')}) out of the run store.`;
  }
}
