/**
 * Tagged cells → step graph: which cells form which step, which parameters each step reads, and which variables
 * flow from step to step (inferred from the cells' Python, explicit `prev:` edges kept, implied ones added).
 *
 * `buildStepGraph` runs nine phases in order over one shared `Build` state; each phase is a function below that
 * reads what the earlier ones left there and adds its own part. Every finding goes through `diag()`.
 */
import type { Diagnostic, Notebook, NotebookCell, Parameter, Severity, Step, StepGraph } from './model.js';
import { analyzeCell, type CellNames } from './python/names.js';
import { isKnownTag, parseCellTags, STEP_NAME, type CellTags } from './tags.js';
import { readMetrics, readParameters } from './literals.js';
import { readSettings, type NotebookSettings } from './settings.js';
import { sortedEnv } from './env.js';
import { cellLabel, firstLine } from './notebook.js';

/** Which block a code cell ended up in. */
export type CellPlacement =
  | { kind: 'prelude'; role: 'imports' | 'functions' }
  | { kind: 'parameters' }
  | { kind: 'metrics' }
  | { kind: 'step'; step: string }
  | { kind: 'skipped' }
  | { kind: 'unassigned' };

export interface GraphResult {
  graph: StepGraph;
  diagnostics: Diagnostic[];
  /** Placement of every code cell, by cell index. */
  placement: Map<number, CellPlacement>;
  /** Name analysis of every analysed cell, by cell index. */
  names: Map<number, CellNames>;
}

interface StepDraft {
  name: string;
  cells: number[];
  tags: CellTags[];
  order: number;
}

/** What the phases share: each phase fills its part, later ones read it. */
interface Build {
  notebook: Notebook;
  settings: NotebookSettings;
  cellAt: Map<number, NotebookCell>;
  codeCells: NotebookCell[];
  diagnostics: Diagnostic[];
  // 1. placement
  placement: Map<number, CellPlacement>;
  drafts: Map<string, StepDraft>;
  // 2. blocks
  parameters: Parameter[];
  parameterNames: Set<string>;
  metricNames: { name: string; cell: NotebookCell; line: number }[];
  prelude: number[];
  /** A referenced notebook's own imports/functions cells, by unit: they run before its steps instead (Kale 2.3). */
  unitPrelude: Map<string, number[]>;
  // 3. names
  names: Map<number, CellNames>;
  preludeBound: Set<string>;
  preludeParameters: Set<string>;
  // 4. per step
  stepList: StepDraft[];
  order: Map<string, number>;
  bound: Map<string, Set<string>>;
  freeReads: Map<string, string[]>;
  definitions: Map<string, Map<string, string[]>>;
  // 5. edges: parentsOf.get(step) = the steps it depends on; kept as adjacency so data resolution stays linear.
  parentsOf: Map<string, Set<string>>;
  // 6. data
  inputs: Map<string, Map<string, string>>;
  outputs: Map<string, Set<string>>;
  stepParameters: Map<string, Set<string>>;
  // 7. metrics
  stepMetrics: Map<string, Set<string>>;
}

/** Where a finding points, past severity, code and cell. */
interface At {
  step?: string;
  line?: number;
  column?: number;
}

/** Records one finding on a cell (or on the notebook when `cell` is undefined). */
function diag(b: Build, cell: NotebookCell | undefined, severity: Severity, code: string, message: string, hint: string, at: At = {}): void {
  // Keys in the order every finding has always had, so JSON output stays byte-identical.
  const d: Diagnostic = {
    severity, code,
    ...(cell ? { cell: cell.index, ...(cell.id ? { cellId: cell.id } : {}) } : {}),
    ...(at.step !== undefined ? { step: at.step } : {}),
    ...(at.line !== undefined ? { line: at.line } : {}),
    ...(at.column !== undefined ? { column: at.column } : {}),
    message, hint,
  };
  b.diagnostics.push(d);
}

