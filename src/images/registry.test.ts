/**
 * The registry client against a real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1, in the
 * three ways users meet registries: open over http, htpasswd basic auth, TLS with a private CA.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MediaTypes, RegistryClient, sha256 } from './registry.js';
import { pushBaseImage, startRegistry, type RegistryMode, type TestRegistry } from './testing.js';

const files = [{ path: '/bin/entry', data: '#!/bin/sh\necho base\n', executable: true }, { path: '/etc/base-release', data: 'base 1\n' }];

for (const mode of ['open', 'basic', 'tls', 'token'] as RegistryMode[]) {
  describe(`registry client, ${mode} registry`, () => {
    let reg: TestRegistry;
    let client: RegistryClient;
    before(async () => {
      reg = await startRegistry(mode);
      client = new RegistryClient({ ...reg.clientOptions(), chunkSize: 1024 * 1024, backoffMs: 20 });
    });
    after(async () => {
      client?.close();
      await reg?.stop();
    });

    test('pushes an image and reads it back by tag and by digest, every byte verified', async () => {
      await client.ping();
      const digest = await pushBaseImage(client, 'test/base', 'v1', files);
      const head = await client.headManifest('test/base', 'v1');
      assert.equal(head?.digest, digest);
      const image = await client.resolveImage('test/base', 'v1');
      assert.equal(image.digest, digest);
      assert.equal(image.mediaType, MediaTypes.dockerManifest);
      assert.deepEqual(image.config.config?.Entrypoint, ['/bin/entry']);
      assert.equal(image.manifest.layers.length, 1);
      const layer = await client.getBlob('test/base', image.manifest.layers[0].digest);
      assert.equal(sha256(layer), image.manifest.layers[0].digest);
      assert.equal(await client.headManifest('test/base', 'nope'), undefined);
    });

    test('uploads a blob bigger than the chunk size in chunks, and skips it the second time', async () => {
      const data = randomBytes(2.5 * 1024 * 1024);
      const before = { ...client.stats };
      const progress: number[] = [];
      const res = await client.uploadBlob('test/chunked', data, { onProgress: (sent) => progress.push(sent) });
      assert.equal(res.uploaded, true);
      assert.equal(client.stats.bytesUp - before.bytesUp, data.length);
      assert.equal(progress.at(-1), data.length);
      assert.equal(await client.headBlob('test/chunked', res.digest), data.length);
      assert.ok((await client.getBlob('test/chunked', res.digest)).equals(data));
      const again = await client.uploadBlob('test/chunked', data);
      assert.equal(again.uploaded, false);
      assert.equal(client.stats.bytesUp - before.bytesUp, data.length, 'nothing sent the second time');
    });

    test('mounts a blob from another repository instead of uploading it', async () => {
      const data = randomBytes(64 * 1024);
      const { digest } = await client.uploadBlob('test/mount-from', data);
      const sent = client.stats.bytesUp;
      assert.equal(await client.headBlob('test/mount-to', digest), undefined);
      assert.equal(await client.mountBlob('test/mount-to', digest, 'test/mount-from'), true);
      assert.equal(await client.headBlob('test/mount-to', digest), data.length);
      assert.equal(client.stats.bytesUp, sent);
    });

    test('resolves a multi-platform index to linux/amd64 by default, another platform on request', async () => {
      const amd = await pushBaseImage(client, 'test/multi', 'amd64', [{ path: '/arch', data: 'amd64' }], { oci: true });
      const arm = await pushBaseImage(client, 'test/multi', 'arm64', [{ path: '/arch', data: 'arm64' }], { oci: true });
      const desc = async (d: string) => ({ mediaType: MediaTypes.ociManifest, digest: d, size: (await client.getManifest('test/multi', d)).bytes.length });
      const index = {
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [
          { ...(await desc(arm)), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { ...(await desc(amd)), platform: { os: 'linux', architecture: 'amd64' } },
          { ...(await desc(amd)), platform: { os: 'unknown', architecture: 'unknown' } },
        ],
      };
      await client.putManifest('test/multi', 'latest', Buffer.from(JSON.stringify(index)), MediaTypes.ociIndex);
      const picked = await client.resolveImage('test/multi', 'latest');
      assert.equal(picked.digest, amd);
      assert.ok(picked.indexDigest);
      assert.equal((await client.resolveImage('test/multi', 'latest', 'linux/arm64')).digest, arm);
      await assert.rejects(client.resolveImage('test/multi', 'latest', 'linux/s390x'), /no linux\/s390x variant \(it has: linux\/arm64\/v8, linux\/amd64\)/);
    });

    test('refuses a manifest whose bytes do not match the digest asked for', async () => {
      const digest = await pushBaseImage(client, 'test/verify', 'v1', files);
      const wrong = 'sha256:' + '0'.repeat(64);
      await assert.rejects(client.putManifest('test/verify', wrong, Buffer.from('{}'), MediaTypes.dockerManifest), /≠ reference/);
      await assert.rejects(client.uploadBlob('test/verify', Buffer.from('abc'), { digest: wrong }), /expected sha256:0000/);
      assert.equal((await client.getManifest('test/verify', digest)).digest, digest);
    });

    if (mode === 'basic') {
      test('without credentials, or with wrong ones, the error says what to do', async () => {
        const anon = new RegistryClient({ registry: reg.host, insecure: true });
        await assert.rejects(anon.headManifest('test/base', 'v1'), /requires a user name and password — add them with docker login/);
        anon.close();
        const wrong = new RegistryClient({ registry: reg.host, insecure: true, credentials: async () => ({ username: 'cellpipe', password: 'wrong' }) });
        await assert.rejects(wrong.headManifest('test/base', 'v1'), /rejected the user name\/password/);
        wrong.close();
      });
    }
    if (mode === 'token') {
      test('Bearer tokens: asked for the service and scopes of the challenge, plus pull on the source repository of a mount', async () => {
        const requests = reg.tokenRequests!;
        assert.ok(requests.length > 0);
        assert.ok(requests.every((r) => r.service === 'cellpipe-test-registry' && r.authenticated));
        assert.ok(requests.some((r) => r.scopes.includes('repository:test/mount-to:pull,push') && r.scopes.includes('repository:test/mount-from:pull')),
          JSON.stringify(requests.map((r) => r.scopes)));
        // Tokens are cached per scope set: far fewer token requests than registry requests.
        assert.ok(requests.length < client.stats.requests / 3, `${requests.length} token requests for ${client.stats.requests} requests`);
      });
      test('an anonymous user gets a token without access, and an error that says to log in', async () => {
        const anon = new RegistryClient({ registry: reg.host, insecure: true });
        await assert.rejects(anon.headManifest('test/base', 'v1'), /401 .*log in first/);
        anon.close();
      });
    }
    if (mode === 'tls') {
      test('an untrusted certificate is refused with a hint about --ca-file; plain http is never tried', async () => {
        const untrusted = new RegistryClient({ registry: reg.host, retries: 1 });
        await assert.rejects(untrusted.ping(), /not trusted: pass its CA with --ca-file/);
        untrusted.close();
      });
    }
    if (mode === 'open') {
      test('an http registry is not reached over https unless marked insecure', async () => {
        const strict = new RegistryClient({ registry: reg.host, retries: 1 });
        await assert.rejects(strict.ping(), /plain http: use --insecure only if you trust the network/);
        strict.close();
      });
    }
  });
}
