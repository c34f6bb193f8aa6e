// What the e2e Kubeflow case talks to, started before JupyterLab so its backend finds the profiles file:
// a real registry (Debian's docker-registry, with a small base image pushed) and the swagger-checked fake KFP API
// server (no real KFP can run here: see README, "Kubeflow Pipelines in the tests"). Writes the profiles file
// (argv[2]) — a usable profile `team`, `offline` whose registry refuses
// connections, and `broken` with a mistake in it — then prints `ready` and serves until
// SIGTERM. On exit it writes the fake's contract violations to argv[3] (empty file: none), which test-e2e.sh checks.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { FakeKfpServer } from '../../lib/kfp/testing/fake-server.js';
import { RegistryClient } from '../../lib/images/registry.js';
import { pushBaseImage, startRegistry } from '../../lib/images/testing.js';

const [profilesFile, violationsFile] = process.argv.slice(2);
if (!profilesFile || !violationsFile) {
  console.error('usage: node test/e2e/kubeflow-services.mjs PROFILES_FILE VIOLATIONS_FILE');
  process.exit(2);
}

const registry = await startRegistry('open');
const client = new RegistryClient(registry.clientOptions());
await pushBaseImage(client, 'base/python', '3.12', [{ path: '/usr/bin/python3', data: '#!/bin/sh\n', executable: true }]);
client.close();
const kfp = new FakeKfpServer({ multiUser: true, startTime: Math.floor(Date.now() / 1000) * 1000 });
await kfp.start();

writeFileSync(profilesFile, stringify({
  profiles: {
    team: {
      namespace: 'team-a',
      registry: `${registry.host}/team/steps`,
      baseImage: `${registry.host}/base/python:3.12`,
      insecureRegistry: true,
      kfp: { host: kfp.url, auth: 'none', uiUrl: 'http://kubeflow.example.test/pipeline' },
    },
    // Port 9 (discard) refuses connections: the build stage cannot reach this registry.
    offline: {
      namespace: 'team-a',
      registry: '127.0.0.1:9/team/steps',
      baseImage: '127.0.0.1:9/base/python:3.12',
      insecureRegistry: true,
      kfp: { host: kfp.url, auth: 'none' },
    },
    broken: { namespace: 'team-c', kfp: { hots: 'a typo of host' } },
  },
}));
console.log('ready');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  writeFileSync(violationsFile, kfp.violations.join('\n'));
  await kfp.close();
  await registry.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
