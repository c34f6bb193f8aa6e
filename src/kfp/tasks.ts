/**
 * The tasks of a compiled PipelineSpec as a driver sees them: for each task its component interface, its
 * container (image, command, args, env) and where its inputs come from, with the parameter values a run gives
 * it (run values, else the pipeline's defaults, else the task's constants). Pure.
 */
import type { JsonValue } from '../core/model.js';
import type { ComponentInterface } from './placeholders.js';

export interface ContainerSpec {
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value: string }[];
}

interface TaskSpecDoc {
  componentRef: { name: string };
  taskInfo?: { name?: string };
  inputs?: {
    parameters?: Record<string, { componentInputParameter?: string; runtimeValue?: { constant: JsonValue } }>;
    artifacts?: Record<string, { taskOutputArtifact?: { producerTask: string; outputArtifactKey: string } }>;
  };
}

export interface SpecDoc {
  components: Record<string, ComponentInterface & { executorLabel?: string }>;
  deploymentSpec: { executors: Record<string, { container?: ContainerSpec }> };
  root: { dag: { tasks: Record<string, TaskSpecDoc> }; inputDefinitions?: { parameters?: Record<string, { defaultValue?: JsonValue }> } };
}

export interface SpecTask {
  /** Task key in `root.dag.tasks` (the sanitised step name). */
  task: string;
  /** Display name: the notebook's step name. */
  name: string;
  component: ComponentInterface;
  container: ContainerSpec;
  /** Input artifact → producing task and its output key. */
  artifactSources: Record<string, { task: string; output: string }>;
  /** The task's parameter values for a run with these pipeline parameter values. */
  parameters(run: Record<string, JsonValue>): Record<string, JsonValue>;
}

/** Every task of the spec's root DAG, by display name (the step name). Throws naming what is missing. */
export function specTasks(spec: SpecDoc): Map<string, SpecTask> {
  const out = new Map<string, SpecTask>();
  const defaults = spec.root.inputDefinitions?.parameters ?? {};
  for (const [task, t] of Object.entries(spec.root.dag.tasks)) {
    const component = spec.components[t.componentRef.name];
    if (!component) throw new Error(`task '${task}': component '${t.componentRef.name}' is not in the spec`);
    const container = component.executorLabel ? spec.deploymentSpec.executors[component.executorLabel]?.container : undefined;
    if (!container) throw new Error(`task '${task}': executor '${component.executorLabel ?? '?'}' has no container`);
    const artifactSources: SpecTask['artifactSources'] = {};
    for (const [name, a] of Object.entries(t.inputs?.artifacts ?? {})) {
      if (!a.taskOutputArtifact) throw new Error(`task '${task}': input artifact '${name}' comes from no task output`);
      artifactSources[name] = { task: a.taskOutputArtifact.producerTask, output: a.taskOutputArtifact.outputArtifactKey };
    }
    const params = t.inputs?.parameters ?? {};
    out.set(t.taskInfo?.name ?? task, {
      task,
      name: t.taskInfo?.name ?? task,
      component,
      container,
      artifactSources,
      parameters(run) {
        const values: Record<string, JsonValue> = {};
        for (const [name, p] of Object.entries(params)) {
          if (p.componentInputParameter !== undefined) {
            const from = p.componentInputParameter;
            const v = from in run ? run[from] : defaults[from]?.defaultValue;
            if (v !== undefined) values[name] = v;
          } else if (p.runtimeValue) values[name] = p.runtimeValue.constant;
        }
        return values;
      },
    });
  }
  return out;
}
