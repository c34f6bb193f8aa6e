/**
 * Multi-user mode on KFP 2.17.0's own API server (scripts/test-kfp.sh: `cluster.sh start --kfp` starts a second API
 * server with MULTIUSER=true beside the single-user one). KFP identifies a caller by its bearer token through the
 * test cluster's real kube-apiserver (TokenReview, audience pipelines.kubeflow.org) and authorises every call with a
 * SubjectAccessReview on `pipelines.kubeflow.org` resources in the call's namespace. Namespaces team-a and team-b each
 * have a service account `default-editor` bound to KFP's edit rules there (kfp.sh); its tokens come from the
 * TokenRequest API and live only in this test's temporary directory (mode 0600).
 * Through cellpipe's own code: KfpClient on a profile's `kfp:` settings, and the `cellpipe` command.
 * Skipped unless the stack's environment is set (CELLPIPE_KFP_MU_HOST, CELLPIPE_K8S_KUBECONFIG from `cluster.sh env`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { compileNotebook } from '../core/compile.js';
import { KfpClient } from './client.js';
import { kfpEndpoint } from './endpoint.js';
import { KfpError } from './errors.js';
import { loadProfile } from '../kube/profile.js';
import { REPO, cellpipe } from '../runs/testing.js';
import { RunStore } from '../runs/store.js';

const HOST = process.env.CELLPIPE_KFP_MU_HOST;
const KUBECONFIG = process.env.CELLPIPE_K8S_KUBECONFIG;
const skip = HOST && KUBECONFIG ? undefined : "needs KFP's stack with its multi-user API server (scripts/test-kfp.sh)";
const NOTEBOOK = join(REPO, 'test/e2e/notebooks/kubeflow_values.ipynb');
const AUDIENCE = 'pipelines.kubeflow.org';

function admin(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG!);
  return kc;
}

/** The namespaces of the Argo Workflows KFP made for a run. */
async function workflowNamespaces(kfpRunId: string): Promise<string[]> {
  const list = await admin().makeApiClient(CustomObjectsApi).listClusterCustomObject({
    group: 'argoproj.io', version: 'v1alpha1', plural: 'workflows', labelSelector: `pipeline/runid=${kfpRunId}`,
  }) as { items: { metadata: { namespace: string } }[] };
  return list.items.map((w) => w.metadata.namespace);
}

/** A token of `default-editor` in `namespace` from the TokenRequest API (10 minutes, the API's shortest). */
async function saToken(namespace: string, audiences?: string[]): Promise<string> {
  const core = admin().makeApiClient(CoreV1Api);
  const r = await core.createNamespacedServiceAccountToken({
    name: 'default-editor', namespace,
    body: { spec: { expirationSeconds: 600, ...(audiences ? { audiences } : {}) } } as never,
  });
  const token = r.status?.token;
  assert.ok(token, `a token for ${namespace}/default-editor`);
  return token;
}

async function rejectsKfp(p: Promise<unknown>, kind: string, check: (e: KfpError) => void = () => {}): Promise<KfpError> {
  let seen: KfpError | undefined;
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KfpError, `expected a KfpError, got ${(err as Error)?.stack}`);
    assert.equal(err.kind, kind, err.describe());
    assert.doesNotMatch(err.message, /github\.com\/|\.go:\d+/, 'no Go stack trace in messages');
    check(err);
    seen = err;
    return true;
  });
  return seen!;
}

