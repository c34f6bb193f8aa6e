/**
 * Step graph → Kubeflow Pipelines v2 IR (PipelineSpec YAML), shaped as `kfp` 2.x's compiler emits it:
 * one component and executor per task, typed parameters, variables passed as `system.Artifact`s, metrics as
 * `system.Metrics`, caching and retry options per task, and the Kubernetes platform document for secrets,
 * pod labels/annotations, volumes and timeouts.
 */
import { emitYaml } from './yaml-emit.js';
import type { Diagnostic, ParameterType, Step, StepGraph, StepProgram } from './model.js';
import { taskName } from './graph.js';
import { RUNTIME_MOUNT, inlineRuntimeCommand, mountedRuntimeCommand, runtimeConfigMap } from './inline-runtime.js';
import { quantityValue } from './quantity.js';

export const SCHEMA_VERSION = '2.1.0';
export const METRICS_ARTIFACT = 'mlpipeline_metrics';
/** Every step's `system.HTML` output: what its cells showed, as one page (the Kubeflow UI's Visualization tab). */
export const CELL_OUTPUTS_ARTIFACT = 'cellpipe_cell_outputs';
/** The step runtime, as every executor of a built image starts it (the image holds the runtime). */
export const RUNTIME_COMMAND = ['python3', '-m', 'cellpipe_runtime'];

const IR_TYPES: Record<ParameterType, string> = {
  int: 'NUMBER_INTEGER',
  float: 'NUMBER_DOUBLE',
  str: 'STRING',
  bool: 'BOOLEAN',
  list: 'LIST',
  dict: 'STRUCT',
};

export interface IrOptions {
  /** Image per step (built images by digest); else `step.image`, else the pipeline's base image. */
  images?: Record<string, string>;
  /** Directory holding `<step>.json` programs inside the image (built images, which also hold the runtime); when
   *  unset the program is inlined in the args and the runtime in the command, so any Python >= 3.9 image runs it. */
  programDir?: string;
  /** Working directory inside the image (the notebook's directory recreated). */
  workdir?: string;
  sdkVersion: string;
  /** Steps whose tasks must execute (KFP's cache off for them, whatever their `cache:` tag). */
  execute?: string[];
  /**
   * Without `programDir`: where the step runtime comes from — `inline` in every step's command (a self-contained
   * spec; default), or `configmap`: mounted from the ConfigMap `runtimeConfigMap()` names, which whoever submits
   * must have created in the run's namespace (keeps a spec of many steps under Argo's Workflow size limit).
   */
  runtime?: 'inline' | 'configmap';
}

type Doc = Record<string, unknown>;
const artifactType = (schemaTitle: string) => ({ artifactType: { schemaTitle, schemaVersion: '0.0.1' } });

