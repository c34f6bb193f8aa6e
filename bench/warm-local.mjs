#!/usr/bin/env node
/**
 * Warm starts (issue 15): a notebook that imports pandas and scikit-learn, run as a pipeline by cellpipe with warm
 * starts (a fork server runs the imports cell once per run, steps are forked from it), with cold starts (`--cold`:
 * a fresh Python per step, re-importing everything), and top to bottom by `jupyter nbconvert --execute` (one kernel,
 * the same cells), beside the floor (`python -c pass`) — all in this one run, on two generated shapes:
 *   chain  — 9 steps in a row (make data, clean, features, split, scale, logistic regression, random forest, evaluate,
 *            report), each reading what the one before produced;
 *   fanout — one data step, 5 models fitted in parallel on it, one step joining their scores.
 * Also: time to the first log line (warm with the server already running, as in JupyterLab where the backend keeps
 * it; warm through the CLI, which starts its server; cold), and the per-step overhead of 20 trivial steps.
 * The data are made by sklearn.datasets.make_classification: nothing is downloaded.
 *
 * usage: node bench/warm-local.mjs [--repeat R] [--rows N] [--json]
 * Needs a build (`npx tsc -b`) and pandas + scikit-learn in the interpreter (CELLPIPE_PYTHON, default the project's
 * .venv, which has them for the tests; they are not dependencies of cellpipe) and nbconvert + ipykernel beside it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileNotebook } from '../lib/core/compile.js';
import { LocalRuntime } from '../lib/runtimes/local/runtime.js';
import { RunStore } from '../lib/runs/store.js';
import { handBuiltRequest } from '../lib/runtimes/local/testkit.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const R = Number(opt('--repeat', 3));
const ROWS = Number(opt('--rows', 6000));
const asJson = argv.includes('--json');
const venvPython = path.join(repo, '.venv/bin/python');
const python = execFileSync(process.env.CELLPIPE_PYTHON ?? (fs.existsSync(venvPython) ? venvPython : 'python3'), ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
const jupyter = path.join(path.dirname(python), 'jupyter');
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
const now = () => performance.now();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const uptime = () => spawnSync('uptime', { encoding: 'utf8' }).stdout.trim();

// --- the notebooks ---------------------------------------------------------------------------------------------
const IMPORTS = [
  'import numpy as np',
  'import pandas as pd',
  'from sklearn.datasets import make_classification',
  'from sklearn.model_selection import train_test_split',
  'from sklearn.preprocessing import StandardScaler',
  'from sklearn.linear_model import LogisticRegression',
  'from sklearn.ensemble import RandomForestClassifier, GradientBoostingClassifier',
  'from sklearn.neighbors import KNeighborsClassifier',
  'from sklearn.tree import DecisionTreeClassifier',
  'from sklearn.metrics import accuracy_score',
].join('\n');
const PARAMS = `ROWS = ${ROWS}\nSEED = 0`;
const MAKE = 'X, y = make_classification(n_samples=ROWS, n_features=20, n_informative=8, random_state=SEED)\ndf = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])\ndf["label"] = y\nprint("rows", len(df))';

function notebook(file, steps) {
  const cell = (source, tags) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
  const cells = [cell(IMPORTS, ['imports']), cell(PARAMS, ['pipeline-parameters'])];
  for (const s of steps) cells.push(cell(s.code, [`step:${s.name}`, ...(s.after ?? []).map((p) => `prev:${p}`)]));
  fs.writeFileSync(file, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells }));
}
const CHAIN = [
  { name: 'load', code: MAKE },
  { name: 'clean', code: 'df = df.dropna()\ndf = df[(df.drop(columns="label").abs() < 6).all(axis=1)].reset_index(drop=True)\nprint("kept", len(df))', after: ['load'] },
  { name: 'features', code: 'feats = df.copy()\nfeats["f_sum"] = feats.filter(like="f").sum(axis=1)\nfeats["f_ratio"] = feats.f0 / (feats.f1.abs() + 1)\nprint(feats.describe().loc["mean"].round(3).head(3).to_dict())', after: ['clean'] },
  { name: 'split', code: 'train, test = train_test_split(feats, test_size=0.25, random_state=SEED)\nprint(len(train), len(test))', after: ['features'] },
  { name: 'scale', code: 'scaler = StandardScaler().fit(train.drop(columns="label"))\nXtr = scaler.transform(train.drop(columns="label"))\nXte = scaler.transform(test.drop(columns="label"))\nytr, yte = train.label.to_numpy(), test.label.to_numpy()', after: ['split'] },
  { name: 'train_lr', code: 'lr = LogisticRegression(max_iter=1000).fit(Xtr, ytr)', after: ['scale'] },
  { name: 'train_rf', code: 'rf = RandomForestClassifier(n_estimators=60, random_state=SEED, n_jobs=1).fit(Xtr, ytr)', after: ['train_lr'] },
  { name: 'evaluate', code: 'scores = {"lr": float(accuracy_score(yte, lr.predict(Xte))), "rf": float(accuracy_score(yte, rf.predict(Xte)))}\nprint(scores)', after: ['train_rf'] },
  { name: 'report', code: 'summary = pd.DataFrame([scores])\nprint(summary.to_string())', after: ['evaluate'] },
];
const MODELS = {
  m_lr: 'LogisticRegression(max_iter=1000)',
  m_rf: 'RandomForestClassifier(n_estimators=60, random_state=SEED, n_jobs=1)',
  m_gb: 'GradientBoostingClassifier(n_estimators=40, random_state=SEED)',
  m_knn: 'KNeighborsClassifier(n_neighbors=15)',
  m_tree: 'DecisionTreeClassifier(max_depth=8, random_state=SEED)',
};
const FANOUT = [
  { name: 'data', code: `${MAKE}\nXtr, Xte, ytr, yte = train_test_split(StandardScaler().fit_transform(df.drop(columns="label")), df.label.to_numpy(), test_size=0.25, random_state=SEED)` },
  ...Object.entries(MODELS).map(([name, model]) => ({ name, code: `score_${name} = float(accuracy_score(yte, ${model}.fit(Xtr, ytr).predict(Xte)))\nprint("${name}", round(score_${name}, 3))` })),
  { name: 'join', code: `best = max([${Object.keys(MODELS).map((m) => `("${m}", score_${m})`).join(', ')}], key=lambda t: t[1])\nprint("best", best)` },
];

// --- runners ---------------------------------------------------------------------------------------------------
function timed(file, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const t = now();
    let firstLine;
    let out = '';
    let err = '';
    const c = spawn(file, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.on('data', (d) => {
      out += d;
      if (firstLine === undefined && opts.firstLine?.test(out)) firstLine = now() - t;
    });
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve({ ms: now() - t, firstLine, out }) : reject(new Error(`${path.basename(file)} ${args.join(' ')} exited ${code}\n${out.slice(-1500)}\n${err.slice(-1500)}`))));
  });
}
const floor = () => timed(python, ['-c', 'pass']);
const importsAlone = () => timed(python, ['-c', IMPORTS]);
const nbconvert = (dir, nb) => timed(jupyter, ['nbconvert', '--to', 'notebook', '--execute', nb, '--output', path.join(dir, `executed-${path.basename(nb)}`)], { cwd: dir });
const cli = (dir, nb, cold) =>
  timed(process.execPath, [path.join(repo, 'bin/cellpipe.js'), 'run', nb, '--no-cache', ...(cold ? ['--cold'] : [])], {
    cwd: dir, env: { ...process.env, CELLPIPE_PYTHON: python, CELLPIPE_STORE: path.join(dir, '.cellpipe') }, firstLine: /^\[\S+\] \[cellpipe\]|^\[\S+\] (?!warm start|cold start|── )/m,
  });

/** A run in this process (as the JupyterLab backend runs it): wall time and the first line a step printed. */
async function inProcess(runtime, request) {
  const t = now();
  let first;
  let startLine;
  const onLog = (_id, _step, line) => {
    if (startLine === undefined) startLine = now() - t;
    if (first === undefined && line.stream !== 'system') first = now() - t;
  };
  runtime.on('log', onLog);
  const id = await runtime.submit(request);
  const rec = await runtime.wait(id);
  runtime.off('log', onLog);
  if (rec.state !== 'succeeded') throw new Error(`run ${id} ${rec.state}: ${JSON.stringify(rec.steps.find((s) => s.error)?.error)}`);
  const starts = [...new Set(rec.steps.map((s) => s.start))].join('/');
  return { ms: now() - t, firstLine: first, startLine, starts };
}
function request(nb) {
  const compiled = compileNotebook(fs.readFileSync(nb, 'utf8'), { path: path.basename(nb) });
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.diagnostics));
  return { notebookPath: nb, notebookHash: 'bench', specHash: compiled.specHash ?? '', graph: compiled.graph, programs: compiled.programs, parameters: {}, cache: false };
}
const trivial = (n) => {
  const steps = [{ name: 's0', code: 'x0 = 0', outputs: ['x0'] }];
  for (let i = 1; i < n; i++) steps.push({ name: `s${i}`, code: `x${i} = x${i - 1} + 1`, inputs: { [`x${i - 1}`]: `s${i - 1}` }, outputs: [`x${i}`] });
  return steps;
};

