// Submit benchmark (not a test): time from "submit" to "run created" on Kubeflow Pipelines, next to Elyra's
// export of the same notebook as a one-node pipeline, measured in the same run.
//
//   cellpipe, unchanged notebook (images cached): validate → build (every image found by digest) → upload (the
//            version holding this spec is reused) → create run. In-process median, and the `cellpipe submit` CLI
//            process end to end (Node start-up included).
//   cellpipe, after a one-line change in one step: one new step image (one small layer), a new pipeline version.
//   Elyra 4.1.1: its KFP processor's export of the notebook as a one-node pipeline (bench/submit_elyra.py), which
//            packages the notebook and compiles the KFP spec; the upload of its dependency archive to object
//            storage is replaced by a local file copy, so Elyra is timed without any network.
//
// Real parts: Debian's docker-registry on 127.0.0.1 for the images; the KFP API is the swagger-checked fake
// (src/kfp/testing/fake-server.ts, which also parses every uploaded spec with the real KFP protos).
// Usage: node bench/submit.mjs            (run `npm run build` first; Elyra: bash bench/setup-baselines.sh elyra)
import { execFileSync, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { FakeKfpServer } from '../lib/kfp/testing/fake-server.js';
import { KfpClient } from '../lib/kfp/client.js';
import { staticEndpoint } from '../lib/kfp/endpoint.js';
import { RunStore } from '../lib/runs/store.js';
import { KubeflowRuntime } from '../lib/runtimes/kubeflow/runtime.js';
import { RegistryClient } from '../lib/images/registry.js';
import { pushBaseImage, startRegistry } from '../lib/images/testing.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const REPEATS = Number(process.env.BENCH_REPEATS ?? 7);
const notebookPath = here('../../shared/corpus/kale/candies_sharing.ipynb');
const text = readFileSync(notebookPath, 'utf8');

const work = mkdtempSync(join(tmpdir(), 'cellpipe-bench-submit-'));
const reg = await startRegistry('open');
const fake = new FakeKfpServer();
await fake.start();
try {
  await pushBaseImage(new RegistryClient(reg.clientOptions()), 'base/python', '3.12', [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }]);
  const profile = { name: 'bench', namespace: 'team-a', registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`, insecureRegistry: true, kfp: { host: fake.url, auth: 'none' } };
  const runtime = new KubeflowRuntime({
    store: new RunStore(join(work, 'store')), profile, client: new KfpClient(staticEndpoint(fake.url, { namespace: 'team-a' })), kube: null,
  });
  const submit = async (nbText) => {
    const t = performance.now();
    const r = await runtime.submitNotebook({ notebookPath, text: nbText, watch: false });
    return { ms: performance.now() - t, r };
  };
  const first = await submit(text);
  console.log(`cellpipe  first submit (4 images built and pushed, new pipeline): ${first.ms.toFixed(0)} ms  [${stages(first.r.timings)}]`);

  const unchanged = [];
  let lastTimings;
  for (let i = 0; i < REPEATS; i++) {
    const { ms, r } = await submit(text);
    if (r.upload.action !== 'reused') throw new Error(`unchanged notebook did not reuse the version (${r.upload.action})`);
    unchanged.push(ms);
    lastTimings = r.timings;
  }
  console.log(`cellpipe  unchanged re-submit, in process: median ${median(unchanged).toFixed(0)} ms of ${REPEATS}  [${stages(lastTimings)}]`);

  const changed = [];
  for (let i = 0; i < REPEATS; i++) {
    const nb = JSON.parse(text);
    const cell = nb.cells.find((c) => (c.metadata.tags ?? []).includes('step:kid2'));
    cell.source = [...[cell.source].flat(), `\nprint("edit ${i} ${Date.now()}")\n`];
    const { ms, r } = await submit(JSON.stringify(nb));
    if (r.upload.action !== 'version') throw new Error(`a changed notebook did not upload a new version (${r.upload.action})`);
    changed.push(ms);
    lastTimings = r.timings;
  }
  console.log(`cellpipe  one-line change in one step:     median ${median(changed).toFixed(0)} ms of ${REPEATS}  [${stages(lastTimings)}]`);

  // The CLI as a user runs it, unchanged notebook: process start → "run created" printed.
  writeFileSync(join(work, 'profiles.yaml'), `profiles:\n  bench:\n    namespace: team-a\n    registry: ${profile.registry}\n    baseImage: ${profile.baseImage}\n    insecureRegistry: true\n    kfp: {host: "${fake.url}", auth: none}\n`);
  const cli = [];
  for (let i = 0; i < Math.min(REPEATS, 5); i++) {
    const t = performance.now();
    await promisify(execFile)(process.execPath, [here('../bin/cellpipe.js'), 'submit', notebookPath, '--profile', 'bench'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CELLPIPE_PROFILES: join(work, 'profiles.yaml'), CELLPIPE_STORE: join(work, 'cli-store') },
    });
    cli.push(performance.now() - t);
  }
  console.log(`cellpipe  unchanged re-submit, CLI process end to end: median ${median(cli).toFixed(0)} ms of ${cli.length} (target < 2000 ms)`);

  let elyra;
  if (process.env.BENCH_SKIP_ELYRA) console.log('Elyra baseline skipped (BENCH_SKIP_ELYRA)');
  else try {
    const python = execFileSync('bash', [here('setup-baselines.sh'), 'elyra'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const out = execFileSync(python, [here('submit_elyra.py'), notebookPath, String(REPEATS)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    elyra = JSON.parse(out.trim().split('\n').pop());
  } catch (err) {
    console.log(`Elyra baseline unavailable: ${String(err.message).split('\n')[0]}`);
  }
  if (elyra) {
    console.log(`Elyra 4.1.1 export as a one-node KFP pipeline: first ${elyra.first_ms.toFixed(0)} ms, median ${elyra.median_ms.toFixed(0)} ms of ${REPEATS} (${elyra.what})`);
    console.log(`ratio: cellpipe unchanged re-submit (in process) is ${(elyra.median_ms / median(unchanged)).toFixed(1)}× faster than Elyra's export (target ≥ 5×); ` +
      `one-line change ${(elyra.median_ms / median(changed)).toFixed(1)}×; CLI end to end ${(elyra.median_ms / median(cli)).toFixed(1)}× ` +
      `(vs Elyra's first export in a fresh Python, imports included: ${(elyra.first_ms / median(cli)).toFixed(1)}×)`);
  }
  if (fake.violations.length) throw new Error(`KFP contract violations: ${fake.violations.join('; ')}`);
} finally {
  await fake.close();
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}

function stages(t) {
  return Object.entries(t).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
}
