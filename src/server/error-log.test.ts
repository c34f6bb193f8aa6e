/**
 * An error the backend did not expect is a bug in cellpipe: the page gets a 500 whose hint names the error log, and
 * that file has the stack and the request — nothing of the stack goes to the page.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RunStore } from '../runs/store.js';
import type { RunRequest } from '../runtimes/types.js';
import { startServer, type RunningServer } from './index.js';
import { call, ScriptedRuntime } from './testing.js';
import { ERROR_LOG_MAX_BYTES, logUnexpectedError } from './error-log.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const candies = readFileSync(path.resolve(repo, '../shared/corpus/kale/candies_sharing.ipynb'));

/** A runtime with a bug: starting a run throws what no layer expects. */
class BrokenRuntime extends ScriptedRuntime {
  override async submit(_request: RunRequest): Promise<string> {
    return startTheBrokenRun();
  }
}

function startTheBrokenRun(): never {
  throw new TypeError("Cannot read properties of undefined (reading 'steps')");
}

describe('the backend error log', () => {
  let base: string;
  let server: RunningServer;
  let socket: string;
  let stateDir: string;

  before(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'cellpipe-error-log-'));
    const root = path.join(base, 'root');
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, 'candies.ipynb'), candies);
    socket = path.join(base, 's.sock');
    stateDir = path.join(base, 'state');
    server = await startServer({
      root,
      socket,
      backend: {
        kubeflow: { loadProfiles: async () => new Map(), stateFile: path.join(stateDir, 'kubeflow-runs.json') },
        localBackend: (dir) => {
          const store = new RunStore(dir);
          return { store, runtime: new BrokenRuntime(store) };
        },
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('an unexpected error is a 500 whose hint names the log, and the log has its stack and the request', async () => {
    const r = await call(socket, 'POST', '/api/runs', { path: 'candies.ipynb' });
    assert.equal(r.status, 500, r.text);
    const file = path.join(stateDir, 'backend-errors.log');
    assert.equal(server.backend.errorLog, file);
    assert.match(r.json.error.message, /^cellpipe backend error: Cannot read properties of undefined \(reading 'steps'\)$/);
    assert.ok(r.json.error.hint.includes(file), r.json.error.hint);
    assert.doesNotMatch(r.text, /startTheBrokenRun/, 'the stack stays in the log, not in the answer');
    const log = readFileSync(file, 'utf8');
    assert.match(log, /^--- \d{4}-\d\d-\d\dT[\d:.]+Z POST \/api\/runs \(pid \d+\)\nTypeError: Cannot read properties of undefined \(reading 'steps'\)\n/);
    assert.match(log, /at startTheBrokenRun /, 'with the stack of where it was thrown');
  });

  test('what a user can act on is not logged as a bug', async () => {
    const file = path.join(stateDir, 'backend-errors.log');
    const before = readFileSync(file, 'utf8');
    const r = await call(socket, 'POST', '/api/runs', { path: 'missing.ipynb' });
    assert.equal(r.status, 404, r.text);
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  test('a log grown past its limit is moved aside, one older file kept', () => {
    const file = path.join(base, 'rotate', 'backend-errors.log');
    mkdirSync(path.dirname(file));
    writeFileSync(file, 'x'.repeat(ERROR_LOG_MAX_BYTES + 1));
    assert.equal(logUnexpectedError(file, new Error('the next one'), { method: 'GET', url: '/api/runs' }), true);
    assert.match(readFileSync(file, 'utf8'), /^--- .* GET \/api\/runs .*\nError: the next one\n/);
    assert.equal(readFileSync(`${file}.1`, 'utf8').length, ERROR_LOG_MAX_BYTES + 1);
  });
});
