#!/usr/bin/env node
// What scripts/test-wheel.sh needs beside the installed wheel, from the checkout's test helpers (the thing under test is
// the wheel; these are the real parts it talks to): a real docker-registry on 127.0.0.1 holding a small base image
// for `cellpipe build`, and, when steps can run in containers here (root, runc), the Debian Python base as an OCI
// layout for `cellpipe run --in-images` (made once per machine with mmdebstrap, then cached).
// Prints `registry HOST`, `base oci:LAYOUT:TAG` (or `base none: why`), then `ready`; stops everything on SIGTERM.
import { startRegistry, pushBaseImage } from '../../lib/images/testing.js';
import { RegistryClient } from '../../lib/images/registry.js';
import { containersUnavailable } from '../../lib/runtimes/containers/testing.js';
import { debianBase } from '../../lib/runtimes/containers/base-image.js';

const registry = await startRegistry('open');
const stop = async () => {
  await registry.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
const client = new RegistryClient(registry.clientOptions());
await pushBaseImage(client, 'base/python', '3', [{ path: '/etc/base-release', data: 'wheel test base\n' }]);
client.close();
console.log(`registry ${registry.host}`);
const why = containersUnavailable();
if (why) {
  console.log(`base none: ${why}`);
} else {
  const base = await debianBase();
  console.log(`base oci:${base.layout}:${base.tag}`);
}
console.log('ready');