export function buildStepGraph(notebook: Notebook, path?: string, defaultBaseImage?: string): GraphResult {
  const { settings, diagnostics } = readSettings(notebook.metadata, path, defaultBaseImage);
  const b: Build = {
    notebook, settings, diagnostics: [...diagnostics],
    cellAt: new Map(notebook.cells.map((c) => [c.index, c])),
    codeCells: notebook.cells.filter((c) => c.type === 'code'),
    placement: new Map(), drafts: new Map(),
    parameters: [], parameterNames: new Set(), metricNames: [], prelude: [], unitPrelude: new Map(),
    names: new Map(), preludeBound: new Set(), preludeParameters: new Set(),
    stepList: [], order: new Map(), bound: new Map(), freeReads: new Map(), definitions: new Map(),
    parentsOf: new Map(),
    inputs: new Map(), outputs: new Map(), stepParameters: new Map(), stepMetrics: new Map(),
  };
  placeCells(b);
  readBlocks(b);
  analysePrelude(b);
  analyseSteps(b);
  addExplicitEdges(b);
  resolveData(b);
  checkUnitSources(b);
  assignMetrics(b);
  checkTaskNames(b);
  const graph = assemble(b);
  return { graph, diagnostics: b.diagnostics, placement: b.placement, names: b.names };
}

/** 1. Places every code cell in a block, as Kale does: untagged cells join the block above. */
function placeCells(b: Build): void {
  const { placement, drafts, settings } = b;
  const anyStepTag = b.codeCells.some((c) => c.tags.some((t) => /^(step|block):\s*\S/.test(t.trim())));
  let current: CellPlacement = { kind: 'unassigned' };
  for (const cell of b.notebook.cells) {
    if (cell.type !== 'code') {
      const tagged = cell.tags.filter((t) => isKnownTag(t.trim()));
      if (tagged.length) {
        diag(b, cell, 'warning', 'tag-on-markdown', `${cellLabel(cell.index)} is a ${cell.type} cell; its tags (${tagged.join(', ')}) are ignored`,
          'move the tags to the code cell they are meant for');
      }
      continue;
    }
    const { tags, diagnostics: tagDiagnostics } = parseCellTags(cell);
    b.diagnostics.push(...tagDiagnostics);
    switch (tags.role) {
      case 'skip':
        placement.set(cell.index, { kind: 'skipped' });
        continue; // untagged cells after a skipped one join the block before it (Kale)
      case 'imports':
      case 'functions':
        current = { kind: 'prelude', role: tags.role };
        break;
      case 'pipeline-parameters':
        current = { kind: 'parameters' };
        break;
      case 'pipeline-metrics':
        current = { kind: 'metrics' };
        break;
      case 'step': {
        const name = tags.step!;
        if (!drafts.has(name)) drafts.set(name, { name, cells: [], tags: [], order: drafts.size });
        current = { kind: 'step', step: name };
        break;
      }
      case undefined:
        if (current.kind === 'unassigned' && !anyStepTag && cell.source.trim()) {
          // An untagged notebook is one step, like Elyra's one-node pipeline.
          const name = STEP_NAME.test(settings.name) ? settings.name : 'notebook';
          drafts.set(name, { name, cells: [], tags: [], order: 0 });
          current = { kind: 'step', step: name };
          diag(b, cell, 'info', 'single-step', `no cell is tagged as a step: the whole notebook runs as one step '${name}'`,
            'tag cells with step:<name> to split the notebook into steps');
        }
        break;
    }
    placement.set(cell.index, current);
    if (current.kind === 'step') {
      const draft = drafts.get(current.step)!;
      draft.cells.push(cell.index);
      draft.tags.push(tags);
    } else if (current.kind === 'unassigned' && cell.source.trim()) {
      diag(b, cell, 'warning', 'unassigned-cell',
        `${cellLabel(cell.index)} ("${firstLine(cell.source)}") comes before any tagged cell and is not part of the pipeline`,
        'tag it (imports, functions, step:<name>) or skip it explicitly with the skip tag');
    }
  }
}

/** 2. Parameters, metrics and the prelude (imports + functions run before every step). */
function readBlocks(b: Build): void {
  for (const cell of b.codeCells) {
    const place = b.placement.get(cell.index);
    if (place?.kind === 'parameters') {
      const read = readParameters(cell);
      if (read.diagnostics.length && parseCellTags(cell).tags.role !== 'pipeline-parameters') {
        // An untagged cell after the parameters cell joined it (tagging top to bottom gets here on the way): say
        // that, not "'load_wine(as_frame=True)' is not a literal" for each of its lines.
        diag(b, cell, 'error', 'joined-parameters',
          `${cellLabel(cell.index)} ("${firstLine(cell.source)}") has no tag, so it joined the pipeline-parameters cell above it, which holds only NAME = literal lines`,
          'make it a step (Shift+Alt+S in JupyterLab, or the tag step:<name>), or tag it imports, functions or skip');
        continue;
      }
      b.diagnostics.push(...read.diagnostics);
      for (const p of read.parameters) {
        const i = b.parameters.findIndex((q) => q.name === p.name);
        if (i >= 0) b.parameters.splice(i, 1);
        b.parameters.push(p);
      }
    } else if (place?.kind === 'metrics') {
      const read = readMetrics(cell);
      b.diagnostics.push(...read.diagnostics);
      for (const m of read.metrics) if (!b.metricNames.some((n) => n.name === m.name)) b.metricNames.push({ ...m, cell });
    } else if (place?.kind === 'prelude') {
      if (!cell.origin) b.prelude.push(cell.index);
      else b.unitPrelude.set(cell.origin.unit, [...(b.unitPrelude.get(cell.origin.unit) ?? []), cell.index]);
    }
  }
  b.parameterNames = new Set(b.parameters.map((p) => p.name));
}

