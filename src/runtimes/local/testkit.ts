/**
 * Hand-built pipelines for the local runtime's tests and the benchmark: a step graph and its programs from a
 * short description, without going through a notebook and the compiler.
 */
import type { JsonValue, Parameter, ParameterType, Step, StepGraph, StepProgram } from '../../core/model.js';
import type { RunRequest } from '../types.js';

export interface StepSpec {
  name: string;
  /** Python source of the step's one cell. */
  code: string;
  /** Input variable → producing step. */
  inputs?: Record<string, string>;
  outputs?: string[];
  /** Pipeline parameters the step reads. */
  parameters?: string[];
  metrics?: string[];
  /** Extra `prev:` edges. */
  after?: string[];
  retries?: number;
  timeout?: number;
  cache?: boolean;
}

export function handBuiltRequest(
  steps: StepSpec[],
  options: {
    parameters?: { name: string; type: ParameterType; default: JsonValue }[];
    values?: Record<string, JsonValue>;
    notebookPath?: string;
    workdir?: string;
    cache?: boolean;
    prelude?: string;
  } = {},
): RunRequest {
  const parameters: Parameter[] = (options.parameters ?? []).map((p, i) => ({ ...p, cell: 0, line: i + 1 }));
  const edges = new Set<string>();
  const graphSteps: Step[] = steps.map((s, i) => {
    for (const src of Object.values(s.inputs ?? {})) edges.add(JSON.stringify([src, s.name]));
    for (const src of s.after ?? []) edges.add(JSON.stringify([src, s.name]));
    return {
      name: s.name,
      cells: [i + 1],
      inputs: Object.keys(s.inputs ?? {}).sort(),
      outputs: [...(s.outputs ?? [])].sort(),
      inputSources: { ...(s.inputs ?? {}) },
      parameters: [...(s.parameters ?? [])].sort(),
      metrics: [...(s.metrics ?? [])].sort(),
      limits: {},
      cache: s.cache ?? true,
      retries: s.retries ?? 0,
      timeout: s.timeout ?? 0,
      requirements: [],
      secrets: [],
      labels: {},
      annotations: {},
      env: {},
    };
  });
  const graph: StepGraph = {
    pipeline: { name: 'hand-built', description: '', experiment: '', baseImage: '', volumes: [] },
    steps: graphSteps,
    edges: [...edges].map((e) => JSON.parse(e) as [string, string]).sort(),
    parameters,
    metrics: steps.flatMap((s) => s.metrics ?? []),
    prelude: options.prelude ? [0] : [],
  };
  const programs: Record<string, StepProgram> = {};
  steps.forEach((s, i) => {
    programs[s.name] = {
      format: 'cellpipe.step/v1',
      pipeline: 'hand-built',
      step: s.name,
      notebook: options.notebookPath ?? 'hand-built.ipynb',
      cells: [
        ...(options.prelude ? [{ index: 0, role: 'imports' as const, source: options.prelude }] : []),
        { index: i + 1, role: 'step' as const, source: s.code },
      ],
      parameters: (s.parameters ?? []).map((n) => ({ name: n, type: parameters.find((p) => p.name === n)?.type ?? 'str' })),
      inputs: Object.keys(s.inputs ?? {}).sort(),
      outputs: [...(s.outputs ?? [])].sort(),
      metrics: [...(s.metrics ?? [])].sort(),
    };
  });
  return {
    notebookPath: options.notebookPath ?? 'hand-built.ipynb',
    notebookHash: 'hand-built',
    specHash: 'hand-built',
    graph,
    programs,
    parameters: options.values ?? {},
    cache: options.cache,
    workdir: options.workdir,
  };
}
