#!/usr/bin/env node
// Thin launcher: the CLI lives in lib/cli (compiled from src/cli).
import('../lib/cli/main.js')
  .then((m) => m.main(process.argv.slice(2)))
  .then((code) => { process.exitCode = code; })
  .catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('lib/cli')) {
      console.error('cellpipe: not built yet — run `npm run build` in the checkout first.');
    } else {
      console.error(err && err.stack ? err.stack : String(err));
    }
    process.exitCode = 2;
  });