/** Name analysis of one cell, once; its syntax errors and opaque code are reported the first time. */
function analyse(b: Build, index: number): CellNames {
  let result = b.names.get(index);
  if (!result) {
    const cell = b.cellAt.get(index)!;
    result = analyzeCell(cell.source); // memoised by source: an edit re-parses only the changed cell
    b.names.set(index, result);
    for (const e of result.syntaxErrors) {
      diag(b, cell, 'error', 'syntax-error', `syntax error: ${e.message}`, 'fix the Python syntax (the cell would not run either)',
        { line: e.line, column: e.column });
    }
    for (const o of result.opaque) {
      diag(b, cell, 'warning', 'opaque-code', `cellpipe can't see through ${o.text}`,
        o.kind === 'star-import'
          ? 'import the names you use explicitly, or put this import in the imports cell'
          : 'names set or read this way are not passed between steps; assign them explicitly',
        { line: o.line });
    }
  }
  return result;
}

/** 3. What the prelude binds, and which parameters it reads (every step then needs them). */
function analysePrelude(b: Build): void {
  const all = [...b.prelude, ...[...b.unitPrelude.values()].flat()];
  for (const index of all) analyse(b, index).bound.forEach((name) => b.preludeBound.add(name));
  for (const index of all) {
    const n = analyse(b, index);
    for (const r of [...n.reads, ...n.definitions.flatMap((d) => d.freeNames)]) {
      if (b.parameterNames.has(r)) b.preludeParameters.add(r);
    }
  }
}

/** 4. Per step: what it binds and what it reads before binding. */
function analyseSteps(b: Build): void {
  b.stepList = [...b.drafts.values()].sort((x, y) => x.order - y.order);
  b.order = new Map(b.stepList.map((s, i) => [s.name, i]));
  for (const draft of b.stepList) {
    const binds = new Set<string>();
    const reads: string[] = [];
    const defs = new Map<string, string[]>();
    for (const index of draft.cells) {
      const n = analyse(b, index);
      for (const r of n.reads) if (!binds.has(r) && !reads.includes(r)) reads.push(r);
      n.bound.forEach((name) => binds.add(name));
      for (const d of n.definitions) defs.set(d.name, d.freeNames);
    }
    for (const free of defs.values()) for (const r of free) if (!binds.has(r) && !reads.includes(r)) reads.push(r);
    b.bound.set(draft.name, binds);
    b.freeReads.set(draft.name, reads);
    b.definitions.set(draft.name, defs);
    if (draft.cells.every((i) => !hasCode(b.cellAt.get(i)!.source))) {
      diag(b, b.cellAt.get(draft.cells[0])!, 'error', 'empty-step', `step '${draft.name}' has no code`,
        'add code to the step\'s cell or remove its step: tag', { step: draft.name });
    }
  }
}

/** The graph's edges as `[from, to]`. */
function edgeList(b: Build): [string, string][] {
  return [...b.parentsOf.entries()].flatMap(([to, from]) => [...from].map((f) => [f, to] as [string, string]));
}

