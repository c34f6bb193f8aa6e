/**
 * Steps really run in their images: runc containers of images built by the real builder, on a Debian Python base
 * made with mmdebstrap, through a real docker-registry. Compared with the plain local run of the same notebook.
 * Needs root, runc, skopeo, mmdebstrap and docker-registry; run by scripts/test-containers.sh
 * (CELLPIPE_CONTAINER_TESTS=1), skipped elsewhere.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { compileNotebook } from '../../core/compile.js';
import { pipelineSpec } from '../../core/ir.js';
import type { JsonValue } from '../../core/model.js';
import { buildStepImages, STEPS_DIR, WORK_DIR } from '../../images/build.js';
import { readStepCellOutputs } from '../../runs/outputs.js';
import { RunStore } from '../../runs/store.js';
import { LocalRuntime, cancelRun } from '../local/runtime.js';
import { handBuiltRequest, type StepSpec } from '../local/testkit.js';
import type { RunRecord } from '../../runs/types.js';
import type { RunRequest } from '../types.js';
import * as kit from '../../runs/testing.js';
import { debianBase } from './base-image.js';
import { prepareContainerRun } from './prepare.js';
import { ContainerRuntime } from './runtime.js';
import type { SpecDoc } from '../../kfp/tasks.js';
import { containerScene, containersUnavailable, layoutWithUser, leftovers, runInImage, type ContainerScene } from './testing.js';
import { findTool, runTool } from './tools.js';

const why = process.env.CELLPIPE_CONTAINER_TESTS ? containersUnavailable() : 'set CELLPIPE_CONTAINER_TESTS=1 (scripts/test-containers.sh)';
const opts = { skip: why ?? false, timeout: 600_000 };
let scene: ContainerScene;

before(async () => {
  if (!why) scene = await containerScene();
}, { timeout: 600_000 });
after(async () => {
  await scene?.stop();
});

function workCopy(source: string, extra: string[] = []): string {
  const work = fs.mkdtempSync(path.join(scene.dir, 'nb-'));
  fs.copyFileSync(source, path.join(work, path.basename(source)));
  for (const e of extra) fs.cpSync(path.join(path.dirname(source), e), path.join(work, e), { recursive: true });
  return path.join(work, path.basename(source));
}

async function runLocal(nb: string, parameters: Record<string, JsonValue> = {}): Promise<{ record: RunRecord; store: RunStore }> {
  const compiled = compileNotebook(fs.readFileSync(nb, 'utf8'), { path: path.basename(nb) });
  assert.ok(compiled.ok && compiled.graph);
  const store = new RunStore(path.join(path.dirname(nb), '.cellpipe-local'));
  const rt = new LocalRuntime({ store, python: kit.PYTHON, dumpVariables: true });
  const id = await rt.submit({
    notebookPath: nb, notebookHash: 'test', specHash: compiled.specHash ?? '', graph: compiled.graph, programs: compiled.programs, parameters,
    workdir: path.dirname(nb),
  });
  return { record: await rt.wait(id), store };
}

async function runInImages(nb: string, parameters: Record<string, JsonValue> = {}): Promise<{ record: RunRecord; store: RunStore; rt: ContainerRuntime }> {
  const prepared = await prepareContainerRun({
    shown: path.basename(nb), path: nb, text: fs.readFileSync(nb, 'utf8'),
    build: { registry: `${scene.registry.host}/steps`, base: scene.baseRef, insecure: true },
  });
  const store = new RunStore(path.join(path.dirname(nb), '.cellpipe-containers'));
  const rt = new ContainerRuntime({ store, images: scene.images, dumpVariables: true });
  const id = await rt.submit({ ...prepared.request, parameters });
  return { record: await rt.wait(id), store, rt };
}

/**
 * A step's final variables as canonical JSON, made by the Python that made them (the images' Debian pandas and
 * the user's differ in version, and one's pickles need not load in the other): frames by index, columns and
 * values, arrays as lists, random generators by state, objects by their attributes.
 */
