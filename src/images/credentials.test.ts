import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentialFromDockerConfig, defaultCredentialSource, dockerConfigFromSecret, loadDockerConfig,
} from './credentials.js';
import { parseImageRef, parseRepository, formatImageRef } from './ref.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('image references are normalised as docker does', () => {
  assert.deepEqual(parseImageRef('python:3.11-slim'), { registry: 'docker.io', repository: 'library/python', tag: '3.11-slim', digest: undefined });
  assert.deepEqual(parseImageRef('localhost:5000/team/base'), { registry: 'localhost:5000', repository: 'team/base', tag: 'latest', digest: undefined });
  const d = 'sha256:' + 'a'.repeat(64);
  assert.deepEqual(parseImageRef(`ghcr.io/org/img:1@${d}`), { registry: 'ghcr.io', repository: 'org/img', tag: '1', digest: d });
  assert.equal(formatImageRef(parseImageRef(`127.0.0.1:5000/x@${d}`)), `127.0.0.1:5000/x@${d}`);
  assert.throws(() => parseImageRef('Upper/Case'), /must be lowercase/);
  assert.throws(() => parseImageRef('x@sha256:short'), /64 hex/);
  assert.deepEqual(parseRepository('127.0.0.1:5000/cellpipe/steps'), { registry: '127.0.0.1:5000', repository: 'cellpipe/steps' });
  assert.throws(() => parseRepository('steps'), /HOST\[:PORT\]\/REPOSITORY/);
  assert.throws(() => parseRepository('team/steps'), /registry host/);
  assert.throws(() => parseRepository('localhost:5000/steps:v1'), /without tag/);
});

test('credentials come from DOCKER_CONFIG auths (base64 user:password, identity tokens)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cellpipe-dockercfg-'));
  try {
    await writeFile(join(dir, 'config.json'), JSON.stringify({
      auths: {
        'registry.example:5000': { auth: b64('alice:s3cr:et') },
        'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
        'ghcr.io': { identitytoken: 'refresh-me' },
      },
    }));
    const env = { DOCKER_CONFIG: dir, PATH: '' };
    const source = defaultCredentialSource(env);
    assert.deepEqual(await source('registry.example:5000'), { username: 'alice', password: 's3cr:et' });
    assert.deepEqual(await source('docker.io'), { username: 'hubuser', password: 'hubpass' });
    assert.deepEqual(await source('ghcr.io'), { identityToken: 'refresh-me' });
    assert.equal(await source('other.example'), undefined);
    // No config file at all is an anonymous user, not an error.
    assert.deepEqual(await loadDockerConfig({ DOCKER_CONFIG: join(dir, 'nope') }), {});
    await writeFile(join(dir, 'config.json'), '{broken');
    await assert.rejects(loadDockerConfig(env), /config\.json is not valid JSON/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('credHelpers run the docker-credential-<name> binary with the host on stdin, only when it exists', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cellpipe-credhelper-'));
  try {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const helper = join(bin, 'docker-credential-cellpipetest');
    // A real credential helper speaking the protocol: reads the server URL, records argv, answers JSON.
    await writeFile(helper, `#!/bin/sh\nread host\necho "$@" > "${dir}/argv"\nif [ "$host" = "reg.example" ]; then\n  printf '{"ServerURL":"%s","Username":"bob","Secret":"from-helper"}' "$host"\nelse\n  echo "credentials not found in native keychain"; exit 1\nfi\n`);
    await chmod(helper, 0o755);
    const config = { credHelpers: { 'reg.example': 'cellpipetest', 'missing.example': 'notinstalled' }, auths: { 'missing.example': { auth: b64('fallback:pw') } } };
    const env = { PATH: bin };
    assert.deepEqual(await credentialFromDockerConfig(config, 'reg.example', env), { username: 'bob', password: 'from-helper' });
    assert.equal((await readFile(join(dir, 'argv'), 'utf8')).trim(), 'get');
    // Helper binary not installed: fall back to auths.
    assert.deepEqual(await credentialFromDockerConfig(config, 'missing.example', env), { username: 'fallback', password: 'pw' });
    // credsStore applies to every host; "not found" means anonymous.
    assert.equal(await credentialFromDockerConfig({ credsStore: 'cellpipetest' }, 'elsewhere.example', env), undefined);
    await assert.rejects(credentialFromDockerConfig({ credHelpers: { x: 'bad name; rm -rf /' } }, 'x', env), /not a plain name/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a Kubernetes dockerconfigjson secret is read as a Docker config', async () => {
  const inner = JSON.stringify({ auths: { 'reg.example': { username: 'kube', password: 'pw' } } });
  const secret = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(inner) } };
  for (const form of [secret, JSON.stringify(secret), inner]) {
    const config = dockerConfigFromSecret(form);
    assert.deepEqual(await credentialFromDockerConfig(config, 'reg.example', { PATH: '' }), { username: 'kube', password: 'pw' });
  }
  assert.throws(() => dockerConfigFromSecret({ kind: 'Secret', data: { token: 'x' } }), /no \.dockerconfigjson/);
});