// --- main --------------------------------------------------------------------------------------------------------
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-bench-warm-'));
const shapes = { chain: path.join(work, 'chain.ipynb'), fanout: path.join(work, 'fanout.ipynb') };
notebook(shapes.chain, CHAIN);
notebook(shapes.fanout, FANOUT);
const loadBefore = uptime();
log(`warm-start bench: ${R} rounds, ${ROWS} rows, ${os.availableParallelism()} CPUs, python ${python}\n  ${loadBefore}`);
const m = {};
const add = (k, v) => (m[k] ??= []).push(v);
const backendWarm = new LocalRuntime({ store: new RunStore(path.join(work, 'backend')), python });
const backendCold = new LocalRuntime({ store: new RunStore(path.join(work, 'backend-cold')), python, warm: false });
const TRIVIAL = 20;
// The backend's server for each notebook is started once, before the rounds: what "imports already warm" means.
for (const nb of Object.values(shapes)) await inProcess(backendWarm, request(nb));
await inProcess(backendWarm, handBuiltRequest(trivial(TRIVIAL), { workdir: work, cache: false }));
for (let r = 0; r < R; r++) {
  add('floor', (await floor()).ms);
  add('imports', (await importsAlone()).ms);
  for (const [shape, nb] of Object.entries(shapes)) {
    add(`${shape}.nbconvert`, (await nbconvert(work, nb)).ms);
    const w = await cli(work, nb, false);
    add(`${shape}.warm`, w.ms);
    add(`${shape}.warmFirst`, w.firstLine);
    const c = await cli(work, nb, true);
    add(`${shape}.cold`, c.ms);
    add(`${shape}.coldFirst`, c.firstLine);
    const b = await inProcess(backendWarm, request(nb));
    if (b.starts !== 'warm') throw new Error(`backend run started ${b.starts}`);
    add(`${shape}.backend`, b.ms);
    add(`${shape}.backendFirst`, b.firstLine);
    add(`${shape}.backendStartLine`, b.startLine);
    const bc = await inProcess(backendCold, request(nb));
    add(`${shape}.backendColdFirst`, bc.firstLine);
    add(`${shape}.backendColdStartLine`, bc.startLine);
  }
  const tw = await inProcess(backendWarm, handBuiltRequest(trivial(TRIVIAL), { workdir: work, cache: false }));
  add('trivial.warm', tw.ms / TRIVIAL);
  add('trivial.cold', (await inProcess(backendCold, handBuiltRequest(trivial(TRIVIAL), { workdir: work, cache: false }))).ms / TRIVIAL);
  log(`  round ${r + 1}: chain nbconvert ${m['chain.nbconvert'].at(-1).toFixed(0)} ms, warm ${m['chain.warm'].at(-1).toFixed(0)} ms, cold ${m['chain.cold'].at(-1).toFixed(0)} ms; fanout nbconvert ${m['fanout.nbconvert'].at(-1).toFixed(0)} ms, warm ${m['fanout.warm'].at(-1).toFixed(0)} ms, cold ${m['fanout.cold'].at(-1).toFixed(0)} ms`);
}
backendWarm.warmStarts?.stopAll();
// Artifacts between steps: a ~100 MB DataFrame in the runtime's format vs pickle (bench/artifact_formats.py).
log('  artifacts: a 100 MB DataFrame, runtime format vs pickle vs parquet…');
const artifactRun = spawnSync(python, [path.join(repo, 'bench/artifact_formats.py'), '--rounds', String(R), '--json'], {
  encoding: 'utf8', env: { ...process.env, PYTHONPATH: path.join(repo, 'python') },
});
const artifactFormats = artifactRun.status === 0 ? JSON.parse(artifactRun.stdout.trim().split('\n').at(-1)) : { error: artifactRun.stderr.slice(-500) };
const loadAfter = uptime();
const med = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));
fs.rmSync(work, { recursive: true, force: true });