const NORMALISE = `
import json, os, sys
from cellpipe_runtime import artifacts
d = sys.argv[1]
def norm(v):
    if hasattr(v, "bit_generator"):
        return {"generator": v.bit_generator.state}
    if hasattr(v, "to_dict") and hasattr(v, "index"):
        if hasattr(v, "columns"):
            s = v.astype(object).to_dict("split")
            return {"frame": norm([s["index"], s["columns"], s["data"]])}
        return {"series": norm([list(v.index), list(v.astype(object)), v.name])}
    if hasattr(v, "tolist"):
        return norm(v.tolist())
    if isinstance(v, dict):
        return {"dict": sorted([[repr(k), norm(x)] for k, x in v.items()])}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if hasattr(v, "__dict__"):
        return {"object": type(v).__name__, "attrs": norm(vars(v))}
    return {"repr": repr(v)}
names = json.load(open(os.path.join(d, "variables.json")))["saved"]
print(json.dumps({n: norm(artifacts.load(n, os.path.join(d, n))) for n in names}, sort_keys=True))
`;

function localVariables(store: RunStore, id: string, step: string): Record<string, unknown> {
  const out = execFileSync(kit.PYTHON, ['-c', NORMALISE, path.join(store.stepDir(id, step), 'variables')], {
    env: { ...process.env, PYTHONPATH: path.join(kit.REPO, 'python') }, encoding: 'utf8',
  });
  return JSON.parse(out);
}

async function imageVariables(store: RunStore, id: string, step: string): Promise<Record<string, unknown>> {
  const out = await runInImage(scene.images, scene.baseRef, ['env', 'PYTHONPATH=/src', 'python3', '-c', NORMALISE, '/vars'], [
    { source: path.join(kit.REPO, 'python'), destination: '/src' },
    { source: path.join(store.stepDir(id, step), 'variables'), destination: '/vars' },
  ]);
  return JSON.parse(out);
}

/** Asserts the step's variables (or only `names`) are equal in the local run and the container run. */
async function assertSameVariables(local: { store: RunStore; record: RunRecord }, inImages: { store: RunStore; record: RunRecord }, step: string, names?: string[]) {
  const a = localVariables(local.store, local.record.id, step);
  const b = await imageVariables(inImages.store, inImages.record.id, step);
  const pick = (v: Record<string, unknown>) => (names ? Object.fromEntries(names.map((n) => [n, v[n]])) : v);
  assert.ok(Object.keys(a).length > 0, `step ${step} saved variables`);
  assert.deepEqual(pick(b), pick(a), `step ${step}: the same variables in its image as locally`);
}

const states = (r: RunRecord) => Object.fromEntries(r.steps.map((s) => [s.name, s.state]));
const detail = (r: RunRecord) => JSON.stringify(r.steps.map((s) => [s.name, s.state, s.error?.message]));

async function assertNothingLeft(record: RunRecord): Promise<void> {
  const left = await leftovers(record.id, scene.dir);
  assert.deepEqual(left, { containers: [], mounts: [] }, 'no container in `runc list`, no overlay mounted');
}

