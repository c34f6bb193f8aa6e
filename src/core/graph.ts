/**
 * Tagged cells → step graph: which cells form which step, which parameters each step reads, and which variables
 * flow from step to step (inferred from the cells' Python, explicit `prev:` edges kept, implied ones added).
 */
import type { Diagnostic, Notebook, NotebookCell, Parameter, Step, StepGraph } from './model.js';
import { analyzeCell, type CellNames } from './python/names.js';
import { parseCellTags, STEP_NAME, type CellTags } from './tags.js';
import { readMetrics, readParameters } from './literals.js';
import { readSettings } from './settings.js';
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

export function buildStepGraph(notebook: Notebook, path?: string, defaultBaseImage?: string): GraphResult {
  const diagnostics: Diagnostic[] = [];
  const { settings, diagnostics: settingDiagnostics } = readSettings(notebook.metadata, path, defaultBaseImage);
  diagnostics.push(...settingDiagnostics);
  const cellAt = new Map(notebook.cells.map((c) => [c.index, c]));
  const where = (cell: NotebookCell) => ({ cell: cell.index, ...(cell.id ? { cellId: cell.id } : {}) });

  // 1. Place every code cell in a block, as Kale does: untagged cells join the block above.
  const placement = new Map<number, CellPlacement>();
  const drafts = new Map<string, StepDraft>();
  const cellTags = new Map<number, CellTags>();
  const codeCells = notebook.cells.filter((c) => c.type === 'code');
  const anyStepTag = codeCells.some((c) => c.tags.some((t) => /^(step|block):\s*\S/.test(t.trim())));
  let current: CellPlacement = { kind: 'unassigned' };
  for (const cell of notebook.cells) {
    if (cell.type !== 'code') {
      const tagged = cell.tags.filter((t) => /^(imports|functions|pipeline-parameters|pipeline-metrics|skip|(step|block|prev|limit|image|cache|secret|annotation|label|requirements|timeout|retries):.*)$/.test(t.trim()));
      if (tagged.length) {
        diagnostics.push({
          severity: 'warning', code: 'tag-on-markdown', ...where(cell),
          message: `${cellLabel(cell.index)} is a ${cell.type} cell; its tags (${tagged.join(', ')}) are ignored`,
          hint: 'move the tags to the code cell they are meant for',
        });
      }
      continue;
    }
    const { tags, diagnostics: tagDiagnostics } = parseCellTags(cell);
    diagnostics.push(...tagDiagnostics);
    cellTags.set(cell.index, tags);
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
        let draft = drafts.get(name);
        if (!draft) drafts.set(name, (draft = { name, cells: [], tags: [], order: drafts.size }));
        current = { kind: 'step', step: name };
        break;
      }
      case undefined:
        if (current.kind === 'unassigned' && !anyStepTag && cell.source.trim()) {
          // An untagged notebook is one step, like Elyra's one-node pipeline.
          const name = STEP_NAME.test(settings.name) ? settings.name : 'notebook';
          drafts.set(name, { name, cells: [], tags: [], order: 0 });
          current = { kind: 'step', step: name };
          diagnostics.push({
            severity: 'info', code: 'single-step', ...where(cell),
            message: `no cell is tagged as a step: the whole notebook runs as one step '${name}'`,
            hint: 'tag cells with step:<name> to split the notebook into steps',
          });
        }
        break;
    }
    placement.set(cell.index, current);
    if (current.kind === 'step') {
      const draft = drafts.get(current.step)!;
      draft.cells.push(cell.index);
      draft.tags.push(tags);
    } else if (current.kind === 'unassigned' && cell.source.trim()) {
      diagnostics.push({
        severity: 'warning', code: 'unassigned-cell', ...where(cell),
        message: `${cellLabel(cell.index)} ("${firstLine(cell.source)}") comes before any tagged cell and is not part of the pipeline`,
        hint: 'tag it (imports, functions, step:<name>) or skip it explicitly with the skip tag',
      });
    }
  }

  // 2. Parameters, metrics and the prelude (imports + functions run before every step).
  const parameters: Parameter[] = [];
  const metricNames: { name: string; cell: NotebookCell; line: number }[] = [];
  const prelude: number[] = [];
  for (const cell of codeCells) {
    const place = placement.get(cell.index);
    if (place?.kind === 'parameters') {
      const read = readParameters(cell);
      diagnostics.push(...read.diagnostics);
      for (const p of read.parameters) {
        const i = parameters.findIndex((q) => q.name === p.name);
        if (i >= 0) parameters.splice(i, 1);
        parameters.push(p);
      }
    } else if (place?.kind === 'metrics') {
      const read = readMetrics(cell);
      diagnostics.push(...read.diagnostics);
      for (const m of read.metrics) if (!metricNames.some((n) => n.name === m.name)) metricNames.push({ ...m, cell });
    } else if (place?.kind === 'prelude') {
      prelude.push(cell.index);
    }
  }
  const parameterNames = new Set(parameters.map((p) => p.name));

  // 3. Name analysis of every cell that runs.
  const names = new Map<number, CellNames>();
  const analyse = (index: number) => {
    let result = names.get(index);
    if (!result) {
      const cell = cellAt.get(index)!;
      result = analyzeCell(cell.source); // memoised by source: an edit re-parses only the changed cell
      names.set(index, result);
      for (const e of result.syntaxErrors) {
        diagnostics.push({
          severity: 'error', code: 'syntax-error', ...where(cell), line: e.line, column: e.column,
          message: `syntax error: ${e.message}`, hint: 'fix the Python syntax (the cell would not run either)',
        });
      }
      for (const o of result.opaque) {
        diagnostics.push({
          severity: 'warning', code: 'opaque-code', ...where(cell), line: o.line,
          message: `cellpipe can't see through ${o.text}`,
          hint: o.kind === 'star-import'
            ? 'import the names you use explicitly, or put this import in the imports cell'
            : 'names set or read this way are not passed between steps; assign them explicitly',
        });
      }
    }
    return result;
  };
  const preludeBound = new Set<string>();
  const preludeParameters = new Set<string>();
  for (const index of prelude) {
    const n = analyse(index);
    n.bound.forEach((b) => preludeBound.add(b));
  }
  for (const index of prelude) {
    const n = analyse(index);
    for (const r of [...n.reads, ...n.definitions.flatMap((d) => d.freeNames)]) {
      if (parameterNames.has(r)) preludeParameters.add(r);
    }
  }

  // 4. Per step: what it binds and what it reads before binding.
  const stepList = [...drafts.values()].sort((a, b) => a.order - b.order);
  const order = new Map(stepList.map((s, i) => [s.name, i]));
  const bound = new Map<string, Set<string>>();
  const freeReads = new Map<string, string[]>();
  const definitions = new Map<string, Map<string, string[]>>();
  for (const draft of stepList) {
    const binds = new Set<string>();
    const reads: string[] = [];
    const defs = new Map<string, string[]>();
    for (const index of draft.cells) {
      const n = analyse(index);
      for (const r of n.reads) if (!binds.has(r) && !reads.includes(r)) reads.push(r);
      n.bound.forEach((b) => binds.add(b));
      for (const d of n.definitions) defs.set(d.name, d.freeNames);
    }
    for (const free of defs.values()) for (const r of free) if (!binds.has(r) && !reads.includes(r)) reads.push(r);
    bound.set(draft.name, binds);
    freeReads.set(draft.name, reads);
    definitions.set(draft.name, defs);
    if (draft.cells.every((i) => !hasCode(cellAt.get(i)!.source))) {
      const cell = cellAt.get(draft.cells[0])!;
      diagnostics.push({
        severity: 'error', code: 'empty-step', ...where(cell), step: draft.name,
        message: `step '${draft.name}' has no code`, hint: 'add code to the step\'s cell or remove its step: tag',
      });
    }
  }

  // 5. Explicit edges, checked: unknown steps, self edges, steps that come later, cycles.
  // parentsOf.get(step) = the steps it depends on; kept as adjacency so data resolution stays linear.
  const parentsOf = new Map<string, Set<string>>(stepList.map((s) => [s.name, new Set()]));
  const edgeList = () => [...parentsOf.entries()].flatMap(([to, from]) => [...from].map((f) => [f, to] as [string, string]));
  const explicit: [string, string, NotebookCell][] = [];
  for (const draft of stepList) {
    draft.tags.forEach((tags, i) => {
      const cell = cellAt.get(draft.cells[i])!;
      for (const prev of tags.prev) explicit.push([prev, draft.name, cell]);
    });
  }
  for (const [from, to, cell] of explicit) {
    if (!drafts.has(from)) {
      const near = [...drafts.keys()].find((s) => s.toLowerCase() === from.toLowerCase() || s.replace(/[-_]/g, '') === from.replace(/[-_]/g, ''));
      diagnostics.push({
        severity: 'error', code: 'unknown-step', ...where(cell), step: to,
        message: `step '${to}' depends on 'prev:${from}', but no step is named '${from}'`,
        hint: near ? `did you mean prev:${near}?` : `existing steps: ${[...drafts.keys()].join(', ') || 'none'}`,
      });
    } else if (from === to) {
      diagnostics.push({ severity: 'error', code: 'cycle', ...where(cell), step: to, message: `step '${to}' depends on itself (prev:${from})`, hint: 'remove the prev: tag' });
    } else {
      if (order.get(from)! > order.get(to)!) {
        diagnostics.push({
          severity: 'error', code: 'prev-later-step', ...where(cell), step: to,
          message: `step '${to}' depends on 'prev:${from}', which comes later in the notebook`,
          hint: `steps run in an order the notebook could run in: move '${from}' above '${to}' or drop the tag`,
        });
      }
      parentsOf.get(to)!.add(from);
    }
  }
  const cycle = findCycle([...drafts.keys()], edgeList());
  if (cycle) {
    const cell = cellAt.get(drafts.get(cycle[0])!.cells[0])!;
    diagnostics.push({
      severity: 'error', code: 'cycle', ...where(cell), step: cycle[0],
      message: `the steps form a cycle: ${[...cycle, cycle[0]].join(' → ')}`, hint: 'remove one of the prev: tags in the cycle',
    });
    // Keep only backward edges so the rest of the analysis runs on a DAG.
    for (const [a, b] of edgeList()) if (order.get(a)! >= order.get(b)!) parentsOf.get(b)!.delete(a);
  }

  // 6. Data: each free read comes from the nearest ancestor that binds it; missing edges are implied by data.
  const inputs = new Map<string, Map<string, string>>(stepList.map((s) => [s.name, new Map()]));
  const outputs = new Map<string, Set<string>>(stepList.map((s) => [s.name, new Set()]));
  const stepParameters = new Map<string, Set<string>>(stepList.map((s) => [s.name, new Set(preludeParameters)]));
  const reported = new Set<string>();
  const nearestAncestorBinding = (step: string, name: string): string | undefined => {
    let frontier = [step];
    const seen = new Set([step]);
    while (frontier.length) {
      const next: string[] = [];
      for (const s of frontier) for (const p of parentsOf.get(s)!) if (!seen.has(p)) { seen.add(p); next.push(p); }
      const binders = next.filter((p) => bound.get(p)!.has(name)).sort((a, b) => order.get(b)! - order.get(a)!);
      if (binders.length) return binders[0];
      frontier = next;
    }
    return undefined;
  };
  for (const draft of stepList) {
    const step = draft.name;
    const queue = [...freeReads.get(step)!];
    for (let i = 0; i < queue.length; i++) {
      const name = queue[i];
      if (inputs.get(step)!.has(name)) continue;
      if (parameterNames.has(name)) {
        stepParameters.get(step)!.add(name);
        continue;
      }
      if (preludeBound.has(name)) continue;
      let producer = nearestAncestorBinding(step, name);
      if (!producer) {
        const earlier = stepList.filter((s) => order.get(s.name)! < order.get(step)! && bound.get(s.name)!.has(name));
        producer = earlier.length ? earlier[earlier.length - 1].name : undefined;
        if (producer) {
          parentsOf.get(step)!.add(producer);
          const cell = readingCell(draft, name);
          diagnostics.push({
            severity: 'info', code: 'implied-edge', ...where(cell), step, line: nameLine(cell.source, name),
            message: `step '${step}' reads '${name}' from step '${producer}': added the edge ${producer} → ${step}`,
            hint: `add the tag prev:${producer} to make the dependency explicit`,
          });
        }
      }
      if (!producer) {
        if (bound.get(step)!.has(name) && !isReadBeforeBound(draft, name)) continue;
        const rkey = `${step}:${name}`;
        if (reported.has(rkey)) continue;
        reported.add(rkey);
        const later = stepList.filter((s) => order.get(s.name)! > order.get(step)! && bound.get(s.name)!.has(name)).map((s) => s.name);
        const cell = readingCell(draft, name);
        diagnostics.push({
          severity: 'warning', code: later.length ? 'read-before-defined' : 'undefined-name', ...where(cell), step, line: nameLine(cell.source, name),
          message: later.length
            ? `step '${step}' reads '${name}', which only the later step '${later[0]}' defines`
            : `step '${step}' reads '${name}', which no step, parameter, imports or functions cell defines`,
          hint: later.length
            ? `move the code that defines '${name}' above this step`
            : `define '${name}' in an earlier step (or the imports/functions cell); if it comes from a star import or exec, define it explicitly`,
        });
        continue;
      }
      inputs.get(step)!.set(name, producer);
      outputs.get(producer)!.add(name);
      // A function defined upstream needs, when called here, the upstream names its body reads.
      const free = definitions.get(producer)!.get(name);
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

  // 7. Metrics: written by the step that binds the value last; parameters by the last step.
  const stepMetrics = new Map<string, Set<string>>(stepList.map((s) => [s.name, new Set()]));
  for (const m of metricNames) {
    const binders = stepList.filter((s) => bound.get(s.name)!.has(m.name));
    const writer = binders.length ? binders[binders.length - 1].name : parameterNames.has(m.name) ? stepList[stepList.length - 1]?.name : undefined;
    if (!writer) {
      diagnostics.push({
        severity: 'warning', code: 'undefined-metric', cell: m.cell.index, ...(m.cell.id ? { cellId: m.cell.id } : {}), line: m.line,
        message: `metric '${m.name}' is not defined by any step or parameter`, hint: `compute '${m.name}' in a step, or remove the line`,
      });
      continue;
    }
    stepMetrics.get(writer)!.add(m.name);
    if (parameterNames.has(m.name) && !binders.length) stepParameters.get(writer)!.add(m.name);
  }

  // 8. Step names must stay distinct once Kubeflow sanitises them.
  const sanitized = new Map<string, string>();
  for (const s of stepList) {
    const k = taskName(s.name);
    const other = sanitized.get(k);
    if (other) {
      const cell = cellAt.get(s.cells[0])!;
      diagnostics.push({
        severity: 'error', code: 'duplicate-step-name', ...where(cell), step: s.name,
        message: `steps '${other}' and '${s.name}' both become the Kubeflow task '${k}'`, hint: `rename one of them`,
      });
    } else sanitized.set(k, s.name);
  }

  // 9. Assemble, with step options merged from the notebook's defaults and the step's cells.
  const defaults = parseCellTags({ index: -1, type: 'code', source: '', tags: settings.stepDefaults }).tags;
  const steps: Step[] = stepList.map((draft) => {
    const all = [defaults, ...draft.tags];
    const last = <T>(pick: (t: CellTags) => T | undefined): T | undefined => all.map(pick).filter((v) => v !== undefined).pop();
    const input = inputs.get(draft.name)!;
    const step: Step = {
      name: draft.name,
      cells: draft.cells,
      inputs: [...input.keys()].sort(),
      outputs: [...outputs.get(draft.name)!].sort(),
      inputSources: Object.fromEntries([...input.entries()].sort()),
      parameters: [...stepParameters.get(draft.name)!].sort(),
      metrics: [...stepMetrics.get(draft.name)!].sort(),
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
    return step;
  });
  const graph: StepGraph = {
    pipeline: { name: settings.name, description: settings.description, experiment: settings.experiment, baseImage: settings.baseImage, volumes: settings.volumes },
    steps,
    edges: edgeList().sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1)),
    parameters,
    metrics: metricNames.map((m) => m.name),
    prelude,
  };
  return { graph, diagnostics, placement, names };

  function readingCell(draft: StepDraft, name: string): NotebookCell {
    const index = draft.cells.find((i) => {
      const n = names.get(i)!;
      return n.reads.includes(name) || n.definitions.some((d) => d.freeNames.includes(name));
    });
    return cellAt.get(index ?? draft.cells[0])!;
  }
  function isReadBeforeBound(draft: StepDraft, name: string): boolean {
    for (const i of draft.cells) {
      const n = names.get(i)!;
      if (n.reads.includes(name)) return true;
      if (n.bound.includes(name)) return false;
    }
    return false;
  }
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
