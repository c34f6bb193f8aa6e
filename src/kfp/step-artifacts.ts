/**
 * Where a step's variables of one Kubeflow run are in KFP's object store, as plain data. A cellpipe step writes each
 * variable it passes on as an output artifact named after the variable (core/ir.ts); KFP 2.17's driver gives every
 * execution of a task its own root, `<run root>/<task>/<uuid>`, and an output artifact the URI `<task root>/<key>`;
 * the launcher uploads the artifact's local directory file by file under that key (`backend/src/v2/component/
 * launcher_v2.go` `uploadOutputArtifacts`, `objectstore.UploadBlob`) — and only for an execution that succeeded. A
 * step's inputs are its upstream tasks' outputs (the spec's `taskOutputArtifact {producerTask, outputArtifactKey}`);
 * its parameters are the run's. No I/O here: runtimes/kubeflow/step-artifacts.ts fetches.
 */
import type { JsonValue } from '../core/model.js';
import type { StoredObject } from './executor-logs.js';
import { specTasks, type SpecDoc } from './tasks.js';

/** Output artifacts every step has that are not variables (core/ir.ts: metrics, the cells' page; KFP's log). */
const NOT_VARIABLES = new Set(['mlpipeline_metrics', 'cellpipe_cell_outputs', 'executor-logs']);

/** One variable to fetch: the task whose execution wrote it and the output key it wrote it under. */
export interface ArtifactSource {
  /** The variable's name (the input's name for inputs: the same as the key, as cellpipe compiles). */
  name: string;
  /** The producing task's key in the root DAG and its step name (its display name). */
  task: string;
  step: string;
  key: string;
}

/** What loading a step's inputs or outputs needs from a run: the artifacts, and (inputs) the parameter values. */
export interface StepArtifactPlan {
  step: string;
  task: string;
  what: 'inputs' | 'outputs';
  artifacts: ArtifactSource[];
  /** The parameters the step reads, with this run's values (inputs only; empty for outputs). */
  parameters: Record<string, JsonValue>;
}

/** The spec's document from what KFP keeps of a pipeline version (`{pipeline_spec, platform_spec}` or the spec). */
export function pipelineSpecOf(stored: Record<string, unknown> | undefined): SpecDoc {
  const spec = (stored && 'pipeline_spec' in stored ? stored.pipeline_spec : stored) as SpecDoc | undefined;
  if (!spec?.root?.dag?.tasks || !spec.components) throw new Error('the pipeline version holds no pipeline spec with a root DAG');
  return spec;
}

/**
 * Which artifacts hold step `step`'s inputs (the upstream tasks' outputs it reads) or outputs (its own variables), and
 * the parameter values it read, for a run with parameter values `runParameters`. Throws naming the steps there are
 * when the spec has no such step.
 */
export function stepArtifactPlan(spec: SpecDoc, step: string, what: 'inputs' | 'outputs', runParameters: Record<string, JsonValue>): StepArtifactPlan {
  const tasks = specTasks(spec);
  const t = tasks.get(step);
  if (!t) throw new Error(`the run's pipeline has no step '${step}'; its steps are: ${[...tasks.keys()].join(', ')}`);
  const stepOfTask = new Map([...tasks.values()].map((x) => [x.task, x.name]));
  if (what === 'outputs') {
    const keys = Object.keys(t.component.outputDefinitions?.artifacts ?? {}).filter((k) => !NOT_VARIABLES.has(k)).sort();
    return { step, task: t.task, what, artifacts: keys.map((key) => ({ name: key, task: t.task, step, key })), parameters: {} };
  }
  const artifacts = Object.entries(t.artifactSources)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, src]) => ({ name, task: src.task, step: stepOfTask.get(src.task) ?? src.task, key: src.output }));
  return { step, task: t.task, what, artifacts, parameters: t.parameters(runParameters) };
}

/** One execution of a task that holds an artifact: its uuid folder, and the artifact's files under it. */
export interface ArtifactObjects {
  /** The execution's root, `<task prefix><uuid>/`. */
  executionPrefix: string;
  /** The artifact's key prefix, `<execution prefix><key>/`. */
  prefix: string;
  /** Its files, each with its path relative to `prefix` (checked: no empty, `.` or `..` segment). */
  files: (StoredObject & { path: string })[];
  /** When its newest file was written (ms since the epoch; 0 when the store gave no times). */
  time: number;
}

/** The step runtime writes this file last into an artifact's directory: without it the artifact is incomplete. */
const ARTIFACT_META = 'cellpipe.json';

/**
 * The execution under `taskPrefix` (a listing of it: `<task prefix><uuid>/…`) whose upload of artifact `key` is
 * complete: several when KFP retried the run (each execution draws a uuid; only a succeeded one uploads its outputs),
 * the newest wins. Undefined when no execution of the task uploaded it: it never succeeded in this KFP run, or KFP
 * took it from its cache (an earlier run's execution, under that run's root).
 */
export function artifactObjects(objects: readonly StoredObject[], taskPrefix: string, key: string): ArtifactObjects | undefined {
  const byExecution = new Map<string, ArtifactObjects>();
  for (const o of objects) {
    if (!o.key.startsWith(taskPrefix)) continue;
    const rest = o.key.slice(taskPrefix.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || rest.slice(slash + 1, slash + 1 + key.length + 1) !== `${key}/`) continue;
    const executionPrefix = taskPrefix + rest.slice(0, slash + 1);
    const prefix = `${executionPrefix}${key}/`;
    const path = o.key.slice(prefix.length);
    if (path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) continue;
    const found = byExecution.get(executionPrefix) ?? { executionPrefix, prefix, files: [], time: 0 };
    const t = o.lastModified ? Date.parse(o.lastModified) : NaN;
    if (!Number.isNaN(t) && t > found.time) found.time = t;
    found.files.push({ ...o, path });
    byExecution.set(executionPrefix, found);
  }
  const complete = [...byExecution.values()].filter((e) => e.files.some((f) => f.path === ARTIFACT_META));
  complete.sort((a, b) => b.time - a.time || (a.executionPrefix < b.executionPrefix ? -1 : 1));
  return complete[0];
}