test('a plain compiled spec runs as it is in the bare Debian base: the runtime in its command, outputs and variables as a local run', opts, async () => {
  const nb = workCopy(path.join(kit.FIXTURES, 'numbers.ipynb'));
  const compiled = compileNotebook(fs.readFileSync(nb, 'utf8'), { path: 'numbers.ipynb' });
  assert.ok(compiled.ok && compiled.yaml && compiled.graph);
  const spec = parseAllDocuments(compiled.yaml)[0].toJS() as SpecDoc;
  const firstExec = Object.values(spec.deploymentSpec.executors)[0].container!;
  assert.deepEqual(firstExec.command!.slice(0, 2), ['python3', '-c']);
  // Every step in the base image itself: it holds Python and numpy/pandas, but no cellpipe.
  const images = Object.fromEntries(compiled.graph.steps.map((s) => [s.name, scene.baseLayoutRef]));
  const store = new RunStore(path.join(path.dirname(nb), '.cellpipe-plain'));
  const rt = new ContainerRuntime({ store, images: scene.images, dumpVariables: true });
  const id = await rt.submit({
    notebookPath: 'numbers.ipynb', notebookHash: 't', specHash: compiled.specHash!, graph: compiled.graph, programs: compiled.programs,
    parameters: { SCALE: 2.5 }, images, spec,
  } as RunRequest);
  const record = await rt.wait(id);
  assert.equal(record.state, 'succeeded', detail(record));
  assert.equal(record.runtime, 'containers');
  for (const s of record.steps) for (const o of s.outputs) assert.ok(fs.existsSync(path.join(o.path!, 'cellpipe.json')), `${s.name}: ${o.name} written`);
  const local = await runLocal(nb, { SCALE: 2.5 });
  assert.equal(local.record.state, 'succeeded');
  for (const step of compiled.graph.steps) await assertSameVariables(local, { store, record }, step.name);
  assert.deepEqual(record.steps.find((s) => s.name === 'combine')!.metrics, local.record.steps.find((s) => s.name === 'combine')!.metrics);
  // What each cell showed is in the run store as a local run keeps it (the same outputs, cell by cell).
  for (const step of compiled.graph.steps) {
    const inImage = readStepCellOutputs(store, record, step.name);
    const here = readStepCellOutputs(local.store, local.record, step.name);
    assert.ok(inImage && here, `${step.name}: cell outputs recorded in the image and locally`);
    assert.deepEqual(JSON.stringify(inImage.cells), JSON.stringify(here.cells), `${step.name}: same cell outputs`);
  }
  await assertNothingLeft(record);
});

test('sales: pandas data between steps and a declared data file read by a relative path, in the built images, as locally', opts, async () => {
  const nb = workCopy(path.join(kit.FIXTURES, 'sales.ipynb'), ['data']);
  const ran = await runInImages(nb);
  assert.equal(ran.record.state, 'succeeded', detail(ran.record));
  assert.deepEqual(ran.record.steps.find((s) => s.name === 'report')!.metrics, { total: 36 });
  const local = await runLocal(nb);
  assert.equal(local.record.state, 'succeeded');
  for (const s of ['load', 'clean', 'by_region', 'report']) await assertSameVariables(local, ran, s);
  // An unchanged re-run reuses every step (cache keyed by the image digest too).
  const again = await ran.rt.submit({ ...(await prepareContainerRun({
    shown: 'sales.ipynb', path: nb, text: fs.readFileSync(nb, 'utf8'),
    build: { registry: `${scene.registry.host}/steps`, base: scene.baseRef, insecure: true },
  })).request, parameters: {} });
  assert.deepEqual(Object.values(states(await ran.rt.wait(again))), ['cached', 'cached', 'cached', 'cached']);
  await assertNothingLeft(ran.record);
});

test('corpus candies_sharing and pipeline_parameters_and_metrics run in their images like the local run', { ...opts, skip: opts.skip || (!fs.existsSync(kit.CORPUS) && 'no corpus') }, async () => {
  const candies = workCopy(path.join(kit.CORPUS, 'candies_sharing.ipynb'));
  const ran = await runInImages(candies, { CANDIES: 1 });
  assert.equal(ran.record.state, 'succeeded', detail(ran.record));
  const local = await runLocal(candies, { CANDIES: 1 });
  // With one candy the handfuls are decided: kid1 takes it, the others get none — in both runs.
  for (const s of local.record.steps) await assertSameVariables(local, ran, s.name);

  const pm = workCopy(path.join(kit.CORPUS, 'pipeline_parameters_and_metrics.ipynb'));
  const p = await runInImages(pm, { d1: 3, strtest: 'hello' });
  assert.equal(p.record.state, 'succeeded', detail(p.record));
  const sum = p.record.steps.find((s) => s.name === 'sum_matrix')!;
  assert.equal(sum.metrics.d1, 3);
  assert.equal(sum.metrics.d2, 6);
  const lp = await runLocal(pm, { d1: 3, strtest: 'hello' });
  assert.equal(lp.record.state, 'succeeded');
  // The matrix is random: compare what is decided by the parameters, and the metric against the matrix that arrived.
  for (const s of lp.record.steps) {
    const names = JSON.parse(fs.readFileSync(path.join(lp.store.stepDir(lp.record.id, s.name), 'variables', 'variables.json'), 'utf8')).saved as string[];
    const decided = names.filter((n) => !/rnd|matrix|sum_result/.test(n));
    if (decided.length) await assertSameVariables(lp, p, s.name, decided);
  }
  await assertNothingLeft(p.record);
});