/** 5. Explicit edges, checked: unknown steps, self edges, steps that come later, cycles. */
function addExplicitEdges(b: Build): void {
  const { drafts, order, parentsOf } = b;
  for (const s of b.stepList) parentsOf.set(s.name, new Set());
  const explicit: [string, string, NotebookCell][] = [];
  for (const draft of b.stepList) {
    draft.tags.forEach((tags, i) => {
      const cell = b.cellAt.get(draft.cells[i])!;
      for (const prev of tags.prev) explicit.push([prev, draft.name, cell]);
    });
  }
  for (const [from, to, cell] of explicit) {
    if (!drafts.has(from)) {
      const near = [...drafts.keys()].find((s) => s.toLowerCase() === from.toLowerCase() || s.replace(/[-_]/g, '') === from.replace(/[-_]/g, ''));
      diag(b, cell, 'error', 'unknown-step', `step '${to}' depends on 'prev:${from}', but no step is named '${from}'`,
        near ? `did you mean prev:${near}?` : `existing steps: ${[...drafts.keys()].join(', ') || 'none'}`, { step: to });
    } else if (from === to) {
      diag(b, cell, 'error', 'cycle', `step '${to}' depends on itself (prev:${from})`, 'remove the prev: tag', { step: to });
    } else {
      if (order.get(from)! > order.get(to)!) {
        diag(b, cell, 'error', 'prev-later-step', `step '${to}' depends on 'prev:${from}', which comes later in the notebook`,
          `steps run in an order the notebook could run in: move '${from}' above '${to}' or drop the tag`, { step: to });
      }
      parentsOf.get(to)!.add(from);
    }
  }
  const cycle = findCycle([...drafts.keys()], edgeList(b));
  if (cycle) {
    diag(b, b.cellAt.get(drafts.get(cycle[0])!.cells[0])!, 'error', 'cycle', `the steps form a cycle: ${[...cycle, cycle[0]].join(' → ')}`,
      'remove one of the prev: tags in the cycle', { step: cycle[0] });
    // Keep only backward edges so the rest of the analysis runs on a DAG.
    for (const [x, y] of edgeList(b)) if (order.get(x)! >= order.get(y)!) parentsOf.get(y)!.delete(x);
  }
}

/** The nearest ancestor of `step` (breadth first, then the latest in the notebook) that binds `name`. */
function nearestAncestorBinding(b: Build, step: string, name: string): string | undefined {
  let frontier = [step];
  const seen = new Set([step]);
  while (frontier.length) {
    const next: string[] = [];
    for (const s of frontier) for (const p of b.parentsOf.get(s)!) if (!seen.has(p)) { seen.add(p); next.push(p); }
    const binders = next.filter((p) => b.bound.get(p)!.has(name)).sort((x, y) => b.order.get(y)! - b.order.get(x)!);
    if (binders.length) return binders[0];
    frontier = next;
  }
  return undefined;
}

/** 6. Data: each free read comes from the nearest ancestor that binds it; missing edges are implied by data. */
function resolveData(b: Build): void {
  const { stepList, order, bound, inputs, outputs, stepParameters, parameterNames, preludeBound } = b;
  for (const s of stepList) {
    inputs.set(s.name, new Map());
    outputs.set(s.name, new Set());
    stepParameters.set(s.name, new Set(b.preludeParameters));
  }
  const reported = new Set<string>();
  for (const draft of stepList) {
    const step = draft.name;
    const queue = [...b.freeReads.get(step)!];
    for (let i = 0; i < queue.length; i++) {
      const name = queue[i];
      if (inputs.get(step)!.has(name)) continue;
      if (parameterNames.has(name)) {
        stepParameters.get(step)!.add(name);
        continue;
      }
      if (preludeBound.has(name)) continue;
      let producer = nearestAncestorBinding(b, step, name);
      if (!producer) {
        const earlier = stepList.filter((s) => order.get(s.name)! < order.get(step)! && bound.get(s.name)!.has(name));
        producer = earlier.length ? earlier[earlier.length - 1].name : undefined;
        if (producer) {
          b.parentsOf.get(step)!.add(producer);
          const cell = readingCell(b, draft, name);
          diag(b, cell, 'info', 'implied-edge', `step '${step}' reads '${name}' from step '${producer}': added the edge ${producer} → ${step}`,
            `add the tag prev:${producer} to make the dependency explicit`, { step, line: nameLine(cell.source, name) });
        }
      }
      if (!producer) {
        if (bound.get(step)!.has(name) && !isReadBeforeBound(b, draft, name)) continue;
        const rkey = `${step}:${name}`;
        if (reported.has(rkey)) continue;
        reported.add(rkey);
        const later = stepList.filter((s) => order.get(s.name)! > order.get(step)! && bound.get(s.name)!.has(name)).map((s) => s.name);
        const cell = readingCell(b, draft, name);
        diag(b, cell, 'warning', later.length ? 'read-before-defined' : 'undefined-name',
          later.length
            ? `step '${step}' reads '${name}', which only the later step '${later[0]}' defines`
            : `step '${step}' reads '${name}', which no step, parameter, imports or functions cell defines`,
          later.length
            ? `move the code that defines '${name}' above this step`
            : `define '${name}' in an earlier step (or the imports/functions cell); if it comes from a star import or exec, define it explicitly`,
          { step, line: nameLine(cell.source, name) });
        continue;
      }
      inputs.get(step)!.set(name, producer);
      outputs.get(producer)!.add(name);
      // A function defined upstream needs, when called here, the upstream names its body reads.
      const free = b.definitions.get(producer)!.get(name);
      if (free) {
        for (const f of free) {
          if (parameterNames.has(f)) stepParameters.get(step)!.add(f);
          else if (!preludeBound.has(f) && !inputs.get(step)!.has(f)) {
            if (bound.get(producer)!.has(f)) {
              inputs.get(step)!.set(f, producer);
              outputs.get(producer)!.add(f);
            } else if (!queue.includes(f)) queue.push(f);
          }
        }
      }
    }
  }
}

