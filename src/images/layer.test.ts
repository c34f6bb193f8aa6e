import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { buildLayer } from './layer.js';

const exec = promisify(execFile);

async function entries(tarBytes: Buffer): Promise<tar.Header[]> {
  const out: tar.Header[] = [];
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      out.push(h);
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(tarBytes);
  await done;
  return out;
}

test('the same files in any order give byte-identical layers (same digest, same diff_id)', async () => {
  const a = await buildLayer([
    { path: '/cellpipe/steps/train.json', data: '{"step":"train"}' },
    { path: 'cellpipe/runtime/cellpipe_runtime/__main__.py', data: 'print(1)\n' },
  ]);
  const b = await buildLayer([
    { path: 'cellpipe/runtime/cellpipe_runtime/__main__.py', data: Buffer.from('print(1)\n') },
    { path: '/cellpipe/steps/train.json', data: '{"step":"train"}' },
  ]);
  assert.equal(a.digest, b.digest);
  assert.equal(a.diffId, b.diffId);
  assert.ok(a.blob.equals(b.blob));
  assert.equal(a.digest, 'sha256:' + createHash('sha256').update(a.blob).digest('hex'));
  assert.equal(a.diffId, 'sha256:' + createHash('sha256').update(gunzipSync(a.blob)).digest('hex'));
  assert.equal(a.size, a.blob.length);
  const c = await buildLayer([{ path: '/cellpipe/steps/train.json', data: '{"step":"train2"}' }]);
  assert.notEqual(c.digest, a.digest);
});

test('entries are sorted with their parent directories, mtime 0, owned by root, with fixed modes', async () => {
  const layer = await buildLayer([
    { path: '/cellpipe/work/run.sh', data: '#!/bin/sh\n', executable: true },
    { path: '/cellpipe/steps/b.json', data: '{}' },
    { path: '/cellpipe/steps/a.json', data: '{}' },
  ]);
  const list = await entries(gunzipSync(layer.blob));
  assert.deepEqual(list.map((h) => h.name), [
    'cellpipe/', 'cellpipe/steps/', 'cellpipe/steps/a.json', 'cellpipe/steps/b.json', 'cellpipe/work/', 'cellpipe/work/run.sh',
  ]);
  for (const h of list) {
    assert.equal(h.mtime!.getTime(), 0, h.name);
    assert.equal(h.uid, 0);
    assert.equal(h.gid, 0);
    assert.equal(h.mode, h.type === 'directory' || h.name.endsWith('.sh') ? 0o755 : 0o644, h.name);
  }
  assert.deepEqual(layer.files, ['cellpipe/steps/a.json', 'cellpipe/steps/b.json', 'cellpipe/work/run.sh']);
  // gzip header: magic, deflate, no flags, mtime 0, OS byte 3 (Unix).
  assert.deepEqual([...layer.blob.subarray(0, 10)].filter((_, i) => i !== 8), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 3]);
});

test('GNU tar reads the layer and lists the files with their content', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cellpipe-layer-'));
  try {
    const layer = await buildLayer([{ path: '/cellpipe/steps/x.json', data: '{"step":"x"}\n' }]);
    await writeFile(join(dir, 'layer.tar.gz'), layer.blob);
    const { stdout } = await exec('tar', ['-tvzf', join(dir, 'layer.tar.gz')]);
    assert.match(stdout, /drwxr-xr-x 0\/0 .* 1970-01-01 00:00 cellpipe\/steps\//);
    assert.match(stdout, /-rw-r--r-- 0\/0 +13 1970-01-01 00:00 cellpipe\/steps\/x\.json/);
    await exec('tar', ['-xzf', join(dir, 'layer.tar.gz'), '-C', dir]);
    const { readFile } = await import('node:fs/promises');
    assert.equal(await readFile(join(dir, 'cellpipe/steps/x.json'), 'utf8'), '{"step":"x"}\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('paths that leave the image root or collide with a directory are refused', async () => {
  await assert.rejects(buildLayer([{ path: '/cellpipe/../etc/passwd', data: 'x' }]), /leaves the image root/);
  await assert.rejects(buildLayer([{ path: '/a', data: 'x' }, { path: '/a/b', data: 'y' }]), /both a file and a directory/);
});
