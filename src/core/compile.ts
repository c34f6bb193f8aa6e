import type { Diagnostic, Notebook, StepGraph, StepProgram } from './model.js';

export interface CompileOptions {
  /** Notebook path as the user knows it (used in messages, programs and the run record). */
  path?: string;
  /** Image for steps without `image:`; defaults to the notebook's base image setting, else `python:3.11-slim`. */
  baseImage?: string;
  /** Built images per step (`repo@sha256:…`), from the images stage; they replace the base image. */
  images?: Record<string, string>;
  /** Where the step programs live inside the images; when unset, each program is inlined in the spec. */
  programDir?: string;
}

export interface CompileResult {
  /** False when any diagnostic is an error; `yaml` is then absent. */
  ok: boolean;
  notebook?: Notebook;
  graph?: StepGraph;
  diagnostics: Diagnostic[];
  programs: Record<string, StepProgram>;
  /** KFP v2 IR PipelineSpec (plus the Kubernetes platform document when needed), deterministic. */
  yaml?: string;
  /** sha256 hex of `yaml`. */
  specHash?: string;
}

/** Placeholder until the compiler lands: reports that nothing is compiled. */
export function compileNotebook(_text: string, _options: CompileOptions = {}): CompileResult {
  return { ok: false, diagnostics: [], programs: {} };
}
