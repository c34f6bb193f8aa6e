/**
 * The runtime config a kubelet would make: Kubernetes' command/args rules against the image's Entrypoint/Cmd,
 * env precedence, working directory, network, mounts, and what keeps a step unprivileged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numericUser, processArgs, processEnv, runtimeConfig } from './oci-spec.js';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { overlayOptions, withLock } from './images.js';
import { MissingToolError } from './tools.js';
import { containerId } from './runc.js';
import { resolveUser } from './users.js';

const image = { Entrypoint: ['/entry'], Cmd: ['--help'], Env: ['PATH=/img/bin', 'A=image', 'B=image'], WorkingDir: '/cellpipe/work' };

test('command replaces the Entrypoint and args the Cmd, as in a Kubernetes pod', () => {
  assert.deepEqual(processArgs(image), ['/entry', '--help'], 'neither: the image decides');
  assert.deepEqual(processArgs(image, undefined, ['run']), ['/entry', 'run'], 'args only: the Entrypoint with them');
  assert.deepEqual(processArgs(image, ['python3', '-c', 'x']), ['python3', '-c', 'x'], 'command only: the Cmd is dropped');
  assert.deepEqual(processArgs(image, ['python3'], ['-V']), ['python3', '-V']);
  assert.throws(() => processArgs({}), /has no command/);
});

test('env: the image’s, then the container’s, then secrets; PATH always there', () => {
  const env = processEnv(image, [{ name: 'B', value: 'spec' }, { name: 'C', value: 'spec' }], { C: 'secret' });
  assert.deepEqual(env, ['PATH=/img/bin', 'A=image', 'B=spec', 'C=secret']);
  assert.ok(processEnv({}).some((e) => e.startsWith('PATH=/usr/local/sbin')));
});

test('the config: no terminal, the image’s working dir, host network or none, only the given binds, unprivileged', () => {
  const c = runtimeConfig({ image, command: ['python3'], args: ['-V'], rootfs: 'rootfs', hostname: 'h',
    mounts: [{ destination: '/minio/in/x', source: '/host/x', readonly: true }, { destination: '/minio/out', source: '/host/out' }] }) as {
    process: { terminal: boolean; cwd: string; args: string[]; noNewPrivileges: boolean; capabilities: { bounding: string[] }; user: { uid: number } };
    mounts: { destination: string; type: string; source: string; options?: string[] }[];
    linux: { namespaces: { type: string }[]; seccomp: { syscalls: { names: string[] }[] } };
  };
  assert.equal(c.process.terminal, false);
  assert.equal(c.process.cwd, '/cellpipe/work');
  assert.deepEqual(c.process.args, ['python3', '-V']);
  assert.equal(c.process.noNewPrivileges, true);
  assert.ok(!c.process.capabilities.bounding.includes('CAP_SYS_ADMIN'), 'not privileged');
  assert.ok(c.linux.seccomp.syscalls[0].names.includes('init_module'));
  assert.ok(!c.linux.namespaces.some((n) => n.type === 'network'), 'host network by default');
  const binds = c.mounts.filter((m) => m.type === 'bind').map((m) => [m.destination, m.source, m.options?.includes('ro')]);
  assert.deepEqual(binds, [['/etc/resolv.conf', '/etc/resolv.conf', true], ['/etc/hosts', '/etc/hosts', true], ['/minio/in/x', '/host/x', true], ['/minio/out', '/host/out', false]]);
  const isolated = runtimeConfig({ image, rootfs: 'rootfs', hostname: 'h', network: false }) as typeof c;
  assert.ok(isolated.linux.namespaces.some((n) => n.type === 'network'), '--no-network: a namespace of its own');
  assert.ok(!isolated.mounts.some((m) => m.type === 'bind'), 'nothing of the host mounted');
  assert.deepEqual(numericUser('1000:100'), { uid: 1000, gid: 100 });
  assert.equal(numericUser('app'), undefined);
});

test('overlay options list the layers top first and refuse paths overlayfs cannot take; ids and missing tools', () => {
  assert.equal(overlayOptions(['/l/base', '/l/top'], '/c/upper', '/c/work'), 'lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work');
  assert.throws(() => overlayOptions(['/a:b'], '/u', '/w'), /contains ','/);
  assert.equal(containerId('20261203-1', 'my step', 2), 'cellpipe-20261203-1-my-step-2');
  assert.match(new MissingToolError('runc', 'runc').message, /install the Debian package 'runc'/);
});

test('the image store lock: taken over from a dead holder, waited for while its holder lives', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-lock-'));
  const lock = path.join(dir, 'oci.lock');
  const dead = spawnSync('true').pid!;
  fs.mkdirSync(lock);
  fs.writeFileSync(path.join(lock, 'pid'), String(dead));
  assert.equal(await withLock(lock, async () => 'ran'), 'ran', 'a dead holder does not block');
  assert.ok(!fs.existsSync(lock), 'released');
  fs.mkdirSync(lock);
  fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
  await assert.rejects(withLock(lock, async () => 'ran', 300), /locked by process \d+/);
  const order: string[] = [];
  fs.rmSync(lock, { recursive: true });
  await Promise.all([withLock(lock, async () => { order.push('a+'); await new Promise((r) => setTimeout(r, 200)); order.push('a-'); }),
    withLock(lock, async () => { order.push('b+'); order.push('b-'); })]);
  assert.deepEqual(order, ['a+', 'a-', 'b+', 'b-'], 'one holder at a time');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the image user resolves like a kubelet’s runtime does: names from the image’s passwd and group files', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\njovyan:x:1000:100::/home/jovyan:/bin/bash\n';
  const group = 'root:x:0:\nusers:x:100:\nnogroup:x:65534:\n';
  assert.deepEqual(resolveUser(undefined, passwd, group), { uid: 0, gid: 0 });
  assert.deepEqual(resolveUser('jovyan', passwd, group), { uid: 1000, gid: 100 });
  assert.deepEqual(resolveUser('1000', passwd, group), { uid: 1000, gid: 100 });
  assert.deepEqual(resolveUser('4242', passwd, group), { uid: 4242, gid: 0 }, 'a uid the image does not know runs with gid 0');
  assert.deepEqual(resolveUser('nobody:users', passwd, group), { uid: 65534, gid: 100 });
  assert.deepEqual(resolveUser('1000:7', passwd, group), { uid: 1000, gid: 7 });
  assert.throws(() => resolveUser('ghost', passwd, group), /user 'ghost', which its \/etc\/passwd does not have/);
  assert.throws(() => resolveUser('jovyan:ghosts', passwd, group), /group 'ghosts'/);
});
