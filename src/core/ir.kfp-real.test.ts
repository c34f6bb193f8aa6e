/**
 * Every spec the tests compile goes through KFP's own backend (`kfp-real check`, KFP 2.17.0): the upload parse, the
 * run-creation parameter check, the Argo compiler with the Kubernetes platform spec, and Argo's validator — with and
 * without runtime parameters. The compiled Workflow is read where it matters: each step's executor runs its built
 * image by digest with the resources, env, secrets, volumes, pod metadata, deadline, caching and retry policy its
 * tags asked for. Wrong parameters get KFP's error, and cellpipe's own check refuses them first, naming the cell.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { compileNotebook, type CompileResult } from './compile.js';
import { taskName } from './graph.js';
import { RUNTIME_COMMAND } from './ir.js';
import type { JsonValue, Parameter, StepGraph } from './model.js';
import { STEPS_DIR, WORK_DIR } from '../images/build.js';
import { KfpParameterError, rootParameters, runtimeParameters, specDocument } from '../kfp/parameters.js';
import { checkSpec, executorsOf, kfpRealPath, type ExecutorView } from '../kfp/testing/kfp-real.js';
import { REPO } from '../runs/testing.js';

const notebooksIn = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort().map((f) => join(dir, f));

/** A notebook with every platform feature in combinations the fixtures do not have. */
const PLATFORM_NOTEBOOK = JSON.stringify({
  nbformat: 4, nbformat_minor: 5,
  metadata: {
    kubeflow_notebook: {
      pipeline_name: 'platform-mix', docker_image: 'python:3.11-slim',
      volumes: [{ type: 'pvc', name: 'data-a', mount_point: '/mnt/a' }, { type: 'pvc', name: 'data-b', mount_point: '/mnt/b' }],
    },
    cellpipe: { env: { REGION: 'eu-west', MODE: 'batch', RETRIES_MAX: 3 } },
  },
  cells: [
    { cell_type: 'markdown', source: '# platform features', metadata: {} },
    { cell_type: 'code', source: 'n = 4\nratio = 0.25\nlabel = "x"\nflags = {"a": True}', metadata: { tags: ['pipeline-parameters'] }, outputs: [], execution_count: null },
    {
      cell_type: 'code', source: 'rows = list(range(n))', outputs: [], execution_count: null,
      metadata: { tags: ['step:prep_data', 'limit:cpu:2', 'limit:memory:512Mi', 'limit:nvidia.com/gpu:2', 'secret:s3:key:AWS_KEY', 'secret:s3:secret:AWS_SECRET', 'secret:db:pw:DB_PW', 'retries:3', 'timeout:30', 'label:tier:gold', 'annotation:note:hello', 'env:DATASET_URL=https://example.com/data.csv?a=1&b=2', 'env:MODE=stream'] },
    },
    { cell_type: 'code', source: 'total = sum(rows) * ratio', metadata: { tags: ['step:sum-up', 'cache:disabled', 'limit:memory:2G'] }, outputs: [], execution_count: null },
    { cell_type: 'code', source: 'print(label, flags, total)', metadata: { tags: ['step:report'] }, outputs: [], execution_count: null },
  ],
});

/** Edge cases of names and values: a 70-character step name, `_` and `-` in names, empty and nested values, prefixed
 *  label keys, dotted secret names, another vendor's GPU. */
const EDGE_NOTEBOOK = JSON.stringify({
  nbformat: 4, nbformat_minor: 5, metadata: { kubeflow_notebook: { pipeline_name: 'Edge Cases: names & values!' } },
  cells: [
    { cell_type: 'code', source: 'learning_rate = 0.1\nN_2 = 3\nempty = ""\nnone_yet = []\nnested = {"a": {"b": [1, {"c": 2.5}]}}', metadata: { tags: ['pipeline-parameters'] }, outputs: [], execution_count: null },
    { cell_type: 'code', source: 'x = learning_rate * N_2', metadata: { tags: [`step:${'a'.repeat(70)}`, 'limit:amd.com/gpu:1', 'retries:10', 'timeout:1'] }, outputs: [], execution_count: null },
    { cell_type: 'code', source: 'y = [x, empty, none_yet]', metadata: { tags: ['step:a_b', 'label:app.kubernetes.io/name:cellpipe', 'annotation:example.com/note:hello world'] }, outputs: [], execution_count: null },
    { cell_type: 'code', source: 'print(y, nested)', metadata: { tags: ['step:a-c', 'secret:my-secret.v1:key.with.dots:MY_ENV'] }, outputs: [], execution_count: null },
  ],
});

interface Compiled {
  name: string;
  variant: 'inline' | 'images';
  result: CompileResult;
  images?: Record<string, string>;
}