describe("multi-user mode on KFP 2.17's own API server (TokenReview and SubjectAccessReview by the real kube-apiserver)", { skip, concurrency: false }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const tokens: string[] = [];
  const made: { client: KfpClient; runId: string }[] = [];
  /** A profile of namespace team-a whose KFP token is `file` (auth: token-file), or none. */
  const profileYaml = (name: string, namespace: string, kfp: string) =>
    `  ${name}:\n    namespace: ${namespace}\n    baseImage: ${process.env.KFP_BASE_IMAGE ?? 'python:3.12'}\n    kfp:\n      host: ${HOST}\n${kfp}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-mu-'));
    chmodSync(dir, 0o700);
    const write = (name: string, token: string) => {
      tokens.push(token);
      writeFileSync(join(dir, name), token, { mode: 0o600 });
      return join(dir, name);
    };
    const a = write('team-a.token', await saToken('team-a', [AUDIENCE]));
    const b = write('team-b.token', await saToken('team-b', [AUDIENCE]));
    // The API server's own audience (what `kubectl create token` gives without --audience).
    const plain = write('team-a-no-audience.token', await saToken('team-a'));
    writeFileSync(join(dir, 'profiles.yaml'), [
      'profiles:',
      profileYaml('team-a', 'team-a', `      auth: token-file\n      tokenFile: ${a}\n      experiment: cellpipe-multi-user\n`),
      profileYaml('team-b-on-a', 'team-a', `      auth: token-file\n      tokenFile: ${b}\n`),
      profileYaml('no-token', 'team-a', '      auth: none\n'),
      profileYaml('no-audience', 'team-a', `      auth: token-file\n      tokenFile: ${plain}\n`),
      '',
    ].join('\n'));
    env = { CELLPIPE_PROFILES: join(dir, 'profiles.yaml'), CELLPIPE_STORE: join(dir, 'store') };
  });
  after(async () => {
    // The runs made here need not execute: they are terminated (team-a may), so no pods keep the node busy.
    for (const { client, runId } of made) await client.terminateRun(runId).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  const client = async (profile: string) => new KfpClient(await kfpEndpoint(await loadProfile(profile, env), env));
  const noToken = (text: string) => {
    for (const t of tokens) assert.ok(!text.includes(t), 'no token in what cellpipe prints');
  };

  test("team-a's token in team-a: KFP runs multi-user; the experiment, the pipeline and a run are made in team-a", async () => {
    const kfp = await client('team-a');
    assert.equal((await kfp.healthz()).multi_user, true);
    const exp = await kfp.ensureExperiment('cellpipe-multi-user', 'team-a');
    assert.equal(exp.namespace, 'team-a');
    assert.equal((await kfp.ensureExperiment('cellpipe-multi-user', 'team-a')).experiment_id, exp.experiment_id, 'found again');
    const r = compileNotebook(readFileSync(NOTEBOOK, 'utf8'), { path: 'kubeflow_values.ipynb' });
    assert.ok(r.ok && r.yaml && r.specHash, JSON.stringify(r.diagnostics));
    const v = await kfp.ensurePipelineVersion(r.yaml, r.specHash, { name: 'cellpipe-multi-user', namespace: 'team-a' });
    const again = await kfp.ensurePipelineVersion(r.yaml, r.specHash, { name: 'cellpipe-multi-user', namespace: 'team-a' });
    assert.equal(again.action, 'reused');
    assert.equal((await kfp.findPipeline('cellpipe-multi-user', 'team-a'))?.namespace, 'team-a');
    const run = await kfp.createRun({
      displayName: 'multi-user', experimentId: exp.experiment_id, pipelineId: v.pipelineId, pipelineVersionId: v.pipelineVersionId, parameters: { SCALE: 2 },
    });
    made.push({ client: kfp, runId: run.run_id });
    assert.equal((await kfp.getRun(run.run_id)).experiment_id, exp.experiment_id);
    assert.ok((await kfp.listRuns({ namespace: 'team-a' })).runs.some((x) => x.run_id === run.run_id), 'listed in team-a');
    assert.deepEqual(await workflowNamespaces(run.run_id), ['team-a'], "KFP made the run's Workflow in the experiment's namespace");
  });

  test("cellpipe submit with team-a's token: the run is created in team-a (the experiment's namespace)", async () => {
    const r = await cellpipe(['submit', NOTEBOOK, '--profile', 'team-a', '--no-build', '--json'], env);
    noToken(r.stdout + r.stderr);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const record = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    const kfpRunId = record.external?.kfpRunId as string;
    assert.ok(kfpRunId, r.stdout);
    assert.equal(record.external?.namespace, 'team-a');
    const kfp = await client('team-a');
    made.push({ client: kfp, runId: kfpRunId });
    const run = await kfp.getRun(kfpRunId);
    const exp = await kfp.ensureExperiment('cellpipe-multi-user', 'team-a');
    assert.equal(run.experiment_id, exp.experiment_id, "the run is in the profile's experiment, in team-a");
    assert.deepEqual(await workflowNamespaces(kfpRunId), ['team-a']);
    const stored = await new RunStore(join(dir, 'store')).get(record.id);
    assert.equal(stored?.external?.kfpRunId, kfpRunId);
  });

  test("team-b's token on a profile of team-a: KFP's 403; cellpipe names the account, the namespace and what to do", async () => {
    const kfp = await client('team-b-on-a');
    const list = await rejectsKfp(kfp.ensureExperiment('cellpipe-multi-user', 'team-a'), 'forbidden');
    console.log(`403 (list experiments): ${list.describe()}`);
    for (const e of [list]) {
      assert.equal(e.status, 403);
      assert.match(e.message, /permission denied/i);
      assert.match(e.message, /service account 'default-editor' of namespace 'team-b'/);
      assert.match(e.message, /may not list experiments in namespace 'team-a'/);
      assert.match(e.hint, /team-a/);
    }
    // An upload into team-a: KFP 2.17 answers a bare 400 'Failed to create a pipeline' (its reason dropped); cellpipe
    // reads KFP's verdict on the caller in team-a by listing pipelines there.
    const r = compileNotebook(readFileSync(NOTEBOOK, 'utf8'), { path: 'kubeflow_values.ipynb' });
    const upload = await rejectsKfp(kfp.uploadPipeline(r.yaml!, { name: 'cellpipe-multi-user-b', description: 'x', namespace: 'team-a' }), 'forbidden');
    console.log(`refused upload: ${upload.describe()}`);
    assert.match(upload.message, /service account 'default-editor' of namespace 'team-b'.*may not list pipelines in namespace 'team-a' \(403 while trying to upload pipeline/);
    const anonymousUpload = (await client('no-token')).uploadPipeline(r.yaml!, { name: 'cellpipe-multi-user-none', description: 'x', namespace: 'team-a' });
    await rejectsKfp(anonymousUpload, 'unauthorized', (e) => assert.match(e.message, /carried no token/));
    // A run in team-a's experiment is refused alike.
    const mine = await client('team-a');
    const exp = await mine.ensureExperiment('cellpipe-multi-user', 'team-a');
    const pipeline = await mine.findPipeline('cellpipe-multi-user', 'team-a');
    const versions = await mine.listPipelineVersions(pipeline!.pipeline_id);
    const run = await rejectsKfp(kfp.createRun({
      displayName: 'not mine', experimentId: exp.experiment_id, pipelineId: pipeline!.pipeline_id, pipelineVersionId: versions[0].pipeline_version_id, parameters: {},
    }), 'forbidden');
    console.log(`403 (create run): ${run.describe()}`);
    assert.match(run.message, /may not create runs in namespace 'team-a'/);

    const cli = await cellpipe(['submit', NOTEBOOK, '--profile', 'team-b-on-a', '--no-build'], env);
    noToken(cli.stdout + cli.stderr);
    console.log(`cellpipe submit (team-b's token, namespace team-a): exit ${cli.code}\n${cli.stderr}`);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /permission denied.*service account 'default-editor' of namespace 'team-b'.*in namespace 'team-a'/);
    assert.match(cli.stderr, /fix: .*team-a/);
  });

  test('no token in multi-user mode: KFP answers 401; cellpipe says the request had none and what to set', async () => {
    const kfp = await client('no-token');
    assert.equal((await kfp.healthz()).multi_user, true, 'health needs no identity');
    const e = await rejectsKfp(kfp.ensureExperiment('cellpipe-multi-user', 'team-a'), 'unauthorized');
    console.log(`401 (no token): ${e.describe()}`);
    assert.equal(e.status, 401);
    assert.match(e.message, /no token|without a token|carried no/i);
    assert.match(e.hint, /kfp\.auth/);
    assert.match(e.hint, /pipelines\.kubeflow\.org/);
    const cli = await cellpipe(['submit', NOTEBOOK, '--profile', 'no-token', '--no-build'], env);
    console.log(`cellpipe submit (no token): exit ${cli.code}\n${cli.stderr}`);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /401[\s\S]*fix: .*kfp\.auth/);
  });

  test("a token without KFP's audience: KFP's TokenReview rejects it; cellpipe says which audience it needs", async () => {
    const kfp = await client('no-audience');
    const e = await rejectsKfp(kfp.ensureExperiment('cellpipe-multi-user', 'team-a'), 'unauthorized');
    console.log(`401 (token without KFP's audience): ${e.describe()}`);
    assert.match(e.hint, /audience pipelines\.kubeflow\.org/);
  });
});
