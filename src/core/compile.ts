/**
 * The whole core in one call: notebook text → diagnostics, step graph, step programs, pipeline spec.
 */
import type { Diagnostic, Notebook, StepGraph, StepProgram } from './model.js';
import { parseNotebook, notebookFromJson } from './notebook.js';
import { buildStepGraph, type CellPlacement } from './graph.js';
import { stepPrograms } from './programs.js';
import { pipelineSpec, specYaml } from './ir.js';
import { sha256Hex } from './hash.js';
import { notebookContext, readFilesSetting, resolveFileReads } from './files.js';
import { composeNotebook, composes, type NotebookReader } from './compose.js';
import { cellLabel } from './notebook.js';

export const CELLPIPE_VERSION = '0.1.0';

export interface CompileOptions {
  /** Notebook path as the user knows it (used in messages, programs and the run record). */
  path?: string;
  /** Built images per step (`repo@sha256:…`), from the images stage; they replace the base image. */
  images?: Record<string, string>;
  /** Where the step programs live inside the images (e.g. `/cellpipe/steps`); when unset, programs are inlined. */
  programDir?: string;
  /** Working directory inside the images. */
  workdir?: string;
  /** Base image of steps when the notebook names none (a user setting); default `python:3.11-slim`. */
  defaultBaseImage?: string;
  /** Skip emitting YAML (the JupyterLab page only needs the graph and diagnostics while the user types). */
  graphOnly?: boolean;
  /** Steps that must execute even where KFP has their outputs cached (partial runs on Kubeflow): no caching for them. */
  execute?: string[];
  /** Without images: the step runtime inlined in each step (default) or mounted from its ConfigMap (IrOptions). */
  runtime?: 'inline' | 'configmap';
  /**
   * Reads the notebooks that `notebook:` cells reference (Kale 2.3's composition), by path relative to this notebook's
   * folder. The core does no I/O: the CLI and backend read files, the page reads through Jupyter's contents API.
   */
  readNotebook?: NotebookReader;
}

export interface CompileResult {
  /** False when any diagnostic is an error; `yaml` is then absent. */
  ok: boolean;
  notebook?: Notebook;
  graph?: StepGraph;
  /** Placement of each code cell (step, prelude, parameters, metrics, skipped). */
  placement?: Map<number, CellPlacement>;
  diagnostics: Diagnostic[];
  programs: Record<string, StepProgram>;
  /** KFP v2 IR PipelineSpec (plus the Kubernetes platform document when needed), deterministic. */
  yaml?: string;
  /** sha256 hex of `yaml`. */
  specHash?: string;
}

/** Compiles notebook JSON text (or an already-parsed notebook object). Never throws on bad notebooks. */
export function compileNotebook(input: string | object, options: CompileOptions = {}): CompileResult {
  const parsed = typeof input === 'string' ? parseNotebook(input) : notebookFromJson(input);
  if (!parsed.notebook) return { ok: false, diagnostics: parsed.diagnostics, programs: {} };
  const composition = composes(parsed.notebook) ? composeNotebook(parsed.notebook, options.path, options.readNotebook) : undefined;
  const notebook = composition?.notebook ?? parsed.notebook;
  const built = buildStepGraph(notebook, options.path, options.defaultBaseImage);
  const diagnostics = [...parsed.diagnostics, ...(composition?.diagnostics ?? []), ...built.diagnostics];
  const graph = built.graph;
  diagnostics.push(...stepFiles(notebook, built));
  if (!graph.steps.length && !diagnostics.some((d) => d.severity === 'error')) {
    diagnostics.push({
      severity: 'error', code: 'no-steps', message: 'the notebook has no code to run as a pipeline step',
      hint: 'add code cells and tag them step:<name>',
    });
  }
  if (composition) placeOnReferences(notebook, parsed.notebook, diagnostics, composition.units);
  const programs = stepPrograms(notebook, graph, built.placement, options.path ?? '');
  const result: CompileResult = { ok: false, notebook, graph, placement: built.placement, diagnostics, programs };
  if (diagnostics.some((d) => d.severity === 'error')) return sortDiagnostics(result);
  result.ok = true;
  if (options.graphOnly) return sortDiagnostics(result);
  return compileSpec(result, options);
}

/**
 * The last stage of `compileNotebook`: the pipeline spec of a notebook that compiled (`ok`, with its graph), e.g. again
 * with the images the build stage made — without reading or analysing the notebook a second time.
 */
export function compileSpec(compiled: CompileResult, options: CompileOptions = {}): CompileResult {
  const graph = compiled.graph;
  if (!compiled.ok || !graph) return compiled;
  const result: CompileResult = { ...compiled, diagnostics: [...compiled.diagnostics] };
  const spec = pipelineSpec(graph, compiled.programs, {
    images: options.images, programDir: options.programDir, workdir: options.workdir, sdkVersion: `cellpipe-${CELLPIPE_VERSION}`,
    execute: options.execute, runtime: options.runtime,
  });
  result.diagnostics.push(...spec.diagnostics);
  result.yaml = specYaml(spec.docs, graph);
  result.specHash = sha256Hex(result.yaml);
  return sortDiagnostics(result);
}

/**
 * Sets each step's `files`: what its code (prelude included) reads, from the whole notebook's imports, parameters and
 * constants; returns the notes and warnings about reads that cannot travel.
 */
function stepFiles(notebook: Notebook, built: ReturnType<typeof buildStepGraph>): Diagnostic[] {
  const { graph, names, placement } = built;
  const { setting, diagnostics } = readFilesSetting(notebook.metadata);
  const running = notebook.cells.filter((c) => c.type === 'code' && ['prelude', 'step'].includes(placement.get(c.index)?.kind ?? ''));
  const ctx = notebookContext(running, names, graph.parameters);
  const stepCells = new Map(graph.steps.map((s) => [s.name, [...graph.prelude, ...s.cells]]));
  const found = resolveFileReads(notebook, stepCells, ctx, setting, graph.pipeline.volumes);
  for (const step of graph.steps) step.files = found.files.get(step.name) ?? [];
  return [...diagnostics, ...found.diagnostics];
}

/**
 * A finding on a referenced notebook's cell is shown on the `notebook:` cell that brings it in, and names the
 * notebook and its own cell: the user fixes it there.
 */
function placeOnReferences(notebook: Notebook, root: Notebook, diagnostics: Diagnostic[], units: { name: string; notebook: string; cell: number }[]): void {
  const cellAt = new Map(notebook.cells.map((c) => [c.index, c]));
  for (const d of diagnostics) {
    const origin = d.cell === undefined ? undefined : cellAt.get(d.cell)?.origin;
    if (!origin) continue;
    const unit = units.find((u) => u.name === origin.unit)!;
    d.message = `${origin.notebook}, ${cellLabel(origin.index)}: ${d.message.split(cellLabel(d.cell!)).join(cellLabel(origin.index))}`;
    d.cell = unit.cell;
    delete d.cellId;
    const ref = root.cells.find((c) => c.index === unit.cell);
    if (ref?.id) d.cellId = ref.id;
  }
}

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 };

function sortDiagnostics(result: CompileResult): CompileResult {
  result.diagnostics.sort((a, b) => (a.cell ?? -1) - (b.cell ?? -1) || (a.line ?? 0) - (b.line ?? 0) || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  return result;
}
