/**
 * examples/composing (three notebooks, Kale 2.3's `notebook:` cells) submitted to Kubeflow as a user submits it: its
 * steps built into images pushed to a real registry, one KFP pipeline uploaded to the swagger-checked fake KFP API
 * server (no real KFP runs here: see README, "Kubeflow Pipelines in the tests"), and every task run by a pod on the
 * real test cluster's node (src/kfp/testing/executors.ts), values travelling between the notebooks' steps as KFP
 * artifacts. Then the cache: what KFP's driver hashes into a task's cache key changes for the one referenced step
 * whose notebook changed, and for no other task.
 * Run by scripts/test-k8s.sh (it starts the cluster); skipped without a real node.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKfpServer } from '../../kfp/testing/fake-server.js';
import { runExecutors } from '../../kfp/testing/executors.js';
import { specDocument } from '../../kfp/parameters.js';
import { startRegistry } from '../../images/testing.js';
import { debianBase } from '../containers/base-image.js';
import { RunStore } from '../../runs/store.js';
import { KubeflowRuntime } from './runtime.js';
import { SKIP_NO_REAL_NODE, freshNamespace, testCluster, trustRegistry, waitFor } from '../../kube/testing.js';
import type { KubeConnection } from '../../kube/connect.js';

const found = testCluster();
const cluster = found?.nodeKind === 'real' ? found : undefined;
const EXAMPLE = new URL('../../../examples/composing/', import.meta.url).pathname;

interface Spec {
  root: { dag: { tasks: Record<string, { componentRef: { name: string }; dependentTasks?: string[]; inputs?: unknown }> } };
  components: Record<string, { executorLabel?: string; dag?: unknown; inputDefinitions?: unknown; outputDefinitions?: unknown }>;
  deploymentSpec: { executors: Record<string, { container: { image: string; command?: string[]; args?: string[] } }> };
}

/**
 * Per task, what KFP's driver hashes into its cache key (backend/src/v2/cacheutils GenerateCacheKey: the task's
 * inputs, its outputs' names and types, the container's image, command and args). The input values themselves are
 * the upstream tasks' outputs at run time; their wiring is what the spec fixes.
 */
function cacheInputs(yaml: string): Record<string, string> {
  const spec = specDocument(yaml) as unknown as Spec;
  return Object.fromEntries(Object.entries(spec.root.dag.tasks).map(([task, t]) => {
    const component = spec.components[t.componentRef.name];
    const { image, command, args } = spec.deploymentSpec.executors[component.executorLabel!].container;
    const hashed = JSON.stringify({ inputs: t.inputs, in: component.inputDefinitions, out: component.outputDefinitions, image, command, args });
    return [task, createHash('sha256').update(hashed).digest('hex')];
  }));
}

/** The `main` container's log of the executor pod that ran `task` in KFP run `kfpId`. */
async function taskLog(conn: KubeConnection, namespace: string, kfpId: string, task: string): Promise<string> {
  const pods = (await conn.core.listNamespacedPod({ namespace, labelSelector: `pipeline/runid=${kfpId}` })).items;
  const pod = pods.find((p) => p.metadata?.annotations?.['workflows.argoproj.io/node-name']?.endsWith(`.root.${task}.executor`));
  assert.ok(pod, `the executor pod of ${task} exists (pods: ${pods.map((p) => p.metadata?.name).join(', ')})`);
  return conn.core.readNamespacedPodLog({ name: pod!.metadata!.name!, namespace, container: 'main' });
}

