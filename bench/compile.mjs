// Compile-time benchmark (not a test): cellpipe's compiler vs Kale's, measured in the same run.
//   (a) ../shared/corpus/kale/candies_sharing.ipynb — cellpipe warm median vs Kale's notebook→KFP compile
//   (b) a generated notebook of 1,000 code cells in 100 steps — cellpipe warm median (target < 50 ms)
// Usage: node bench/compile.mjs            (builds nothing: run `npm run build` first)
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { compileNotebook } from '../lib/core/compile.js';
import { clearAnalysisCache } from '../lib/core/python/analyze.js';
import * as fileReads from '../lib/core/python/file-reads.js';

/** Every memoised per-cell result forgotten (the file facts exist since issue 23; older builds have none). */
const clearCaches = () => { clearAnalysisCache(); fileReads.clearFileFactsCache?.(); };
import { generateNotebook } from './generate-notebook.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn, repeats) {
  const first = performance.now();
  fn();
  const cold = performance.now() - first;
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    fn();
    runs.push(performance.now() - t);
  }
  return { cold, warm: median(runs), p95: [...runs].sort((a, b) => a - b)[Math.floor(runs.length * 0.95)] };
}

const candiesPath = here('../../shared/corpus/kale/candies_sharing.ipynb');
const candies = readFileSync(candiesPath, 'utf8');
const a = time(() => {
  const r = compileNotebook(candies, { path: 'candies_sharing.ipynb' });
  if (!r.ok) throw new Error('candies_sharing did not compile');
}, 200);
const notebook = generateNotebook(100, 10);
const generated = JSON.stringify(notebook);
const check = compileNotebook(generated, { path: 'generated.ipynb' });
if (!check.ok) throw new Error('generated notebook did not compile: ' + JSON.stringify(check.diagnostics.slice(0, 3)));
// cold: every cell parsed and analysed again; edit: one cell changed since the last compile (what JupyterLab does
// while the user types — analyses are cached by cell source).
const bCold = time(() => { clearCaches(); compileNotebook(generated, { path: 'generated.ipynb' }); }, 10);
let edits = 0;
const editOne = () => {
  const cell = notebook.cells[500];
  cell.source = cell.source.replace(/\n# edit \d+$/, '') + `\n# edit ${edits++}`;
  return compileNotebook(notebook, { path: 'generated.ipynb' });
};
const bEdit = time(editOne, 30);
const bEditGraph = time(() => { const c = notebook.cells[500]; c.source += ' '; return compileNotebook(notebook, { graphOnly: true }); }, 30);

console.log(`cellpipe  (a) candies_sharing          cold ${a.cold.toFixed(1)} ms, warm median ${a.warm.toFixed(2)} ms (p95 ${a.p95.toFixed(2)})`);
console.log(`cellpipe  (b) 1,000 cells / 100 steps  every cell re-analysed: median ${bCold.warm.toFixed(1)} ms (p95 ${bCold.p95.toFixed(1)})`);
console.log(`          (b) after a one-cell edit:    full spec median ${bEdit.warm.toFixed(1)} ms (p95 ${bEdit.p95.toFixed(1)}); graph + diagnostics only ${bEditGraph.warm.toFixed(1)} ms — target < 50 ms`);
console.log(`          (b) ${check.graph.steps.length} steps, ${check.graph.edges.length} edges, ${check.yaml.length} bytes of YAML`);

let kale;
try {
  const python = execFileSync('bash', [here('setup-baselines.sh'), 'kale'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const out = execFileSync(python, [here('kale_compile.py'), candiesPath, '6'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  kale = JSON.parse(out.trim().split('\n').pop());
} catch (err) {
  console.log(`Kale baseline unavailable: ${err.message.split('\n')[0]}`);
}
if (kale) {
  console.log(`Kale 2.3 (a) candies_sharing           cold ${kale.first_ms.toFixed(0)} ms, warm median ${kale.median_ms.toFixed(0)} ms`);
  console.log(`ratio (a): cellpipe is ${(kale.median_ms / a.warm).toFixed(0)}× faster than Kale warm (target ≥ 50×), ${(kale.first_ms / a.cold).toFixed(0)}× cold`);
}
