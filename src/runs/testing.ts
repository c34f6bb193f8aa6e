/**
 * Test kit for the tests that run cellpipe as a user does: where the repository, the CLI, the test notebooks and the
 * user's Python are, and the CLI run as a real process. Used by the tests only.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (ends in `/`). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The `cellpipe` command. */
export const BIN = path.join(REPO, 'bin/cellpipe.js');
/** Small notebooks written for the run tests (slow, failing, broken, wordcount with its data). */
export const FIXTURES = path.join(REPO, 'test/fixtures/run-notebooks');
/** The real Kale notebooks of the shared corpus. */
export const CORPUS = path.resolve(REPO, '../shared/corpus/kale');
/** The corpus notebook most tests submit. */
export const CANDIES = path.join(CORPUS, 'candies_sharing.ipynb');
/** The user's Python: $CELLPIPE_PYTHON, else the project's .venv (numpy, pandas), else python3. */
export const PYTHON =
  process.env.CELLPIPE_PYTHON ?? (fs.existsSync(path.join(REPO, '.venv/bin/python')) ? path.join(REPO, '.venv/bin/python') : 'python3');

/** `cellpipe <args>` as a real process with only PATH, HOME and `env` set; resolves with its exit code and output. */
export function cellpipe(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
