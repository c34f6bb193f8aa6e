// Per-step overhead of running steps in their images (not a test): a chain of trivial steps run
//   - as local processes (the local runtime),
//   - as runc containers of their built images (the container runtime): cold (pull + unpack into an empty image
//     store) and warm (the same images again: pull and unpack cached),
// next to the `python3 -c pass` floor, all in one run. Target: warm container step <= 3x a local step.
// Usage: node bench/containers.mjs [STEPS]   (as root; needs runc, skopeo, mmdebstrap, docker-registry; run `npm run build` first)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pipelineSpec } from '../lib/core/ir.js';
import { buildStepImages, STEPS_DIR, WORK_DIR } from '../lib/images/build.js';
import { RunStore } from '../lib/runs/store.js';
import { LocalRuntime } from '../lib/runtimes/local/runtime.js';
import { handBuiltRequest } from '../lib/runtimes/local/testkit.js';
import { ContainerRuntime } from '../lib/runtimes/containers/runtime.js';
import { ImageStore } from '../lib/runtimes/containers/images.js';
import { containerScene, containersUnavailable } from '../lib/runtimes/containers/testing.js';
import { PYTHON } from '../lib/runs/testing.js';

const why = containersUnavailable();
if (why) {
  console.log(`bench/containers: skipped (${why})`);
  process.exit(0);
}
const N = Number(process.argv[2] ?? 8);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const floor = [];
for (let i = 0; i < 15; i++) {
  const t = performance.now();
  execFileSync(PYTHON, ['-c', 'pass']);
  floor.push(performance.now() - t);
}

const scene = await containerScene();
try {
  // A chain: each step reads the previous one's value, so steps run one after another.
  const steps = Array.from({ length: N }, (_, i) => ({
    name: `s${i}`,
    code: i === 0 ? 'v0 = 0' : `v${i} = v${i - 1} + 1`,
    inputs: i === 0 ? {} : { [`v${i - 1}`]: `s${i - 1}` },
    outputs: i === N - 1 ? [] : [`v${i}`],
  }));
  const request = { ...handBuiltRequest(steps), cache: false };
  const built = await buildStepImages({ programs: request.programs, notebookDir: scene.dir, registry: `${scene.registry.host}/bench`, base: scene.baseRef, insecure: true });
  const { docs } = pipelineSpec(request.graph, request.programs, { images: built.images, programDir: STEPS_DIR, workdir: WORK_DIR, sdkVersion: 'bench' });

  const perStep = async (rt, req) => {
    const t = performance.now();
    const id = await rt.submit(req);
    const rec = await rt.wait(id);
    if (rec.state !== 'succeeded') throw new Error(`bench run ${rec.state}: ${JSON.stringify(rec.steps.map((s) => [s.name, s.state, s.error?.message]))}`);
    return (performance.now() - t) / N;
  };
  const store = new RunStore(fs.mkdtempSync(path.join(scene.dir, 'store-')));
  const local = new LocalRuntime({ store, python: PYTHON, concurrency: 1 });
  const localRuns = [];
  for (let i = 0; i < 3; i++) localRuns.push(await perStep(local, request));

  const images = new ImageStore({ dir: path.join(scene.dir, 'images-bench'), insecureRegistries: [scene.registry.host] });
  const containers = new ContainerRuntime({ store, images, concurrency: 1 });
  const creq = { ...request, images: built.images, spec: docs[0] };
  const cold = await perStep(containers, creq);
  const warmRuns = [];
  for (let i = 0; i < 3; i++) warmRuns.push(await perStep(containers, creq));

  const f = median(floor);
  const l = median(localRuns);
  const w = median(warmRuns);
  console.log(`bench/containers: ${N} chained steps, concurrency 1 (per step, wall time of the run / steps)`);
  console.log(`  python3 -c pass floor        ${f.toFixed(1)} ms`);
  console.log(`  local process step           ${l.toFixed(1)} ms   (${(l / f).toFixed(1)}x the floor)`);
  console.log(`  container step, cold         ${cold.toFixed(1)} ms   (pull + unpack of the base and step layers included)`);
  console.log(`  container step, warm         ${w.toFixed(1)} ms   (${(w / l).toFixed(2)}x a local step, ${(w / f).toFixed(1)}x the floor; target <= 3x a local step)`);
} finally {
  await scene.stop();
}