const digest = (i: number) => `127.0.0.1:5000/cellpipe/steps@sha256:${(i + 1).toString(16).padStart(64, 'a')}`;

/** A notebook compiled as the tests compile it: programs inlined, and as `cellpipe build` leaves it (images by digest). */
function compileBoth(name: string, text: string): Compiled[] {
  const inline = compileNotebook(text, { path: name });
  const images = Object.fromEntries((inline.graph?.steps ?? []).map((s, i) => [s.name, digest(i)]));
  const built = compileNotebook(text, { path: name, images, programDir: STEPS_DIR, workdir: WORK_DIR });
  return [{ name, variant: 'inline', result: inline }, { name, variant: 'images', result: built, images }];
}

/** Values of the right type for every parameter, all different from the defaults (so they are seen to arrive). */
function changedValues(params: Parameter[]): Record<string, JsonValue> {
  const change = (p: Parameter): JsonValue => {
    const v = p.default;
    switch (p.type) {
      case 'int': return (v as number) + 1;
      case 'float': return (v as number) + 0.25;
      case 'str': return `${v as string}-changed`;
      case 'bool': return !(v as boolean);
      case 'list': return [...(v as JsonValue[]), 1];
      case 'dict': return { ...(v as Record<string, JsonValue>), added: 1 };
    }
  };
  return Object.fromEntries(params.map((p) => [p.name, change(p)]));
}

/** A value of the wrong JSON kind for each parameter type. */
const WRONG: Record<Parameter['type'], JsonValue> = { int: 'seven', float: 'x', str: 5, bool: 'true', list: { a: 1 }, dict: [1] };
const KFP_TYPE_WORD: Record<Parameter['type'], string> = { int: 'double or integer', float: 'double or integer', str: 'string', bool: 'bool', list: 'list', dict: 'struct' };