describe('a composition of notebooks on Kubeflow', { skip: cluster ? false : SKIP_NO_REAL_NODE, timeout: 900_000 }, () => {
  test('examples/composing is one KFP pipeline with a task per step of every notebook; it runs to success on the node, values flowing between the notebooks; a referenced step\'s cache key changes with its own notebook\'s step only', async () => {
    const c = cluster!;
    const ns = await freshNamespace(c, 'composing');
    const reg = await startRegistry('open');
    const fake = new FakeKfpServer({ progress: 'manual', clock: 'real' });
    await fake.start();
    const executors = runExecutors({ fake, cluster: c, conn: ns.conn });
    const dir = mkdtempSync(join(tmpdir(), 'cellpipe-composing-kfp-'));
    try {
      await trustRegistry(c, reg.host);
      const base = await debianBase({ onLog: (l) => process.stderr.write(`[mmdebstrap] ${l}\n`) });
      execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${base.layout}:${base.tag}`, `docker://${reg.host}/base/python:3.12`]);
      cpSync(EXAMPLE, dir, { recursive: true });
      const runtime = new KubeflowRuntime({
        store: new RunStore(join(dir, '.cellpipe')),
        profile: {
          name: 'compose', namespace: ns.name, registry: `${reg.host}/team/steps`, baseImage: `${reg.host}/base/python:3.12`,
          insecureRegistry: true, kfp: { host: fake.url, auth: 'none' },
        },
        kube: ns.conn,
        env: {},
      });
      const run = async () => {
        const r = await runtime.submitNotebook({ notebookPath: join(dir, 'pipeline.ipynb'), watch: false });
        const kfpId = r.record.external!.kfpRunId;
        await waitFor('the run to finish', async () => ['SUCCEEDED', 'FAILED'].includes(fake.runs.get(kfpId)?.run.state ?? '') || undefined, 400_000);
        return { kfpId, yaml: r.yaml, state: fake.runs.get(kfpId)?.run.state, record: r.record };
      };

      const first = await run();
      // Flat: the referenced notebooks' steps are tasks of the root DAG, no sub-DAG component (see compose.ts).
      const spec = specDocument(first.yaml) as unknown as Spec;
      assert.deepEqual(Object.keys(spec.root.dag.tasks).sort(), ['features-load', 'features-smooth', 'labels-label', 'report', 'train']);
      assert.ok(Object.values(spec.components).every((comp) => !comp.dag), 'no component is a sub-DAG');
      assert.deepEqual(spec.root.dag.tasks.train.dependentTasks?.slice().sort(), ['features-smooth', 'labels-label'], 'train runs after both referenced notebooks');
      assert.deepEqual(spec.root.dag.tasks['labels-label'].dependentTasks ?? [], [], 'the two referenced notebooks are independent');
      assert.deepEqual(first.record.steps.find((s) => s.name === 'features-smooth')?.unit, { name: 'features', notebook: 'features.ipynb', step: 'smooth' },
        'the run record names the notebook and step a referenced step is (features.ipynb, opened on its own, finds the run by it)');
      const report = await taskLog(ns.conn, ns.name, first.kfpId, 'report');
      assert.equal(first.state, 'SUCCEEDED', `the run succeeded; report's log:\n${report}`);
      assert.match(await taskLog(ns.conn, ns.name, first.kfpId, 'features-smooth'), /smoothed \[12\.0, 13\.75, 12\.8333/,
        'the root\'s WINDOW = 3 is handed down to features.ipynb\'s step (its own default is 2)');
      assert.match(await taskLog(ns.conn, ns.name, first.kfpId, 'train'), /threshold 13\.667/, 'train reads smoothed (features) and full (labels)');
      assert.match(report, /a bag is full from 13\.67 g \(window 3\)/);

      // A change in features.ipynb's smooth step: only that task's cache key changes.
      const file = join(dir, 'features.ipynb');
      const nb = JSON.parse(readFileSync(file, 'utf8'));
      const cell = nb.cells.find((x: { id: string }) => x.id === 'c4');
      cell.source = (Array.isArray(cell.source) ? cell.source.join('') : cell.source).replace("print('smoothed', smoothed)", "print('smoothed:', smoothed)");
      writeFileSync(file, JSON.stringify(nb));
      const second = await run();
      assert.equal(second.state, 'SUCCEEDED');
      assert.match(await taskLog(ns.conn, ns.name, second.kfpId, 'features-smooth'), /smoothed: \[12\.0/);
      const before = cacheInputs(first.yaml);
      const after = cacheInputs(second.yaml);
      assert.deepEqual(Object.keys(before).filter((t) => before[t] !== after[t]), ['features-smooth']);
      assert.deepEqual(fake.violations, []);
    } finally {
      await executors.stop();
      await fake.close();
      await reg.stop();
      await ns.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