/** Hand-built steps in images built from their programs (no notebook). */
async function handBuilt(steps: StepSpec[], store: RunStore, rt: ContainerRuntime, limits: Record<string, Record<string, string>> = {}, base = scene.baseRef): Promise<string> {
  const request = handBuiltRequest(steps);
  for (const s of request.graph.steps) s.limits = limits[s.name] ?? {};
  const built = await buildStepImages({ programs: request.programs, notebookDir: scene.dir, registry: `${scene.registry.host}/hand`, base, insecure: true });
  const { docs } = pipelineSpec(request.graph, request.programs, { images: built.images, programDir: STEPS_DIR, workdir: WORK_DIR, sdkVersion: 'test' });
  void store;
  return rt.submit({ ...request, images: built.images, spec: docs[0] as unknown as SpecDoc } as RunRequest);
}

test('failure names the cell and line, retries run again, a timeout stops the container; nothing is left behind', opts, async () => {
  const store = new RunStore(fs.mkdtempSync(path.join(scene.dir, 'fail-')));
  const rt = new ContainerRuntime({ store, images: scene.images, killGraceMs: 1000 });
  const id = await handBuilt([
    { name: 'boom', code: 'x = 1\nraise ValueError("bad " + str(x))', retries: 1 },
    { name: 'slow', code: 'import time\nprint("sleeping", flush=True)\ntime.sleep(300)', timeout: 3 },
    { name: 'greedy', code: 'block = bytearray(400 * 1024 * 1024)\nfor i in range(0, len(block), 4096): block[i] = 1' },
    { name: 'modest', code: 'block = bytearray(20 * 1024 * 1024)\nfor i in range(0, len(block), 4096): block[i] = 1' },
  ], store, rt, { greedy: { memory: '100Mi' }, modest: { memory: '100Mi', cpu: '500m' } });
  const record = await rt.wait(id);
  const boom = record.steps.find((s) => s.name === 'boom')!;
  assert.equal(boom.state, 'failed');
  assert.equal(boom.attempts, 2, 'retried once');
  assert.equal(boom.error?.type, 'ValueError');
  assert.equal(boom.error?.line, 2);
  const slow = record.steps.find((s) => s.name === 'slow')!;
  assert.equal(slow.state, 'failed');
  assert.match(slow.error?.message ?? '', /timed out after 3 s/);
  assert.ok(Date.parse(slow.finishedAt!) - Date.parse(slow.startedAt!) < 30_000, 'stopped soon after its timeout');
  const greedy = record.steps.find((s) => s.name === 'greedy')!;
  assert.equal(greedy.state, 'failed', 'limit:memory is the container’s memory limit: 400 MB in 100 Mi is killed');
  assert.equal(greedy.exitCode, 137, JSON.stringify(greedy.error));
  assert.equal(record.steps.find((s) => s.name === 'modest')!.state, 'succeeded', 'within its limits');
  const logs: string[] = [];
  for await (const l of store.readLogs(id, 'slow')) logs.push(l.text);
  assert.ok(logs.includes('sleeping'), 'the container’s output is in the run store');
  await assertNothingLeft(record);
});