/** The composition unit a step belongs to (src/core/compose.ts): its referenced notebook, or itself. */
function unitOf(b: Build, step: string): string {
  return b.cellAt.get(b.drafts.get(step)!.cells[0])!.origin?.unit ?? step;
}

/**
 * 6b. In a composition, a value one unit reads from another must have one source: Kale 2.3 refuses a name that two
 * other units (referenced notebooks, or steps of the root) define, and so does cellpipe, rather than pick one.
 */
function checkUnitSources(b: Build): void {
  if (!b.notebook.cells.some((c) => c.origin)) return;
  for (const draft of b.stepList) {
    const unit = unitOf(b, draft.name);
    for (const [name, producer] of b.inputs.get(draft.name)!) {
      if (unitOf(b, producer) === unit) continue;
      const sources = [...new Set(b.stepList.filter((s) => b.bound.get(s.name)!.has(name)).map((s) => unitOf(b, s.name)))].filter((u) => u !== unit);
      if (sources.length < 2) continue;
      const cell = readingCell(b, draft, name);
      // Each source by its notebook's path (relative to this notebook), or as a step of this notebook.
      const where = (u: string) => {
        const path = b.notebook.cells.find((c) => c.origin?.unit === u)?.origin?.notebook;
        return path ? `'${u}' (${path})` : `step '${u}' of this notebook`;
      };
      diag(b, cell, 'error', 'ambiguous-name', `step '${draft.name}' reads '${name}', which ${sources.map(where).join(' and ')} both define`,
        `rename '${name}' in all but one of them, so a single notebook or step produces the value (Kale 2.3 refuses this too)`,
        { step: draft.name, line: nameLine(cell.source, name) });
    }
  }
}

/** 7. Metrics: written by the step that binds the value last; parameters by the last step. */
function assignMetrics(b: Build): void {
  const { stepList, bound, parameterNames } = b;
  for (const s of stepList) b.stepMetrics.set(s.name, new Set());
  for (const m of b.metricNames) {
    const binders = stepList.filter((s) => bound.get(s.name)!.has(m.name));
    const writer = binders.length ? binders[binders.length - 1].name : parameterNames.has(m.name) ? stepList[stepList.length - 1]?.name : undefined;
    if (!writer) {
      diag(b, m.cell, 'warning', 'undefined-metric', `metric '${m.name}' is not defined by any step or parameter`,
        `compute '${m.name}' in a step, or remove the line`, { line: m.line });
      continue;
    }
    b.stepMetrics.get(writer)!.add(m.name);
    if (parameterNames.has(m.name) && !binders.length) b.stepParameters.get(writer)!.add(m.name);
  }
}

/** 8. Step names must stay distinct once Kubeflow sanitises them. */
function checkTaskNames(b: Build): void {
  const sanitized = new Map<string, string>();
  for (const s of b.stepList) {
    const k = taskName(s.name);
    const other = sanitized.get(k);
    if (other) {
      diag(b, b.cellAt.get(s.cells[0])!, 'error', 'duplicate-step-name', `steps '${other}' and '${s.name}' both become the Kubeflow task '${k}'`,
        `rename one of them`, { step: s.name });
    } else sanitized.set(k, s.name);
  }
}

