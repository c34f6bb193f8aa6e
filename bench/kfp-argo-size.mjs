// Plain specs (no built images) against Argo's 1 MiB Workflow limit, on KFP 2.17's own stack: for N steps, the spec's
// size with the step runtime inlined and mounted from its ConfigMap, cellpipe's estimate, and — for the mounted spec,
// run for real — the size of the Workflow object Argo keeps once the run ended (its JSON; node statuses gzip'd by Argo
// when over the limit) and how the run ended. The estimate is bypassed here (the client uploads directly), so a spec
// cellpipe would refuse is measured too.
// Usage: bash scripts/k8s/cluster.sh start --kfp; eval "$(bash scripts/k8s/cluster.sh env)";
//        [CELLPIPE_BENCH_KEEP=DIR] node bench/kfp-argo-size.mjs [--minutes M] [N…]   (default 4 20 50 100; each run is waited for up to M minutes, 30)
import { writeFileSync } from 'node:fs';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { compileNotebook } from '../lib/core/compile.js';
import { estimateArgoSize } from '../lib/kfp/argo-size.js';
import { specDocument } from '../lib/kfp/parameters.js';
import { manySteps } from '../lib/kfp/testing/many-steps.js';
import { connect } from '../lib/kube/connect.js';
import { loadProfile } from '../lib/kube/profile.js';
import { RunStore } from '../lib/runs/store.js';
import { KubeflowRuntime } from '../lib/runtimes/kubeflow/runtime.js';
import { ensureRuntimeConfigMap } from '../lib/runtimes/kubeflow/runtime-configmap.js';

if (!process.env.CELLPIPE_PROFILES) {
  console.log('kfp-argo-size bench: skipped (no KFP stack; see the usage at the top)');
  process.exit(0);
}
const argv = process.argv.slice(2);
const mi = argv.indexOf('--minutes');
const minutes = mi >= 0 ? Number(argv.splice(mi, 2)[1]) : 30;
const sizes = argv.map(Number);
const profile = await loadProfile('test');
const conn = connect(profile);
await ensureRuntimeConfigMap(conn);
const runtime = new KubeflowRuntime({ store: new RunStore(`/tmp/kfp-argo-size-${process.pid}`), profile });
const client = await runtime.kfp();
const experiment = await client.ensureExperiment('argo-size');
const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
for (const n of sizes.length ? sizes : [4, 20, 50, 100]) {
  const text = manySteps(n);
  const compiled = (runtime) => compileNotebook(text, { path: `steps${n}.ipynb`, runtime });
  const inline = compiled('inline');
  const mounted = compiled('configmap');
  const est = (r) => estimateArgoSize(specDocument(r.yaml)).bytes;
  const name = `argo-size-${n}`;
  const upload = await client.ensurePipelineVersion(mounted.yaml, mounted.specHash, { name });
  const t0 = Date.now();
  const run = await client.createRun({ displayName: `${name} ${t0}`, experimentId: experiment.experiment_id, pipelineId: upload.pipelineId, pipelineVersionId: upload.pipelineVersionId, parameters: {} });
  let state = run.state;
  while (!['SUCCEEDED', 'FAILED', 'CANCELED'].includes(state ?? '') && Date.now() - t0 < minutes * 60_000) {
    await new Promise((r) => setTimeout(r, 5000));
    state = (await client.getRun(run.run_id)).state;
  }
  const list = await conn.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: conn.namespace, plural: 'workflows', labelSelector: `pipeline/runid=${run.run_id}` });
  const wf = list.items[0];
  if (process.env.CELLPIPE_BENCH_KEEP) writeFileSync(`${process.env.CELLPIPE_BENCH_KEEP}/workflow-${n}.json`, JSON.stringify(wf));
  const nodes = wf?.status?.nodes ? Object.keys(wf.status.nodes).length : undefined;
  console.log(`${n} steps: spec inline ${kb(inline.yaml.length)} (estimate ${kb(est(inline))}), mounted ${kb(mounted.yaml.length)} (estimate ${kb(est(mounted))}); ` +
    `run ${state} in ${((Date.now() - t0) / 1000).toFixed(0)}s, Workflow ${wf ? kb(JSON.stringify(wf).length) : '?'}` +
    `${wf?.status?.compressedNodes ? ` (nodes compressed: ${kb(wf.status.compressedNodes.length)})` : nodes ? ` (${nodes} nodes)` : ''}${wf?.status?.message ? `; Argo: ${wf.status.message}` : ''}`);
}