describe('every compiled spec passes KFP 2.17.0\'s own backend (kfp-real check)', () => {
  const all: Compiled[] = [];
  before(() => {
    kfpRealPath(); // fails with where it looked when the binary is missing
    const files = [
      ...notebooksIn(join(REPO, '../shared/corpus/kale')),
      ...notebooksIn(join(REPO, '../shared/corpus/elyra')),
      ...notebooksIn(join(REPO, 'test/fixtures/notebooks')),
      ...notebooksIn(join(REPO, 'test/fixtures/run-notebooks')),
      join(REPO, 'examples/quickstart.ipynb'),
    ];
    for (const f of files) all.push(...compileBoth(basename(f), readFileSync(f, 'utf8')));
    all.push(...compileBoth('platform-mix.ipynb', PLATFORM_NOTEBOOK));
    all.push(...compileBoth('edge-cases.ipynb', EDGE_NOTEBOOK));
  });

  test('the corpus, the fixtures, the run notebooks, the quickstart and a platform-feature mix: accepted with and without runtime parameters', async () => {
    const ok = all.filter((c) => c.result.ok);
    assert.ok(ok.length >= 26, `only ${ok.length} specs compiled`);
    assert.ok(all.filter((c) => c.name.endsWith('-cases.ipynb') || c.name === 'platform-mix.ipynb').every((c) => c.result.ok), 'the synthetic notebooks compile');
    assert.ok(ok.some((c) => c.result.yaml!.includes('\n---\n')), 'some specs carry a Kubernetes platform document');
    let withParams = 0;
    for (const c of ok) {
      const plain = await checkSpec(c.result.yaml!);
      assert.ok(plain.ok, `${c.name} (${c.variant}): ${plain.error}`);
      assert.equal(plain.workflow!.metadata.generateName, `${c.result.graph!.pipeline.name}-`);
      if (!c.result.graph!.parameters.length) continue;
      const values = changedValues(c.result.graph!.parameters);
      const given = await checkSpec(c.result.yaml!, values);
      assert.ok(given.ok, `${c.name} (${c.variant}) with ${JSON.stringify(values)}: ${given.error}`);
      const rootDriver = given.workflow!.spec.templates.find((t) => t.name === 'entrypoint')!.dag!.tasks.find((t) => t.name === 'root-driver')!;
      const runtimeConfig = JSON.parse(rootDriver.arguments!.parameters!.find((p) => p.name === 'runtime-config')!.value!) as { parameterValues: Record<string, JsonValue> };
      assert.deepEqual(runtimeConfig.parameterValues, values, `${c.name}: the run's parameters reach the root driver`);
      withParams++;
    }
    assert.ok(withParams >= 8, `only ${withParams} specs checked with parameters`);
  });

  /** The executors of a checked spec, by step name. */
  async function executors(c: Compiled): Promise<Record<string, ExecutorView>> {
    const r = await checkSpec(c.result.yaml!);
    assert.ok(r.ok, r.error);
    const byTask = executorsOf(r.workflow!);
    const graph = c.result.graph!;
    assert.deepEqual(Object.keys(byTask).sort(), graph.steps.map((s) => taskName(s.name)).sort(), 'one driver + executor per step');
    return Object.fromEntries(graph.steps.map((s) => [s.name, byTask[taskName(s.name)]]));
  }

  function expectStep(graph: StepGraph, view: ExecutorView, stepName: string, image: string): void {
    const step = graph.steps.find((s) => s.name === stepName)!;
    const c = view.container;
    assert.equal(c.image, image, `${stepName} runs its built image by digest`);
    assert.deepEqual(c.command, RUNTIME_COMMAND);
    assert.deepEqual(c.args!.slice(0, 3), ['run', '--program', `${STEPS_DIR}/${stepName}.json`]);
    assert.deepEqual(c.args!.slice(-2), ['--workdir', WORK_DIR]);
    assert.deepEqual(c.env, [...Object.entries(step.env).map(([name, value]) => ({ name, value })), { name: 'CELLPIPE_STEP', value: stepName }], `${stepName} env`);
    const res = (c.resources ?? {}) as Record<string, unknown>;
    assert.equal(res.resourceCpuLimit, step.limits.cpu, `${stepName} cpu`);
    assert.equal(res.resourceMemoryLimit, step.limits.memory, `${stepName} memory`);
    const gpu = step.limits['nvidia.com/gpu'];
    assert.deepEqual(res.accelerator, gpu ? { count: gpu, resourceCount: gpu, resourceType: 'nvidia.com/gpu', type: 'nvidia.com/gpu' } : undefined, `${stepName} accelerator`);
    if (step.retries > 0) {
      assert.match(view.template, /retry-system-container-executor$/, `${stepName} runs through the retrying executor template`);
      assert.equal(view.arguments['retry-max-count'], String(step.retries));
      assert.equal(view.retryStrategy?.limit, '{{inputs.parameters.retry-max-count}}');
    } else {
      assert.doesNotMatch(view.template, /retry/, `${stepName} is not retried`);
      assert.equal(view.retryStrategy, undefined);
    }
    const k8s = view.kubernetes ?? {};
    const secrets = (k8s.secretAsEnv ?? []) as { secretName: string; keyToEnv: { envVar: string; secretKey: string }[] }[];
    const envFromSecrets = secrets.flatMap((s) => s.keyToEnv.map((k) => `${s.secretName}/${k.secretKey}→${k.envVar}`)).sort();
    assert.deepEqual(envFromSecrets, step.secrets.map((s) => `${s.secret}/${s.key}→${s.env}`).sort(), `${stepName} secrets`);
    assert.equal(k8s.activeDeadlineSeconds, step.timeout ? String(step.timeout) : undefined, `${stepName} timeout`);
    const labels = (k8s.podMetadata as { labels?: Record<string, string> } | undefined)?.labels ?? {};
    assert.deepEqual(labels, step.labels, `${stepName} labels`);
    // The pod metadata reaches the executor template as arguments (what Argo puts on the pod).
    for (const [k, v] of Object.entries(step.labels)) {
      const keyArg = Object.entries(view.arguments).find(([n, val]) => /^pod-metadata-label-key/.test(n) && val === k);
      assert.ok(keyArg, `${stepName}: label ${k} on the executor pod`);
      assert.equal(view.arguments[keyArg[0].replace('-key', '-val')], v);
    }
    const volumes = ((k8s.pvcMount ?? []) as { constant: string; mountPath: string }[]).map((m) => `${m.constant}:${m.mountPath}`);
    assert.deepEqual(volumes, graph.pipeline.volumes.map((v) => `${v.name}:${v.mountPoint}`), `${stepName} volumes`);
  }

  test('all_options (built images): each executor runs its image by digest with the limits, env, secrets, volumes, labels, deadline and retries its tags ask for', async () => {
    const c = all.find((x) => x.name === 'all_options.ipynb' && x.variant === 'images')!;
    const views = await executors(c);
    for (const name of Object.keys(views)) expectStep(c.result.graph!, views[name], name, c.images![name]);
    assert.equal(views.train.container.resources!.accelerator !== undefined, true);
    assert.deepEqual((views['load-data'].kubernetes!.podMetadata as { annotations: Record<string, string> }).annotations, { owner: 'ana' });
    const r = await checkSpec(c.result.yaml!);
    const root = r.workflow!.spec.templates.find((t) => t.name === 'root')!;
    const task = (name: string) => JSON.parse(root.dag!.tasks.find((t) => t.name === `${name}-driver`)!.arguments!.parameters!.find((p) => p.name === 'task')!.value!) as { cachingOptions: { enableCache?: boolean } };
    assert.deepEqual(task('load-data').cachingOptions, {}, 'cache:disabled reaches the driver as no caching');
    assert.equal(task('train').cachingOptions.enableCache, true);
  });

  test('platform-mix (built images): three secrets from two Secrets, cpu+memory+GPU, two volumes, retries and a deadline on one step, env from the notebook and a step', async () => {
    const c = all.find((x) => x.name === 'platform-mix.ipynb' && x.variant === 'images')!;
    assert.ok(c.result.ok, JSON.stringify(c.result.diagnostics));
    const views = await executors(c);
    assert.deepEqual(Object.keys(views).sort(), ['prep_data', 'report', 'sum-up']);
    for (const name of Object.keys(views)) expectStep(c.result.graph!, views[name], name, c.images![name]);
    // metadata.cellpipe.env reaches every step, a step's env: tag wins, the values arrive unchanged (`=`, `&`, `?`).
    const envOf = (step: string) => Object.fromEntries((views[step].container.env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
    assert.deepEqual(envOf('prep_data'), { DATASET_URL: 'https://example.com/data.csv?a=1&b=2', MODE: 'stream', REGION: 'eu-west', RETRIES_MAX: '3', CELLPIPE_STEP: 'prep_data' });
    assert.deepEqual(envOf('report'), { MODE: 'batch', REGION: 'eu-west', RETRIES_MAX: '3', CELLPIPE_STEP: 'report' });
    assert.equal(views.prep_data.container.resources!.memoryLimit, 0.536870912);
    assert.equal(views['sum-up'].container.resources!.memoryLimit, 2);
  });

  test('edge-cases (built images): a 70-character step name, prefixed labels, dotted secrets, an AMD GPU, 10 retries', async () => {
    const c = all.find((x) => x.name === 'edge-cases.ipynb' && x.variant === 'images')!;
    const views = await executors(c);
    assert.equal(Object.keys(views).length, 3);
    for (const name of Object.keys(views)) {
      if (name.startsWith('aaa')) {
        // expectStep knows only nvidia.com/gpu: check the other vendor's accelerator here.
        assert.deepEqual(views[name].container.resources!.accelerator, { count: '1', resourceCount: '1', resourceType: 'amd.com/gpu', type: 'amd.com/gpu' });
        assert.equal(views[name].arguments['retry-max-count'], '10');
        continue;
      }
      expectStep(c.result.graph!, views[name], name, c.images![name]);
    }
  });

  test('a wrong-typed or unknown parameter: KFP refuses the run, and cellpipe refuses it first naming the parameter\'s cell and line', async () => {
    const c = all.find((x) => x.name === 'all_options.ipynb' && x.variant === 'inline')!;
    const graph = c.result.graph!;
    const params = rootParameters(specDocument(c.result.yaml!), graph.parameters);
    for (const p of graph.parameters) {
      const bad = { [p.name]: WRONG[p.type] };
      const kfp = await checkSpec(c.result.yaml!, bad);
      assert.equal(kfp.ok, false, `KFP accepts ${JSON.stringify(bad)}`);
      assert.match(kfp.error, new RegExp(`input parameter ${p.name} requires type ${KFP_TYPE_WORD[p.type]}`));
      assert.throws(() => runtimeParameters(params, { values: bad }), (e: unknown) =>
        e instanceof KfpParameterError && e.message.includes(`'${p.name}'`) && e.message.includes(`cell ${p.cell + 1}, line ${p.line}`), `cellpipe's message for ${p.name}`);
    }
    const textual = () => runtimeParameters(params, { texts: { epochs: 'three' } });
    assert.throws(textual, /--param epochs=three: epochs is an integer \(cell 3, line 2 of the notebook\)/);

    const kfp = await checkSpec(c.result.yaml!, { nope: 1 });
    assert.match(kfp.error, /parameter\(s\) provided are not required by pipeline: nope/);
    assert.throws(() => runtimeParameters(params, { texts: { nope: '1' } }), (e: unknown) =>
      e instanceof KfpParameterError && /no parameter 'nope'/.test(e.message) && /pipeline-parameters cell \(cell 3\): config, epochs/.test(e.hint));
  });

  test('a float for an integer parameter: KFP 2.17 accepts it, cellpipe refuses it (the notebook assigned an int)', async () => {
    const c = all.find((x) => x.name === 'all_options.ipynb' && x.variant === 'inline')!;
    assert.equal((await checkSpec(c.result.yaml!, { epochs: 2.5 })).ok, true);
    const params = rootParameters(specDocument(c.result.yaml!), c.result.graph!.parameters);
    assert.throws(() => runtimeParameters(params, { values: { epochs: 2.5 } }), /'epochs' = 2\.5 is not an integer \(cell 3, line 2/);
  });
});
