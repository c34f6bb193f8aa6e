/**
 * cellpipe's layers, checked by `npm run lint:layers` (part of scripts/test.sh). An import points down, never up:
 *
 *   core  ←  runs  ←  images, kube, kfp  ←  runtimes  ←  server, cli
 *   lab (the page) sees core and the run vocabulary (runs/types.ts, runs/compare.ts) only; it reaches the backend
 *   over HTTP.
 *   runtimes/local (the base runtime) knows no other runtime.
 *
 * core and the page import no Node built-in. Tests (`*.test.ts`) are left out of the order: one may drive a layer
 * from above (a kube test running the CLI). Test support (`testing.ts`, `testkit.ts`, `kfp/testing/`) keeps the
 * order, and only tests and test support import it (it is neither published nor bundled).
 * README.md ("Architecture") states the same rules; change both together.
 */
const TESTS = '\\.test\\.tsx?$';
const RUN_VOCABULARY = '^src/runs/(types|compare)\\.ts$';
const TEST_SUPPORT = '/(testing|testkit)\\.ts$|^src/kfp/testing/';

/** One rule: files under `from` import nothing of src/ except what `allowed` matches. */
function onlyImports(name, comment, from, allowed) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from, pathNot: TESTS },
    to: { path: '^src/', pathNot: allowed },
  };
}

module.exports = {
  forbidden: [
    onlyImports('core-imports-only-core', 'core is the bottom floor: it imports nothing else of cellpipe', '^src/core/', '^src/core/'),
    onlyImports('runs-imports-core-and-runs', 'runs (the run vocabulary and store) sees core and itself only', '^src/runs/', '^src/(core|runs)/'),
    onlyImports(
      'run-vocabulary-imports-core',
      'the run vocabulary the page reads (runs/types.ts, runs/compare.ts) sees core and itself only',
      RUN_VOCABULARY,
      `^src/core/|${RUN_VOCABULARY}`,
    ),
    onlyImports(
      'images-kube-kfp-below-runtimes',
      'images, kube and kfp know no runtime: they see core, runs and each other',
      '^src/(images|kube|kfp)/',
      '^src/(core|runs|images|kube|kfp)/',
    ),
    onlyImports('runtimes-below-server-cli', 'runtimes know neither the backend nor the CLI', '^src/runtimes/', '^src/(core|runs|images|kube|kfp|runtimes)/'),
    {
      name: 'local-runtime-knows-no-other',
      comment:
        'the local runtime is the base the containers runtime extends: it knows no other runtime (their clean-up registers with the store)',
      severity: 'error',
      from: { path: '^src/runtimes/local/', pathNot: TESTS },
      to: { path: '^src/runtimes/(containers|kubeflow)/' },
    },
    onlyImports('server-cli-not-lab', 'the backend and the CLI do not import the page', '^src/(server|cli)/', '^src/(core|runs|images|kube|kfp|runtimes|server|cli)/'),
    onlyImports(
      'lab-over-http',
      'the page reaches the backend over HTTP only: it imports core and the run vocabulary, nothing else of cellpipe',
      '^src/lab/',
      `^src/(core|lab)/|${RUN_VOCABULARY}`,
    ),
    {
      name: 'test-support-only-for-tests',
      comment: 'test support is neither published (package.json "files") nor bundled: only tests and test support import it',
      severity: 'error',
      from: { path: '^src/', pathNot: [TESTS, TEST_SUPPORT] },
      to: { path: TEST_SUPPORT },
    },
    {
      name: 'core-lab-no-node',
      comment: 'core runs in the page and in Node, the page in the browser: neither imports a Node built-in',
      severity: 'error',
      from: { path: `^src/(core|lab)/|${RUN_VOCABULARY}`, pathNot: TESTS },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'imports-resolve',
      comment: 'an import the checker cannot resolve is an arrow it cannot check: every import of src/ must resolve',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // `import type` counts: a type reaching up the floors is an arrow like any other.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
