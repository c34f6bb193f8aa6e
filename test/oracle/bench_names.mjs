// Measures analyzeCell on real cells: the corpus (../shared/corpus), the notebook fixtures and the tricky cells.
// Usage: node test/oracle/bench_names.mjs [rounds]   (after `npx tsc -b`). Prints cells/ms and ms per 1,000 cells.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { analyzeCell, analyzeCellUncached } from '../../lib/core/python/analyze.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const walk = (dir, ext) => (existsSync(dir) ? readdirSync(dir).flatMap((f) => {
  const p = join(dir, f);
  return statSync(p).isDirectory() ? walk(p, ext) : p.endsWith(ext) ? [p] : [];
}) : []);
const cells = [];
for (const nb of [...walk(join(repo, '..', 'shared', 'corpus'), '.ipynb'), ...walk(join(repo, 'test', 'fixtures', 'notebooks'), '.ipynb')]) {
  for (const c of JSON.parse(readFileSync(nb, 'utf8')).cells ?? []) {
    if (c.cell_type === 'code') cells.push(Array.isArray(c.source) ? c.source.join('') : c.source);
  }
}
for (const py of walk(join(repo, 'test', 'fixtures', 'python-cells'), '.py')) {
  cells.push(...readFileSync(py, 'utf8').split(/^# %%$/m).map((s) => s.trim()).filter(Boolean));
}
const rounds = Number(process.argv[2] ?? 100);
const bytes = cells.reduce((a, c) => a + c.length, 0) / cells.length;
console.log(`${cells.length} cells (avg ${bytes.toFixed(0)} chars), ${rounds} rounds, load average ${loadavg()[0].toFixed(1)}`);
const measure = (label, fn) => {
  for (let i = 0; i < 10; i++) for (const c of cells) fn(c); // warm up
  const wall = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let i = 0; i < rounds; i++) for (const c of cells) fn(c);
  const used = process.cpuUsage(cpu);
  const ms = Number(process.hrtime.bigint() - wall) / 1e6;
  const cpuMs = (used.user + used.system) / 1000;
  const n = rounds * cells.length;
  console.log(`${label}: ${(n / ms).toFixed(1)} cells/ms wall (${(n / cpuMs).toFixed(1)} cells/ms cpu); ` +
    `1,000 cells: ${(1000 * ms / n).toFixed(1)} ms wall, ${(1000 * cpuMs / n).toFixed(1)} ms cpu`);
};
measure('analyzeCellUncached (parse + analysis)', analyzeCellUncached);
measure('analyzeCell (memoised, unchanged cells)', analyzeCell);