export function pipelineSpec(graph: StepGraph, programs: Record<string, StepProgram>, options: IrOptions): { docs: Doc[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const components: Doc = {};
  const executors: Doc = {};
  const tasks: Doc = {};
  const platform: Doc = {};
  const types = new Map(graph.parameters.map((p) => [p.name, IR_TYPES[p.type]]));
  const parentTasks = new Map<string, string[]>();
  for (const [from, to] of graph.edges) parentTasks.set(to, [...(parentTasks.get(to) ?? []), taskName(from)]);
  const parents = (s: string) => (parentTasks.get(s) ?? []).sort();

  const mounted = !options.programDir && options.runtime === 'configmap';
  const command = options.programDir ? RUNTIME_COMMAND : mounted ? mountedRuntimeCommand() : inlineRuntimeCommand();
  for (const step of graph.steps) {
    const task = taskName(step.name);
    const inputDefinitions: Doc = {};
    if (step.parameters.length) {
      inputDefinitions.parameters = Object.fromEntries(step.parameters.map((p) => [p, { parameterType: types.get(p) }]));
    }
    if (step.inputs.length) inputDefinitions.artifacts = Object.fromEntries(step.inputs.map((v) => [v, artifactType('system.Artifact')]));
    const outputArtifacts: Doc = Object.fromEntries(step.outputs.map((v) => [v, artifactType('system.Artifact')]));
    if (step.metrics.length) outputArtifacts[METRICS_ARTIFACT] = artifactType('system.Metrics');
    outputArtifacts[CELL_OUTPUTS_ARTIFACT] = artifactType('system.HTML');
    const component: Doc = { executorLabel: `exec-${task}` };
    if (Object.keys(inputDefinitions).length) component.inputDefinitions = inputDefinitions;
    if (Object.keys(outputArtifacts).length) component.outputDefinitions = { artifacts: outputArtifacts };
    components[`comp-${task}`] = component;

    const program = options.programDir ? `${options.programDir.replace(/\/$/, '')}/${step.name}.json` : JSON.stringify(programs[step.name]);
    const args = ['run', '--program', program];
    for (const p of step.parameters) args.push('--param', `${p}={{$.inputs.parameters['${p}']}}`);
    for (const v of step.inputs) args.push('--input', `${v}={{$.inputs.artifacts['${v}'].path}}`);
    for (const v of step.outputs) args.push('--output', `${v}={{$.outputs.artifacts['${v}'].path}}`);
    if (step.metrics.length) {
      // v1 metrics file at the artifact's path, and an ExecutorOutput giving the Metrics artifact its numbers as
      // metadata, which is what KFP v2's launcher records and its UI shows.
      args.push('--metrics', `{{$.outputs.artifacts['${METRICS_ARTIFACT}'].path}}`, '--kfp-executor-output', '{{$.outputs.output_file}}');
    }
    // What the cells showed: a page for the Kubeflow UI, and the outputs for cellpipe's run store through the log.
    args.push('--cell-outputs-html', `{{$.outputs.artifacts['${CELL_OUTPUTS_ARTIFACT}'].path}}`, '--cell-outputs-log', 'stderr');
    if (options.workdir) args.push('--workdir', options.workdir);
    const container: Doc = {
      image: options.images?.[step.name] ?? step.image ?? graph.pipeline.baseImage,
      command,
      args,
      // The step's own variables (`env:` tags, metadata.cellpipe.env); CELLPIPE_STEP last, as no step may set it.
      env: [...Object.entries(step.env ?? {}).map(([name, value]) => ({ name, value })), { name: 'CELLPIPE_STEP', value: step.name }],
    };
    const resources = resourceSpec(step, diagnostics);
    if (resources) container.resources = resources;
    executors[`exec-${task}`] = { container };

    const taskSpec: Doc = {
      cachingOptions: step.cache && !options.execute?.includes(step.name) ? { enableCache: true } : {},
      componentRef: { name: `comp-${task}` },
      taskInfo: { name: step.name },
    };
    const dependentTasks = parents(step.name);
    if (dependentTasks.length) taskSpec.dependentTasks = dependentTasks;
    const taskInputs: Doc = {};
    if (step.parameters.length) taskInputs.parameters = Object.fromEntries(step.parameters.map((p) => [p, { componentInputParameter: p }]));
    if (step.inputs.length) {
      taskInputs.artifacts = Object.fromEntries(step.inputs.map((v) => [v, { taskOutputArtifact: { outputArtifactKey: v, producerTask: taskName(step.inputSources[v]) } }]));
    }
    if (Object.keys(taskInputs).length) taskSpec.inputs = taskInputs;
    if (step.retries > 0) {
      taskSpec.retryPolicy = { maxRetryCount: step.retries, backoffDuration: '0s', backoffFactor: 2, backoffMaxDuration: '3600s' };
    }
    tasks[task] = taskSpec;

    const k8s = kubernetesConfig(step, graph, mounted);
    if (k8s) platform[`exec-${task}`] = k8s;
  }

  const root: Doc = { dag: { tasks } };
  if (graph.parameters.length) {
    root.inputDefinitions = {
      parameters: Object.fromEntries(graph.parameters.map((p) => [p.name, { defaultValue: p.default, isOptional: true, parameterType: IR_TYPES[p.type] }])),
    };
  }
  const pipelineInfo: Doc = { name: graph.pipeline.name };
  if (graph.pipeline.description) pipelineInfo.description = graph.pipeline.description;
  const spec: Doc = {
    components,
    deploymentSpec: { executors },
    pipelineInfo,
    root,
    schemaVersion: SCHEMA_VERSION,
    sdkVersion: options.sdkVersion,
  };
  const docs = [spec];
  if (Object.keys(platform).length) docs.push({ platforms: { kubernetes: { deploymentSpec: { executors: platform } } } });
  return { docs, diagnostics };
}

/** YAML as kfp writes it: sorted keys, YAML 1.1-safe quoting, no folding, documents split by a `---` line. */
export function specYaml(docs: Doc[], graph: StepGraph): string {
  const header = [
    '# PIPELINE DEFINITION',
    `# Name: ${graph.pipeline.name}`,
    ...(graph.pipeline.description ? [`# Description: ${graph.pipeline.description.replace(/\s*\n\s*/g, ' ')}`] : []),
    ...(graph.parameters.length ? ['# Inputs:', ...graph.parameters.map((p) => `#    ${p.name}: ${p.type} [Default: ${JSON.stringify(p.default)}]`)] : []),
    '# Generated by cellpipe',
  ].join('\n');
  const body = docs.map((d) => emitYaml(d as Parameters<typeof emitYaml>[0])).join('---\n');
  return `${header}\n${body}`;
}

function resourceSpec(step: Step, diagnostics: Diagnostic[]): Doc | undefined {
  const out: Doc = {};
  for (const [resource, value] of Object.entries(step.limits).sort()) {
    if (resource === 'cpu') {
      out.resourceCpuLimit = value;
      out.cpuLimit = cpuCores(value);
    } else if (resource === 'memory') {
      out.resourceMemoryLimit = value;
      out.memoryLimit = memoryGigabytes(value);
    } else if (resource.includes('/') || resource.includes('gpu')) {
      if (out.accelerator) {
        diagnostics.push({ severity: 'warning', code: 'resource', step: step.name, message: `step '${step.name}': only one accelerator type per step; limit:${resource} is ignored` });
        continue;
      }
      out.accelerator = { count: value, resourceCount: value, resourceType: resource, type: resource };
    } else {
      diagnostics.push({
        severity: 'warning', code: 'resource', step: step.name,
        message: `step '${step.name}': Kubeflow has no limit for '${resource}'; limit:${resource}:${value} is ignored`,
        hint: 'use cpu, memory or an accelerator such as nvidia.com/gpu',
      });
    }
  }
  return Object.keys(out).length ? out : undefined;
}

function kubernetesConfig(step: Step, graph: StepGraph, mountRuntime: boolean): Doc | undefined {
  const k: Doc = {};
  if (mountRuntime) {
    const name = runtimeConfigMap().name;
    k.configMapAsVolume = [{ configMapName: name, configMapNameParameter: { runtimeValue: { constant: name } }, mountPath: RUNTIME_MOUNT, optional: false }];
  }
  if (step.secrets.length) {
    const bySecret = new Map<string, { envVar: string; secretKey: string }[]>();
    for (const s of step.secrets) bySecret.set(s.secret, [...(bySecret.get(s.secret) ?? []), { envVar: s.env, secretKey: s.key }]);
    k.secretAsEnv = [...bySecret.entries()].sort().map(([secretName, keyToEnv]) => ({
      keyToEnv, secretName, secretNameParameter: { runtimeValue: { constant: secretName } },
    }));
  }
  if (Object.keys(step.labels).length || Object.keys(step.annotations).length) {
    const meta: Doc = {};
    if (Object.keys(step.labels).length) meta.labels = step.labels;
    if (Object.keys(step.annotations).length) meta.annotations = step.annotations;
    k.podMetadata = meta;
  }
  if (graph.pipeline.volumes.length) {
    k.pvcMount = graph.pipeline.volumes.map((v) => ({ constant: v.name, mountPath: v.mountPoint, pvcNameParameter: { runtimeValue: { constant: v.name } } }));
  }
  if (step.timeout > 0) k.activeDeadlineSeconds = String(step.timeout);
  return Object.keys(k).length ? k : undefined;
}

/** `500m` → 0.5, `2` → 2 (the deprecated double field older backends read). */
export function cpuCores(quantity: string): number {
  return quantityValue(quantity) ?? 0;
}

/** A Kubernetes memory quantity in decimal gigabytes (the deprecated `memoryLimit` double). */
export function memoryGigabytes(quantity: string): number {
  return Number(((quantityValue(quantity) ?? 0) / 1e9).toPrecision(12));
}