test('an image that runs as a named user: the step runs as that user and can write its outputs', opts, async () => {
  const layout = layoutWithUser(scene.base.layout, scene.base.tag, 'nobody', fs.mkdtempSync(path.join(scene.dir, 'nobody-')));
  const ref = `${scene.registry.host}/base-nobody:1`;
  await runTool(findTool('skopeo')!, ['copy', '--quiet', '--dest-tls-verify=false', layout, `docker://${ref}`]);
  const store = new RunStore(fs.mkdtempSync(path.join(scene.dir, 'user-')));
  const rt = new ContainerRuntime({ store, images: scene.images });
  const id = await handBuilt([
    { name: 'who', code: 'import os\nids = (os.getuid(), os.getgid())\nprint("ids", ids)', outputs: ['ids'] },
    { name: 'after', code: 'print("got", ids)', inputs: { ids: 'who' } },
  ], store, rt, {}, ref);
  const record = await rt.wait(id);
  assert.equal(record.state, 'succeeded', detail(record));
  const lines: string[] = [];
  for await (const l of store.readLogs(id, 'after')) lines.push(l.text);
  assert.ok(lines.includes('got (65534, 65534)'), `nobody:nogroup from the image's /etc/passwd: ${lines.join(' | ')}`);
  await assertNothingLeft(record);
});

test("a container step's stdout and stderr lines reach the store in the order it wrote them, each with its stream", opts, async () => {
  const store = new RunStore(fs.mkdtempSync(path.join(scene.dir, 'order-')));
  const rt = new ContainerRuntime({ store, images: scene.images });
  const id = await handBuilt([
    { name: 'talk', code: 'import sys\nfor i in range(300):\n    print("out", i)\n    print("err", i, file=sys.stderr)\nprint("loaded 90 days")' },
  ], store, rt);
  const record = await rt.wait(id);
  assert.equal(record.state, 'succeeded', detail(record));
  const lines: { stream: string; text: string }[] = [];
  for await (const l of store.readLogs(id, 'talk')) if (l.stream !== 'system') lines.push(l);
  const numbered = lines.filter((l) => /^(out|err) \d+$/.test(l.text)).map((l) => `${l.stream}:${l.text}`);
  const expected = Array.from({ length: 300 }, (_, i) => [`stdout:out ${i}`, `stderr:err ${i}`]).flat();
  assert.deepEqual(numbered, expected);
  const loaded = lines.findIndex((l) => l.text === 'loaded 90 days');
  const done = lines.findIndex((l) => /^\[cellpipe\] step talk: done/.test(l.text));
  assert.ok(loaded >= 0 && done > loaded && lines[done].stream === 'stderr', `the step's last print, then the runtime's done: ${loaded}, ${done}`);
  await assertNothingLeft(record);
});

test('cancel from another runtime object (as `cellpipe cancel` does) kills the running container; nothing is left behind', opts, async () => {
  const store = new RunStore(fs.mkdtempSync(path.join(scene.dir, 'cancel-')));
  const rt = new ContainerRuntime({ store, images: scene.images, killGraceMs: 1000 });
  const id = await handBuilt([{ name: 'forever', code: 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("started", flush=True)\nwhile True: time.sleep(1)' }], store, rt);
  for await (const l of store.readLogs(id, 'forever', { follow: true })) if (l.text === 'started') break;
  const t0 = Date.now();
  await cancelRun(new RunStore(store.dir), id, { graceMs: 1000 });
  const record = await rt.wait(id);
  assert.equal(record.state, 'cancelled');
  assert.equal(record.steps[0].state, 'cancelled');
  assert.ok(Date.now() - t0 < 20_000, 'a step that ignores SIGTERM is killed after the grace period');
  await assertNothingLeft(record);
  assert.ok(os.platform() === 'linux');
});

test('the Debian base is cached and deterministic: made again in an empty cache it has the same digest', opts, async () => {
  const again = await debianBase({ cacheDir: fs.mkdtempSync(path.join(scene.dir, 'base-')) });
  assert.equal(again.created, true);
  assert.equal(again.digest, scene.base.digest, 'same packages, same mirror state: the same image');
  const cached = await debianBase();
  assert.equal(cached.created, false, 'the default cache already has it');
  assert.equal(cached.digest, scene.base.digest);
});

/** A notebook of code cells, each `[tags, source]`. */
function notebookOf(cells: [string[], string][]): string {
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map(([tags, source]) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null })),
  });
}