const res = { rounds: R, rows: ROWS, cpus: os.availableParallelism(), python, loadBefore, loadAfter, medians: med, ratios: {}, artifactFormats };
for (const shape of Object.keys(shapes)) {
  res.ratios[`${shape}.warmOverNbconvert`] = med[`${shape}.warm`] / med[`${shape}.nbconvert`];
  res.ratios[`${shape}.backendOverNbconvert`] = med[`${shape}.backend`] / med[`${shape}.nbconvert`];
  res.ratios[`${shape}.coldOverWarm`] = med[`${shape}.cold`] / med[`${shape}.warm`];
  res.ratios[`${shape}.coldOverBackend`] = med[`${shape}.cold`] / med[`${shape}.backend`];
}
res.ratios['trivial.warmOverFloor'] = med['trivial.warm'] / med.floor;
res.ratios['trivial.coldOverFloor'] = med['trivial.cold'] / med.floor;
if (asJson) {
  process.stdout.write(JSON.stringify(res, null, 2) + '\n');
} else {
  const f = (x, d = 0) => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  const lines = [`warm starts, median of ${R} rounds, ${res.cpus} CPUs (${ROWS} rows; pandas + scikit-learn imports alone: ${f(med.imports)} ms in a fresh Python; floor \`python -c pass\`: ${f(med.floor, 1)} ms)`];
  for (const [shape, label] of [['chain', '9-step chain'], ['fanout', '5-wide fan-out (7 steps)']]) {
    lines.push(
      `${label}:`,
      `  jupyter nbconvert --execute (same cells)   ${f(med[`${shape}.nbconvert`]).padStart(6)} ms`,
      `  cellpipe run (warm, CLI: starts its server) ${f(med[`${shape}.warm`]).padStart(6)} ms = ${f(res.ratios[`${shape}.warmOverNbconvert`], 2)}× nbconvert (target ≤ 0.8×)`,
      `  cellpipe warm, server already running      ${f(med[`${shape}.backend`]).padStart(6)} ms = ${f(res.ratios[`${shape}.backendOverNbconvert`], 2)}× nbconvert`,
      `  cellpipe run --cold (today's path)         ${f(med[`${shape}.cold`]).padStart(6)} ms = ${f(res.ratios[`${shape}.coldOverWarm`], 2)}× warm CLI, ${f(res.ratios[`${shape}.coldOverBackend`], 2)}× warm running server (target ≥ 2.5×)`,
      `  first line the first step printed: warm server running ${f(med[`${shape}.backendFirst`])} ms (target < 300), warm CLI ${f(med[`${shape}.warmFirst`])} ms, cold ${f(med[`${shape}.backendColdFirst`])} ms in-process / ${f(med[`${shape}.coldFirst`])} ms CLI (target < 1000)`,
      `  (the runner's own first line in the step log, "warm start: …" / "cold start: …": ${f(med[`${shape}.backendStartLine`])} ms warm, ${f(med[`${shape}.backendColdStartLine`])} ms cold, in-process)`,
    );
  }
  lines.push(
    `${TRIVIAL} trivial steps in a chain, per step: warm ${f(med['trivial.warm'], 1)} ms = ${f(res.ratios['trivial.warmOverFloor'], 2)}× floor (target ≤ 2×), cold ${f(med['trivial.cold'], 1)} ms = ${f(res.ratios['trivial.coldOverFloor'], 2)}× floor`,
    ...(artifactFormats.error
      ? [`artifacts bench failed: ${artifactFormats.error}`]
      : [`a ${f(artifactFormats.pickle.frameBytes / 1e6)} MB DataFrame between steps (write + read back, fresh processes): ` +
          ['runtime', 'pickle', 'parquet'].map((k) => `${k === 'runtime' ? `runtime's choice (${artifactFormats[k].format})` : k} ${f(artifactFormats[k].totalS, 2)} s = ${f(artifactFormats[k].overPickle, 2)}× pickle`).join(', ')]),
    `load before: ${loadBefore}`,
    `load after:  ${loadAfter}`,
  );
  process.stdout.write(lines.join('\n') + '\n');
}
