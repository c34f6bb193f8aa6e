// Test driver: compiles the notebooks named on the command line with cellpipe's core and prints one JSON array
// [{notebook, variant, ok, yaml, graph, diagnostics}] — once with programs inlined, once as for built images.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { compileNotebook } from '../../lib/core/compile.js';

const out = [];
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8');
  const plain = compileNotebook(text, { path: basename(file) });
  const images = Object.fromEntries((plain.graph?.steps ?? []).map((s, i) => [s.name, `127.0.0.1:5000/cellpipe/steps@sha256:${String(i).padStart(64, '0')}`]));
  const built = compileNotebook(text, { path: basename(file), images, programDir: '/cellpipe/steps', workdir: '/cellpipe/work' });
  for (const [variant, r] of [['inline', plain], ['images', built]]) {
    out.push({ notebook: file, variant, ok: r.ok, yaml: r.yaml ?? null, specHash: r.specHash ?? null, graph: r.graph ?? null, diagnostics: r.diagnostics });
  }
}
process.stdout.write(JSON.stringify(out));
