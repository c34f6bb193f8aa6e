/**
 * One interface for every place a pipeline runs (this machine, Kubeflow): what a runtime takes to start a run and
 * what it answers. The records it produces are the run vocabulary in `runs/types.ts`.
 */
import type { JsonValue, Notebook, StepGraph, StepProgram } from '../core/model.js';
import type { LogLine, PartialReuse, RunRecord } from '../runs/types.js';

/** What a runtime needs to start a run: the analysed graph, each step's program and the parameter values. */
export interface RunRequest {
  notebookPath: string;
  notebookHash: string;
  specHash: string;
  graph: StepGraph;
  programs: Record<string, StepProgram>;
  parameters: Record<string, JsonValue>;
  /** Reuse outputs of steps whose code, inputs and parameters are unchanged (default true). */
  cache?: boolean;
  /** Directory the steps run in (local runs); default: the notebook's directory, `notebookPath` resolved
   *  against the runner's working directory. */
  workdir?: string;
  /** Local runs: steps running at once for this run (default: the runtime's own limit). */
  concurrency?: number;
  /** Partial runs: the steps that are not run but take an earlier run's outputs (planned by `runs/partial.ts`). */
  reuse?: PartialReuse;
  /** The parsed notebook the request was compiled from (Kubeflow runs: its metadata names the declared files). */
  notebook?: Notebook;
}

export interface LogOptions {
  /** Keep the stream open and yield new lines until the step ends. */
  follow?: boolean;
  /** Skip this many stored lines first (for reconnects). */
  fromLine?: number;
}

/** Every runtime implements this; local runs and Kubeflow runs look the same from outside. */
export interface Runtime {
  submit(request: RunRequest): Promise<string>;
  status(runId: string): Promise<RunRecord>;
  logs(runId: string, step: string, options?: LogOptions): AsyncIterable<LogLine>;
  cancel(runId: string): Promise<void>;
}