test('a requirements: step: its requirements image is built with buildah from PyPI and the step imports the package there', opts, async () => {
  // Debian's pip, so a real install from the index (through this machine's TLS trust) into an externally-managed Python.
  const pipBase = await debianBase({ packages: ['python3', 'python3-pip'], onLog: (l) => process.stderr.write(`[mmdebstrap] ${l}\n`) });
  const baseRef = `${scene.registry.host}/base-pip:${pipBase.tag}`;
  await runTool(findTool('skopeo')!, ['copy', '--quiet', '--dest-tls-verify=false', `oci:${pipBase.layout}:${pipBase.tag}`, `docker://${baseRef}`]);
  const work = fs.mkdtempSync(path.join(scene.dir, 'req-'));
  const nb = path.join(work, 'req.ipynb');
  fs.writeFileSync(nb, notebookOf([
    [['step:with_six', 'requirements:six==1.16.0'], 'import six\nversion = six.__version__\nprint("six", version, six.__file__)'],
    [['step:without', 'prev:with_six'], 'try:\n    import six\n    has_six = True\nexcept ImportError:\n    has_six = False\nprint("got", version, "has six", has_six)'],
  ]));
  // buildah's storage in a scratch folder: the test never touches the machine's images.
  const saved = { driver: process.env.CELLPIPE_BUILDAH_STORAGE_DRIVER, root: process.env.CELLPIPE_BUILDAH_ROOT };
  process.env.CELLPIPE_BUILDAH_STORAGE_DRIVER = 'vfs';
  process.env.CELLPIPE_BUILDAH_ROOT = path.join(work, 'buildah');
  let prepared;
  try {
    prepared = await prepareContainerRun({
      shown: 'req.ipynb', path: nb, text: fs.readFileSync(nb, 'utf8'),
      build: { registry: `${scene.registry.host}/steps`, base: baseRef, insecure: true },
    });
  } finally {
    for (const [k, v] of [['CELLPIPE_BUILDAH_STORAGE_DRIVER', saved.driver], ['CELLPIPE_BUILDAH_ROOT', saved.root]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  assert.ok(prepared.built.steps.with_six.requirementsImage, 'with_six sits on a requirements image');
  assert.equal(prepared.built.steps.without.requirementsImage, undefined, 'the other step on the plain base');
  const store = new RunStore(path.join(work, '.cellpipe-containers'));
  const rt = new ContainerRuntime({ store, images: scene.images });
  const id = await rt.submit({ ...prepared.request, parameters: {} });
  const record = await rt.wait(id);
  assert.equal(record.state, 'succeeded', detail(record));
  const lines = async (step: string) => {
    const out: string[] = [];
    for await (const l of store.readLogs(id, step)) out.push(l.text);
    return out;
  };
  const six = (await lines('with_six')).find((l) => l.startsWith('six '));
  assert.ok(six, 'the step printed the package version');
  const [, version, file] = six.split(' ');
  assert.equal(version, '1.16.0');
  assert.match(file, /^\/usr\/local\/lib\/python3\.\d+\/dist-packages\/six\.py$/, "installed where the image's own Python looks");
  assert.ok((await lines('without')).includes('got 1.16.0 has six False'), 'the version passed on; the plain base has no six');
  // The build's CA bundle was a mount: no certificate in the image, no build path in its environment.
  const check = await runInImage(scene.images, prepared.built.images.with_six, ['python3', '-c',
    'import os, json; p = "/run/cellpipe-build/ca-certificates.crt"; print(json.dumps({"ca": os.path.getsize(p) if os.path.exists(p) else None, "env": sorted(k for k in os.environ if "CERT" in k or k.startswith("PIP_"))}))'], []);
  const seen = JSON.parse(check) as { ca: number | null; env: string[] };
  assert.ok(seen.ca === null || seen.ca === 0, `no CA content left in the image (${seen.ca} bytes)`);
  assert.deepEqual(seen.env, []);
  await assertNothingLeft(record);
});
