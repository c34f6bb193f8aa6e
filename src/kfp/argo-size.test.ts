/**
 * Plain specs (no built images) and Argo's 1 MiB Workflow limit: with the step runtime inlined in every step a spec
 * of a few steps cannot run on a stock Kubeflow, so submissions mount the runtime from one ConfigMap instead; what
 * still cannot fit is refused before the upload, with the way out. The specs go through KFP 2.17.0's own compiler
 * (`kfp-real check`), which must hand every executor the ConfigMap mount.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileNotebook } from '../core/compile.js';
import { RUNTIME_KEY, RUNTIME_MOUNT, inlineRuntimeCommand, mountedRuntimeCommand, runtimeConfigMap } from '../core/inline-runtime.js';
import { specDocument } from './parameters.js';
import { argoSizeProblem, estimateArgoSize } from './argo-size.js';
import { checkSpec, executorsOf } from './testing/kfp-real.js';
import { manySteps } from './testing/many-steps.js';

const CANDIES = readFileSync(fileURLToPath(new URL('../../../shared/corpus/kale/candies_sharing.ipynb', import.meta.url)), 'utf8');

const spec = (text: string, runtime: 'inline' | 'configmap') => {
  const r = compileNotebook(text, { path: 'nb.ipynb', runtime });
  assert.ok(r.ok && r.yaml, JSON.stringify(r.diagnostics));
  return { yaml: r.yaml, doc: specDocument(r.yaml) };
};

describe('plain specs and Argo\'s Workflow size limit', () => {
  test('the runtime\'s ConfigMap is named by its content and holds the same bundle the inline command carries', () => {
    const cm = runtimeConfigMap();
    assert.match(cm.name, /^cellpipe-runtime-[0-9a-f]{16}$/);
    assert.ok(inlineRuntimeCommand()[2].includes(cm.data[RUNTIME_KEY]), 'the inline command embeds the same bundle');
    const mounted = mountedRuntimeCommand();
    assert.ok(Buffer.byteLength(mounted.join(' ')) < 2000, `the mounted command is small (${mounted.join(' ').length} bytes)`);
    assert.ok(mounted[2].includes(`open("${RUNTIME_MOUNT}/${RUNTIME_KEY}")`), 'it reads the mounted bundle');
  });

  test('candies_sharing inlined (228 KB, what Argo stopped at the fourth step on the real stack) is refused with the way out; mounted it fits', () => {
    const inline = spec(CANDIES, 'inline');
    assert.ok(inline.yaml.length > 200_000);
    const problem = argoSizeProblem(inline.doc, { runtimeInlined: true });
    assert.ok(problem, 'refused');
    assert.match(problem.message, /4 steps .* over Argo's 1 MB limit/);
    assert.match(problem.hint, /build the step images .* ConfigMaps/);
    const mounted = spec(CANDIES, 'configmap');
    assert.ok(mounted.yaml.length < 20_000, `the mounted spec is small (${mounted.yaml.length} bytes)`);
    assert.equal(argoSizeProblem(mounted.doc, { runtimeInlined: false }), undefined);
  });

  test('20 and 50 mounted steps fit; the estimate grows with the steps and says how many fit', () => {
    const e20 = estimateArgoSize(spec(manySteps(20), 'configmap').doc);
    const e50 = estimateArgoSize(spec(manySteps(50), 'configmap').doc);
    assert.equal(e20.steps, 20);
    assert.ok(e50.bytes > e20.bytes);
    assert.ok(e50.maxSteps >= 50, `50 fit (${e50.maxSteps})`);
    assert.ok(estimateArgoSize(spec(manySteps(20), 'inline').doc).maxSteps < 4, 'inlined, not even 4 fit');
  });

  test('KFP 2.17\'s compiler hands every executor the runtime\'s ConfigMap, mounted where the command reads it', async () => {
    const { yaml } = spec(CANDIES, 'configmap');
    const r = await checkSpec(yaml);
    assert.ok(r.ok, r.error);
    const views = executorsOf(r.workflow!);
    assert.deepEqual(Object.keys(views).sort(), ['kid1', 'kid2', 'kid3', 'sack']);
    for (const [name, v] of Object.entries(views)) {
      assert.deepEqual(v.container.command, mountedRuntimeCommand(), `${name}: the small command`);
      const mounts = v.kubernetes?.configMapAsVolume as { mountPath: string; configMapNameParameter: { runtimeValue: { constant: string } } }[];
      assert.deepEqual(mounts.map((m) => [m.mountPath, m.configMapNameParameter.runtimeValue.constant]), [[RUNTIME_MOUNT, runtimeConfigMap().name]], `${name}: the mount`);
    }
  });
});
