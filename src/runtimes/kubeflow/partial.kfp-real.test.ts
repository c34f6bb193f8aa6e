/**
 * Partial runs on Kubeflow (`cellpipe submit --only/--from/--no-cache`, "Run this step" on a Kubeflow target):
 * KFP's cache does the reusing — the chosen steps' tasks get no caching, the others keep it — checked against KFP's
 * own backend: the upload and run creation (`kfp-real serve`) and the driver's task spec (`kfp-real check`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KfpClient } from '../../kfp/client.js';
import { staticEndpoint } from '../../kfp/endpoint.js';
import { checkSpec, startKfpReal, type KfpRealServer } from '../../kfp/testing/kfp-real.js';
import { CANDIES } from '../../runs/testing.js';
import { RunStore } from '../../runs/store.js';
import { KubeflowRuntime } from './runtime.js';

/** Each task's caching as the compiled Workflow hands it to its driver. */
async function caching(yaml: string): Promise<Record<string, boolean>> {
  const r = await checkSpec(yaml);
  assert.ok(r.ok, r.error);
  const root = r.workflow!.spec.templates.find((t) => t.name === 'root')!;
  const out: Record<string, boolean> = {};
  for (const t of root.dag!.tasks) {
    if (!t.name.endsWith('-driver')) continue;
    const task = JSON.parse(t.arguments!.parameters!.find((p) => p.name === 'task')!.value!) as { cachingOptions?: { enableCache?: boolean } };
    out[t.name.replace(/-driver$/, '')] = task.cachingOptions?.enableCache === true;
  }
  return out;
}

describe('partial runs on Kubeflow use KFP\'s cache (kfp-real)', () => {
  let kfp: KfpRealServer;
  let store: string;
  let runtime: KubeflowRuntime;
  before(async () => {
    kfp = await startKfpReal();
    store = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-partial-'));
    runtime = new KubeflowRuntime({ store: new RunStore(store), profile: { name: 'real', namespace: 'kubeflow', kfp: { host: kfp.url, auth: 'none' } }, kube: null });
  });
  after(async () => {
    await kfp?.stop();
    rmSync(store, { recursive: true, force: true });
  });

  test('--only turns caching off for the chosen step only, --from for it and what follows, --no-cache for all; KFP accepts each', async () => {
    const client = new KfpClient(staticEndpoint(kfp.url, { profile: 'real' }));
    const whole = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false });
    assert.deepEqual(await caching(whole.yaml), { sack: true, kid1: true, kid2: true, kid3: true });

    const only = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false, select: { only: ['kid2'] } });
    assert.deepEqual(await caching(only.yaml), { sack: true, kid1: true, kid2: false, kid3: true });
    assert.notEqual(only.upload.pipelineVersionId, whole.upload.pipelineVersionId, 'another spec, another version');
    assert.equal((await client.getRun(only.record.external!.kfpRunId!)).pipeline_version_reference?.pipeline_version_id, only.upload.pipelineVersionId);

    const from = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false, select: { from: 'kid1' } });
    assert.deepEqual(await caching(from.yaml), { sack: true, kid1: false, kid2: false, kid3: false });
    const none = await runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false, select: { noCache: true } });
    assert.deepEqual(await caching(none.yaml), { sack: false, kid1: false, kid2: false, kid3: false });

    await assert.rejects(runtime.submitNotebook({ notebookPath: CANDIES, images: 'inline', watch: false, select: { only: ['nope'] } }),
      /no step 'nope' in this notebook; its steps are: sack, kid1, kid2, kid3/);
  });
});
