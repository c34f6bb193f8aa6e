#!/usr/bin/env node
/**
 * Local-run overhead: cellpipe's local runtime vs kfp.local (SubprocessRunner(use_venv=False)) vs the floor
 * (`python -c pass` once per step), on two shapes measured in the same session:
 *   chain   — N trivial steps in a row, each passing an int to the next (default N = 20);
 *   diamond — one step, three in parallel reading its output, one joining them.
 * Then a fully cached re-run of the chain, in-process and as a whole `cellpipe run` command.
 *
 * usage: node bench/local-runs.mjs [--steps N] [--repeat R] [--no-kfp] [--json]
 * Needs a build (`npx tsc -b`). kfp is installed on first use into ~/.cache/cellpipe/bench-venv (its own venv,
 * not the project's .venv). Set CELLPIPE_PYTHON to choose the interpreter (default python3).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalRuntime } from '../lib/runtimes/local/runtime.js';
import { RunStore } from '../lib/runs/store.js';
import { handBuiltRequest } from '../lib/runtimes/local/testkit.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const N = Number(opt('--steps', 20));
const R = Number(opt('--repeat', 3));
const withKfp = !argv.includes('--no-kfp');
const asJson = argv.includes('--json');
// The interpreter's real path (python3 may be a pyenv shim, a shell script): the floor and cellpipe use the same.
const python = execFileSync(process.env.CELLPIPE_PYTHON ?? 'python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
const venv = path.join(os.homedir(), '.cache/cellpipe/bench-venv');
const log = (...a) => process.stderr.write(a.join(' ') + '\n');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const now = () => performance.now();

// --- the floor: python -c pass once per step, in the pipeline's shape -----------------------------------------
function pyPass() {
  return new Promise((resolve, reject) => {
    const c = spawn(python, ['-c', 'pass'], { stdio: 'ignore' });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`python -c pass exited ${code}`))));
    c.on('error', reject);
  });
}
async function floorChain() {
  const t = now();
  for (let i = 0; i < N; i++) await pyPass();
  return now() - t;
}
async function floorDiamond() {
  const t = now();
  await pyPass();
  await Promise.all([pyPass(), pyPass(), pyPass()]);
  await pyPass();
  return now() - t;
}

// --- cellpipe ------------------------------------------------------------------------------------------------
function chainSteps() {
  const steps = [{ name: 's0', code: 'x0 = 0', outputs: ['x0'] }];
  for (let i = 1; i < N; i++) steps.push({ name: `s${i}`, code: `x${i} = x${i - 1} + 1`, inputs: { [`x${i - 1}`]: `s${i - 1}` }, outputs: [`x${i}`] });
  return steps;
}
function diamondSteps() {
  return [
    { name: 'start', code: 'x = 0', outputs: ['x'] },
    { name: 'b1', code: 'b1 = x + 1', inputs: { x: 'start' }, outputs: ['b1'] },
    { name: 'b2', code: 'b2 = x + 2', inputs: { x: 'start' }, outputs: ['b2'] },
    { name: 'b3', code: 'b3 = x + 3', inputs: { x: 'start' }, outputs: ['b3'] },
    { name: 'join', code: 'total = b1 + b2 + b3', inputs: { b1: 'b1', b2: 'b2', b3: 'b3' } },
  ];
}
async function cellpipeRun(runtime, steps, workdir, cache) {
  const t = now();
  const id = await runtime.submit(handBuiltRequest(steps, { workdir, cache }));
  const rec = await runtime.wait(id);
  const ms = now() - t;
  if (rec.state !== 'succeeded') throw new Error(`cellpipe run ${id} ${rec.state}: ${JSON.stringify(rec.steps.find((s) => s.error)?.error)}`);
  return { ms, rec };
}

// --- kfp.local -------------------------------------------------------------------------------------------------
const KFP_SCRIPT = `
import json, sys, tempfile, time, warnings, logging
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
from kfp import dsl, local
N = int(sys.argv[1]); install = sys.argv[2] == "1"
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=tempfile.mkdtemp())

@dsl.component(install_kfp_package=install)
def add_one(x: int) -> int:
    return x + 1

@dsl.component(install_kfp_package=install)
def add3(a: int, b: int, c: int) -> int:
    return a + b + c

@dsl.pipeline
def chain() -> int:
    t = add_one(x=-1)
    for _ in range(N - 1):
        t = add_one(x=t.output)
    return t.output

@dsl.pipeline
def diamond() -> int:
    s = add_one(x=-1)
    b = [add_one(x=s.output) for _ in range(3)]
    return add3(a=b[0].output, b=b[1].output, c=b[2].output).output

res = {}
for name, p in (("chain", chain), ("diamond", diamond)):
    t0 = time.perf_counter()
    out = p()
    res[name] = (time.perf_counter() - t0) * 1000
    res[name + "_result"] = out.output if hasattr(out, "output") else str(out)
print("RESULT " + json.dumps(res))
`;
function ensureKfp() {
  const py = path.join(venv, 'bin/python');
  if (fs.existsSync(py) && spawnSync(py, ['-c', 'import kfp.local'], { stdio: 'ignore' }).status === 0) return py;
  log(`installing kfp into ${venv} (first run only)…`);
  if (!fs.existsSync(py)) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(py, ['-m', 'pip', 'install', '-q', 'kfp>=2.7,<3'], { stdio: 'inherit' });
  return py;
}
function kfpRun(py, install) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-bench-kfp-'));
  const script = path.join(dir, 'bench_kfp.py');
  fs.writeFileSync(script, KFP_SCRIPT);
  // Steps call `python3`: make it the venv's, which has kfp.
  const r = spawnSync(py, [script, String(N), install ? '1' : '0'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${path.join(venv, 'bin')}:${process.env.PATH}` },
    maxBuffer: 64 << 20,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`kfp.local run failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
  return JSON.parse(line.slice(7));
}

// --- the cached re-run through the CLI ---------------------------------------------------------------------------
function chainNotebook(file) {
  const cells = [{ cell_type: 'code', metadata: { tags: ['step:s0'] }, source: ['x0 = 0'], outputs: [], execution_count: null }];
  for (let i = 1; i < N; i++) {
    cells.push({ cell_type: 'code', metadata: { tags: [`step:s${i}`, `prev:s${i - 1}`] }, source: [`x${i} = x${i - 1} + 1`], outputs: [], execution_count: null });
  }
  fs.writeFileSync(file, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells }));
}
function cliRun(cwd, nb) {
  const t = now();
  const r = spawnSync(process.execPath, [path.join(repo, 'bin/cellpipe.js'), 'run', nb, '--quiet'], { cwd, encoding: 'utf8', env: { ...process.env, CELLPIPE_STORE: '' } });
  const ms = now() - t;
  if (r.status !== 0) throw new Error(`cellpipe run exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

// --- main ------------------------------------------------------------------------------------------------------------
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-bench-'));
const runtime = new LocalRuntime({ store: new RunStore(path.join(work, '.cellpipe')), python });
const kfpPy = withKfp ? ensureKfp() : undefined;
const m = { floorChain: [], floorDiamond: [], cpChain: [], cpDiamond: [], kfpChain: [], kfpDiamond: [], kfpNoInstallChain: [], kfpNoInstallDiamond: [] };
log(`cellpipe local-run bench: chain of ${N}, 3-wide diamond, ${R} rounds, ${os.availableParallelism()} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
for (let r = 0; r < R; r++) {
  m.floorChain.push(await floorChain());
  m.floorDiamond.push(await floorDiamond());
  m.cpChain.push((await cellpipeRun(runtime, chainSteps(), work, false)).ms);
  m.cpDiamond.push((await cellpipeRun(runtime, diamondSteps(), work, false)).ms);
  if (kfpPy) {
    const k = kfpRun(kfpPy, true);
    m.kfpChain.push(k.chain);
    m.kfpDiamond.push(k.diamond);
    const k2 = kfpRun(kfpPy, false);
    m.kfpNoInstallChain.push(k2.chain);
    m.kfpNoInstallDiamond.push(k2.diamond);
  }
  log(`  round ${r + 1}: floor ${m.floorChain.at(-1).toFixed(0)} ms, cellpipe ${m.cpChain.at(-1).toFixed(0)} ms${kfpPy ? `, kfp.local ${m.kfpChain.at(-1).toFixed(0)} ms` : ''} (chain)`);
}
// Cached: fill the cache once, then time re-runs.
await cellpipeRun(runtime, chainSteps(), work, true);
const cachedInProcess = [];
for (let r = 0; r < Math.max(R, 3); r++) {
  const { ms, rec } = await cellpipeRun(runtime, chainSteps(), work, true);
  if (!rec.steps.every((s) => s.state === 'cached')) throw new Error('re-run was not fully cached');
  cachedInProcess.push(ms);
}
const nb = path.join(work, 'chain.ipynb');
chainNotebook(nb);
cliRun(work, 'chain.ipynb');
const cachedCli = [];
for (let r = 0; r < Math.max(R, 3); r++) {
  const { ms, stdout } = cliRun(work, 'chain.ipynb');
  if ((stdout.match(/── cached/g) ?? []).length !== N) throw new Error(`CLI re-run was not fully cached:\n${stdout}`);
  cachedCli.push(ms);
}

const med = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.length ? median(v) : undefined]));
const perStep = (ms, steps) => (ms === undefined ? undefined : ms / steps);
const res = {
  steps: N,
  rounds: R,
  cpus: os.availableParallelism(),
  loadavg: os.loadavg()[0],
  chain: {
    floorMsPerStep: perStep(med.floorChain, N),
    cellpipeMsPerStep: perStep(med.cpChain, N),
    kfpLocalMsPerStep: perStep(med.kfpChain, N),
    kfpLocalNoInstallMsPerStep: perStep(med.kfpNoInstallChain, N),
  },
  diamond: { floorMs: med.floorDiamond, cellpipeMs: med.cpDiamond, kfpLocalMs: med.kfpDiamond, kfpLocalNoInstallMs: med.kfpNoInstallDiamond },
  cached: { inProcessMs: median(cachedInProcess), cliMs: median(cachedCli) },
};
const ratio = (a, b) => (a === undefined || b === undefined ? undefined : a / b);
res.ratios = {
  chainCellpipeOverFloor: ratio(res.chain.cellpipeMsPerStep, res.chain.floorMsPerStep),
  chainKfpOverCellpipe: ratio(res.chain.kfpLocalMsPerStep, res.chain.cellpipeMsPerStep),
  chainKfpNoInstallOverCellpipe: ratio(res.chain.kfpLocalNoInstallMsPerStep, res.chain.cellpipeMsPerStep),
  diamondCellpipeOverFloor: ratio(res.diamond.cellpipeMs, res.diamond.floorMs),
  diamondKfpOverCellpipe: ratio(res.diamond.kfpLocalMs, res.diamond.cellpipeMs),
  diamondKfpNoInstallOverCellpipe: ratio(res.diamond.kfpLocalNoInstallMs, res.diamond.cellpipeMs),
};
fs.rmSync(work, { recursive: true, force: true });

if (asJson) {
  process.stdout.write(JSON.stringify(res, null, 2) + '\n');
} else {
  const f = (x, d = 0) => (x === undefined ? 'n/a' : x.toFixed(d));
  const out = [
    `chain of ${N} trivial steps (median of ${R}; per step):`,
    `  floor (python -c pass)        ${f(res.chain.floorMsPerStep, 1)} ms`,
    `  cellpipe local                ${f(res.chain.cellpipeMsPerStep, 1)} ms   = ${f(res.ratios.chainCellpipeOverFloor, 2)}× floor   (target ≤ 2×)`,
    `  kfp.local (default component) ${f(res.chain.kfpLocalMsPerStep, 1)} ms   = ${f(res.ratios.chainKfpOverCellpipe, 1)}× cellpipe (target ≥ 5×)`,
    `  kfp.local (install_kfp_package=False) ${f(res.chain.kfpLocalNoInstallMsPerStep, 1)} ms = ${f(res.ratios.chainKfpNoInstallOverCellpipe, 1)}× cellpipe`,
    `3-wide diamond (5 steps, whole run):`,
    `  floor ${f(res.diamond.floorMs)} ms · cellpipe ${f(res.diamond.cellpipeMs)} ms (${f(res.ratios.diamondCellpipeOverFloor, 2)}× floor) · kfp.local ${f(res.diamond.kfpLocalMs)} ms (${f(res.ratios.diamondKfpOverCellpipe, 1)}× cellpipe; ${f(res.diamond.kfpLocalNoInstallMs)} ms without the kfp install)`,
    `fully cached re-run of ${N} steps: ${f(res.cached.inProcessMs)} ms in-process, ${f(res.cached.cliMs)} ms as a whole \`cellpipe run\` (target < 300 ms)`,
    `(${res.cpus} CPUs, load average ${res.loadavg.toFixed(1)} at the end)`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}