/** 9. Assembles the graph, with step options merged from the notebook's defaults and the step's cells. */
function assemble(b: Build): StepGraph {
  const { settings } = b;
  const defaults = parseCellTags({ index: -1, type: 'code', source: '', tags: settings.stepDefaults }).tags;
  const steps: Step[] = b.stepList.map((draft) => {
    const all = [defaults, ...draft.tags];
    const last = <T>(pick: (t: CellTags) => T | undefined): T | undefined => all.map(pick).filter((v) => v !== undefined).pop();
    const input = b.inputs.get(draft.name)!;
    const step: Step = {
      name: draft.name,
      cells: draft.cells,
      inputs: [...input.keys()].sort(),
      outputs: [...b.outputs.get(draft.name)!].sort(),
      inputSources: Object.fromEntries([...input.entries()].sort()),
      parameters: [...b.stepParameters.get(draft.name)!].sort(),
      metrics: [...b.stepMetrics.get(draft.name)!].sort(),
      limits: Object.assign({}, ...all.map((t) => t.limits)),
      cache: last((t) => t.cache) ?? true,
      retries: last((t) => t.retries) ?? 0,
      timeout: last((t) => t.timeout) ?? 0,
      requirements: [...new Set(all.flatMap((t) => t.requirements))],
      secrets: dedupe(all.flatMap((t) => t.secrets), (s) => s.env),
      labels: Object.assign({}, ...all.map((t) => t.labels)),
      annotations: Object.assign({}, ...all.map((t) => t.annotations)),
      env: sortedEnv(Object.assign({}, settings.env, ...all.map((t) => t.env))),
    };
    const image = last((t) => t.image);
    if (image) step.image = image;
    const origin = b.cellAt.get(draft.cells[0])!.origin;
    if (origin) {
      step.unit = { name: origin.unit, notebook: origin.notebook, step: draft.name.slice(origin.unit.length + 1) };
      step.prelude = b.unitPrelude.get(origin.unit) ?? [];
    }
    return step;
  });
  return {
    pipeline: { name: settings.name, description: settings.description, experiment: settings.experiment, baseImage: settings.baseImage, volumes: settings.volumes },
    steps,
    edges: edgeList(b).sort((x, y) => (x[0] === y[0] ? (x[1] < y[1] ? -1 : 1) : x[0] < y[0] ? -1 : 1)),
    parameters: b.parameters,
    metrics: b.metricNames.map((m) => m.name),
    prelude: b.prelude,
  };
}

/** The first cell of the step that reads `name` (directly or in a function body). */
function readingCell(b: Build, draft: StepDraft, name: string): NotebookCell {
  const index = draft.cells.find((i) => {
    const n = b.names.get(i)!;
    return n.reads.includes(name) || n.definitions.some((d) => d.freeNames.includes(name));
  });
  return b.cellAt.get(index ?? draft.cells[0])!;
}

function isReadBeforeBound(b: Build, draft: StepDraft, name: string): boolean {
  for (const i of draft.cells) {
    const n = b.names.get(i)!;
    if (n.reads.includes(name)) return true;
    if (n.bound.includes(name)) return false;
  }
  return false;
}

/**
 * Kubeflow's task name for a step, sanitised as the KFP compiler does: lowercase, runs of other characters and of
 * `-` become one `-`, none at either end (Kale's `_prepare` is task `prepare`).
 */
export function taskName(step: string): string {
  return step.toLowerCase().replace(/[^-0-9a-z]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '') || 'step';
}

function hasCode(source: string): boolean {
  return source.split('\n').some((l) => l.trim() && !l.trim().startsWith('#'));
}

function nameLine(source: string, name: string): number | undefined {
  const pattern = new RegExp(`(^|[^\\w.])${name.replace(/[$]/g, '\\$')}(?!\\w)`);
  const lines = source.split('\n');
  const i = lines.findIndex((l) => pattern.test(l.replace(/#.*$/, '')));
  return i >= 0 ? i + 1 : undefined;
}

function dedupe<T>(items: T[], by: (t: T) => string): T[] {
  const map = new Map<string, T>();
  for (const item of items) map.set(by(item), item);
  return [...map.values()];
}

/** A cycle in a directed graph, as the list of its nodes, or undefined. */
export function findCycle(nodes: string[], edges: [string, string][]): string[] | undefined {
  const next = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const [a, b] of edges) next.get(a)?.push(b);
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    stack.push(n);
    for (const m of next.get(n) ?? []) {
      if (state.get(m) === 1) return stack.slice(stack.indexOf(m));
      if (!state.has(m)) {
        const found = visit(m);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of nodes) {
    if (!state.has(n)) {
      const found = visit(n);
      if (found) return found;
    }
  }
  return undefined;
}
