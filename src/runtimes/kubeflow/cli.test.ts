/**
 * `cellpipe submit` as a user runs it: the real CLI process, a profiles file, the swagger-checked fake KFP API server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKfpServer } from '../../kfp/testing/fake-server.js';
import { RunStore } from '../../runs/store.js';
import { CANDIES, cellpipe } from '../../runs/testing.js';

describe('cellpipe submit', () => {
  let fake: FakeKfpServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    fake = new FakeKfpServer({ tokens: { 'user-token-xyz': ['team-a'] }, multiUser: true });
    await fake.start();
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-submit-cli-'));
    writeFileSync(join(dir, 'profiles.yaml'), `profiles:\n  kf:\n    namespace: team-a\n    kfp:\n      host: ${fake.url}\n      auth: token\n`);
    env = { CELLPIPE_PROFILES: join(dir, 'profiles.yaml'), CELLPIPE_STORE: join(dir, 'store'), CELLPIPE_KFP_TOKEN: 'user-token-xyz', CELLPIPE_KFP_POLL_MS: '20' };
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('--watch shows the stages, every step state and exits 0 when the run succeeded; the record is in the store', async () => {
    const r = await cellpipe(['submit', CANDIES, '--profile', 'kf', '--param', 'CANDIES=12', '--no-build', '--watch'], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const stage of ['validate', 'build images', 'upload', 'create run']) assert.match(r.stderr, new RegExp(`${stage}\\s+✓`));
    for (const step of ['sack', 'kid1', 'kid2', 'kid3']) assert.match(r.stdout, new RegExp(`\\[${step}\\] succeeded`));
    assert.match(r.stdout, /run succeeded/);
    assert.ok(!(r.stdout + r.stderr).includes('user-token-xyz'));
    const runs = await new RunStore(join(dir, 'store')).list();
    assert.equal(runs[0].state, 'succeeded');
    assert.equal(runs[0].parameters.CANDIES, 12);
    assert.equal(fake.runs.get(runs[0].external!.kfpRunId)!.run.runtime_config!.parameters!.CANDIES, 12);
    assert.deepEqual(fake.violations, []);
  });

  test('a failing run exits 1 and names the failed step; without --watch the run id and link are printed', async () => {
    fake.options.failTasks = ['kid1'];
    try {
      const r = await cellpipe(['submit', CANDIES, '--profile', 'kf', '--no-build', '--watch'], env);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /\[kid1\] failed: task kid1 failed/);
      assert.match(r.stdout, /run failed/);
    } finally {
      fake.options.failTasks = [];
    }
    // The only profile there is needs no --profile.
    const quick = await cellpipe(['submit', CANDIES, '--no-build'], env);
    assert.equal(quick.code, 0, quick.stderr);
    assert.match(quick.stderr, /upload\s+✓\s+reused the version with this spec/);
    assert.match(quick.stdout, new RegExp(`kfp run [0-9a-f-]{36}  ${fake.url}/#/runs/details/`));
  });

  test('user errors: missing --profile among several (2), unknown profile, unknown parameter, bad token — each says what to do', async () => {
    writeFileSync(join(dir, 'two.yaml'), `profiles:\n  kf:\n    namespace: team-a\n  prod:\n    namespace: team-b\n`);
    const noProfile = await cellpipe(['submit', CANDIES], { ...env, CELLPIPE_PROFILES: join(dir, 'two.yaml') });
    assert.equal(noProfile.code, 2);
    assert.match(noProfile.stderr, /--profile NAME is required \(profiles: kf, prod\)/);
    const unknown = await cellpipe(['submit', CANDIES, '--profile', 'prod'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no profile 'prod'.*known: kf/);
    const param = await cellpipe(['submit', CANDIES, '--profile', 'kf', '--no-build', '--param', 'CANDY=3'], env);
    assert.equal(param.code, 1);
    assert.match(param.stderr, /the pipeline has no parameter 'CANDY'\n  fix: .*CANDIES/);
    const token = await cellpipe(['submit', CANDIES, '--profile', 'kf', '--no-build'], { ...env, CELLPIPE_KFP_TOKEN: 'wrong' });
    assert.equal(token.code, 1);
    assert.match(token.stderr, /401 Unauthorized[\s\S]*fix: give a valid token/);
  });
});
