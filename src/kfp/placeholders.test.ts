/**
 * Placeholder resolution as KFP's v2 launcher does it, case by case, and the ExecutorInput a driver would build
 * for a cellpipe-compiled task. The last test runs a real compiled spec's command, resolved here, with Python.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { compileNotebook } from '../core/compile.js';
import {
  executorInputFor, formatNumber, localPathForUri, parameterText, PlaceholderError, resolveArgs, unresolved, type ExecutorInput,
} from './placeholders.js';
import { specTasks, type SpecDoc } from './tasks.js';
import * as kit from '../runs/testing.js';

const input: ExecutorInput = {
  inputs: {
    parameterValues: { s: 'a b', i: 3, f: 0.1, big: 1e21, tiny: 1e-7, yes: true, l: [1, 'x'], d: { k: 1 } },
    artifacts: { data: { artifacts: [{ name: 'data', uri: 'minio://bucket/run/up/data', metadata: { rows: 2 } }] }, odd: { artifacts: [{ uri: 'file:///x' }] } },
  },
  outputs: {
    artifacts: { model: { artifacts: [{ name: 'model', uri: 'gs://b/run/t/model' }] } },
    parameters: { score: { outputFile: '/tmp/kfp/outputs/score' } },
    outputFile: '/tmp/kfp_outputs/output_metadata.json',
  },
};

test('parameters: strings raw, numbers without exponent, booleans, JSON for lists and structs', () => {
  const args = resolveArgs(
    ["{{$.inputs.parameters['s']}}", "{{$.inputs.parameters['i']}}", "{{$.inputs.parameters['f']}}", "{{$.inputs.parameters['big']}}",
      "{{$.inputs.parameters['tiny']}}", "{{$.inputs.parameters['yes']}}", "{{$.inputs.parameters['l']}}", "{{$.inputs.parameters['d']}}"],
    input,
  );
  assert.deepEqual(args, ['a b', '3', '0.1', '1000000000000000000000', '0.0000001', 'true', '[1,"x"]', '{"k":1}']);
  assert.equal(formatNumber(-2.5e-3), '-0.0025');
  assert.equal(formatNumber(1.5e22), '15000000000000000000000');
  assert.throws(() => parameterText(null), PlaceholderError);
});

test('artifacts: uri, path mapped like LocalPathForURI, metadata; inside longer strings too', () => {
  const args = resolveArgs(
    ["--input=data={{$.inputs.artifacts['data'].path}}", "{{$.inputs.artifacts['data'].uri}}", "{{$.inputs.artifacts['data'].metadata}}",
      "{{$.outputs.artifacts['model'].path}}", "{{$.outputs.parameters['score'].output_file}}", '{{$.outputs.output_file}}'],
    input,
  );
  assert.deepEqual(args, ['--input=data=/minio/bucket/run/up/data', 'minio://bucket/run/up/data', '{"rows":2}', '/gcs/b/run/t/model',
    '/tmp/kfp/outputs/score', '/tmp/kfp_outputs/output_metadata.json']);
  assert.equal(localPathForUri('s3://b/k'), '/s3/b/k');
  assert.equal(localPathForUri('oci://reg/m:1'), '/oci/reg_m:1/models');
  // An input with no local path keeps its placeholder (the launcher skips it); an output's is an error.
  assert.deepEqual(unresolved(resolveArgs(["{{$.inputs.artifacts['odd'].path}}"], input)), ["{{$.inputs.artifacts['odd'].path}}"]);
  assert.throws(() => resolveArgs([], { outputs: { artifacts: { m: { artifacts: [{ uri: 'file:///m' }] } } } }), /output artifact 'm'.*file:\/\/\/m/);
});

test('{{$}} is the ExecutorInput as JSON; pipeline facts when given; unknown placeholders are reported', () => {
  const [all] = resolveArgs(['{{$}}'], input);
  assert.deepEqual(JSON.parse(all), input);
  assert.deepEqual(resolveArgs(['{{$.pipeline_task_name}}-{{$.pipeline_job_uuid}}'], input, { pipelineTaskName: 't', pipelineJobUuid: 'u' }), ['t-u']);
  assert.deepEqual(unresolved(resolveArgs(["{{$.inputs.parameters['nope']}}"], input)), ["{{$.inputs.parameters['nope']}}"]);
});

test('Concat and IfPresent elements expand as in component YAML', () => {
  const args = resolveArgs([
    JSON.stringify({ Concat: ['--s=', "{{$.inputs.parameters['s']}}"] }),
    JSON.stringify({ IfPresent: { InputName: 'i', Then: ['--i', "{{$.inputs.parameters['i']}}"], Else: ['--no-i'] } }),
    JSON.stringify({ IfPresent: { InputName: 'missing', Then: ['--m'], Else: '--no-m' } }),
  ], input);
  assert.deepEqual(args, ['--s=a b', '--i', '3', '--no-m']);
});

test('executorInputFor: defaults filled in, one output URI per artifact under the root, missing values named', () => {
  const component = {
    inputDefinitions: { parameters: { a: { parameterType: 'NUMBER_INTEGER', defaultValue: 5 }, b: { parameterType: 'STRING' } }, artifacts: { x: { artifactType: { schemaTitle: 'system.Artifact' } } } },
    outputDefinitions: { artifacts: { y: { artifactType: { schemaTitle: 'system.Artifact' } } }, parameters: { p: { parameterType: 'STRING' } } },
  };
  const ei = executorInputFor(component, { parameters: { b: 'hi' }, inputUris: { x: 'minio://c/r/up/x' }, outputRoot: 'minio://c/r/t/', outputFilesDir: '/tmp/kfp/outputs', outputFile: '/tmp/out.json' });
  assert.deepEqual(ei.inputs?.parameterValues, { a: 5, b: 'hi' });
  assert.equal(ei.inputs?.artifacts?.x.artifacts[0].uri, 'minio://c/r/up/x');
  assert.equal(ei.outputs?.artifacts?.y.artifacts[0].uri, 'minio://c/r/t/y');
  assert.equal(ei.outputs?.parameters?.p.outputFile, '/tmp/kfp/outputs/p');
  assert.throws(() => executorInputFor(component, { parameters: {}, inputUris: { x: 'minio://c/x' }, outputRoot: 'minio://c', outputFilesDir: '/o', outputFile: '/f' }), /'b' has no value/);
  assert.throws(() => executorInputFor(component, { parameters: { b: '' }, inputUris: {}, outputRoot: 'minio://c', outputFilesDir: '/o', outputFile: '/f' }), /'x' has no producer/);
});

test('a plain compiled spec runs as it is: its command carries the runtime; resolved, Python runs the steps and passes data', () => {
  const nb = path.join(kit.FIXTURES, 'numbers.ipynb');
  const compiled = compileNotebook(fs.readFileSync(nb, 'utf8'), { path: 'numbers.ipynb' });
  assert.ok(compiled.ok && compiled.yaml && compiled.graph);
  const tasks = specTasks(parseAllDocuments(compiled.yaml)[0].toJS() as SpecDoc);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-plain-'));
  // `/minio/…` paths live under the temp folder here (the container runtime bind-mounts them instead).
  const host = (p: string) => p.replace(/^\/minio\//, path.join(work, 'minio') + '/');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work };
  for (const step of compiled.graph.steps) {
    const t = tasks.get(step.name)!;
    assert.deepEqual(t.container.command?.slice(0, 2), ['python3', '-c'], 'the runtime travels in the command');
    const inputUris = Object.fromEntries(Object.entries(t.artifactSources).map(([n, a]) => [n, `minio://run/${a.task}/${a.output}`]));
    const ei = executorInputFor(t.component, {
      parameters: t.parameters({ SCALE: 2.5 }), inputUris, outputRoot: `minio://run/${t.task}`, outputFilesDir: `/minio/run/${t.task}/params`,
      outputFile: `/minio/run/${t.task}/executor_output.json`,
    });
    const argv = resolveArgs([...t.container.command!, ...t.container.args!], ei).map((a) => a.replaceAll('/minio/', host('/minio/')));
    assert.deepEqual(unresolved(argv), []);
    fs.mkdirSync(host(`/minio/run/${t.task}`), { recursive: true });
    // No PYTHONPATH and a bare working directory: the runtime can only come from the command itself.
    execFileSync(kit.PYTHON, argv.slice(1), { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const out of step.outputs) assert.ok(fs.existsSync(path.join(host(`/minio/run/${t.task}`), out, 'cellpipe.json')), `${step.name} wrote ${out}`);
  }
});
