/**
 * The sidebar's "This machine, in containers" through the backend API, as the JupyterLab page does it: the target
 * is reported by GET /api/profiles, POST /api/runs with target `containers` builds the step images and runs each
 * step in its image (runc); status and logs stream as for a local run. Root + runc: run by
 * scripts/test-containers.sh (CELLPIPE_CONTAINER_TESTS=1), skipped elsewhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from './index.js';
import { call, readEvents } from './testing.js';
import * as kit from '../runs/testing.js';
import { debianBase } from '../runtimes/containers/base-image.js';
import { containersUnavailable, leftovers } from '../runtimes/containers/testing.js';

const why = process.env.CELLPIPE_CONTAINER_TESTS ? containersUnavailable() : 'set CELLPIPE_CONTAINER_TESTS=1 (scripts/test-containers.sh)';

test('POST /api/runs target "containers": every step in its image, status and logs through the API', { skip: why ?? false, timeout: 600_000 }, async () => {
  const base = await debianBase();
  const dir = mkdtempSync(path.join(tmpdir(), 'cellpipe-server-containers-'));
  const root = path.join(dir, 'root');
  mkdirSync(path.join(root, 'nb'), { recursive: true });
  copyFileSync(path.join(kit.FIXTURES, 'sales.ipynb'), path.join(root, 'nb', 'sales.ipynb'));
  cpSync(path.join(kit.FIXTURES, 'data'), path.join(root, 'nb', 'data'), { recursive: true });
  const socket = path.join(dir, 's.sock');
  const server = await startServer({ root, socket, backend: { kubeflow: { stateFile: path.join(dir, 'state', 'kubeflow-runs.json') } } });
  try {
    const profiles = await call(socket, 'GET', '/api/profiles');
    assert.deepEqual(profiles.json.containers, {}, 'offered, and it can run here');
    const put = await call(socket, 'PUT', '/api/settings', { defaultBaseImage: `oci:${base.layout}:${base.tag}`, profiles: {} });
    assert.equal(put.status, 200, put.text);
    const started = await call(socket, 'POST', '/api/runs', { path: 'nb/sales.ipynb', target: 'containers', parameters: { MIN_UNITS: 3 } });
    assert.equal(started.status, 201, started.text);
    const runId = started.json.runId as string;
    assert.equal(started.json.run.runtime, 'containers');
    const { events } = await readEvents(socket, `/api/runs/${runId}/events`);
    const last = events.filter((e) => e.event === 'run').at(-1)!.data;
    assert.equal(last.state, 'succeeded', JSON.stringify(last, null, 1));
    assert.deepEqual(last.steps.map((s: { state: string }) => s.state), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const report = await call(socket, 'GET', `/api/runs/${runId}/logs/report?format=text`);
    assert.match(report.text, /best north total 28\.0/);
    assert.deepEqual(await leftovers(runId, dir), { containers: [], mounts: [] });
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
