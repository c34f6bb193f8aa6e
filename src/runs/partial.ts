/**
 * Partial runs (`cellpipe run --only STEP… | --from STEP [--reuse RUN]`): which steps run, and which take the
 * outputs of an earlier run instead. No I/O here except what the caller passes in (`exists`), so the CLI and the
 * backend can plan the same way.
 *
 * Reused steps are recorded as `cached` with `cachedFrom` (and `reused: true`): the UI and `cellpipe status`
 * already show a cached step and the run it came from, so a reused one needs no new state.
 */
import type { StepGraph, StepProgram } from '../core/model.js';
import type { PartialReuse, RunRecord, StepRecord } from './types.js';
import { canonicalHash } from '../core/hash.js';
import { CellpipeError } from '../core/errors.js';

/**
 * A partial run that cannot be planned. `usage`: the selection itself is wrong (an unknown step, `--only` with
 * `--from`); otherwise no earlier run can supply the steps the chosen ones need.
 */
export class PartialRunError extends CellpipeError {
  constructor(
    message: string,
    readonly usage = true,
  ) {
    super(message);
  }
}

/**
 * What identifies a step's code: its program (prelude and own cells, inputs, outputs, parameters) and its
 * environment variables, when it has any (a step without them hashes as before they existed).
 */
export function programHash(program: StepProgram, env?: Record<string, string>): string {
  return canonicalHash(env && Object.keys(env).length ? { program, env } : program);
}

function listSteps(graph: StepGraph): string {
  return graph.steps.map((s) => s.name).join(', ');
}

/** Every step downstream of `start` (data or `prev:` edges), `start` included. */
export function downstreamOf(graph: StepGraph, start: string): Set<string> {
  const next = new Map<string, string[]>(graph.steps.map((s) => [s.name, []]));
  for (const [from, to] of graph.edges) next.get(from)?.push(to);
  for (const s of graph.steps) for (const src of Object.values(s.inputSources)) if (src !== s.name) next.get(src)?.push(s.name);
  const seen = new Set<string>([start]);
  const todo = [start];
  while (todo.length) for (const n of next.get(todo.pop()!) ?? []) if (!seen.has(n)) seen.add(n), todo.push(n);
  return seen;
}

/** Every step `steps` depend on, transitively (not `steps` themselves unless one depends on another). */
export function upstreamOf(graph: StepGraph, steps: Iterable<string>): Set<string> {
  const prev = new Map<string, string[]>(graph.steps.map((s) => [s.name, []]));
  for (const [from, to] of graph.edges) prev.get(to)?.push(from);
  for (const s of graph.steps) for (const src of Object.values(s.inputSources)) if (src !== s.name) prev.get(s.name)?.push(src);
  const seen = new Set<string>();
  const todo = [...steps];
  while (todo.length) for (const n of prev.get(todo.pop()!) ?? []) if (!seen.has(n)) seen.add(n), todo.push(n);
  return seen;
}

/** The steps that run: the `only` ones, or `from` and everything downstream of it. Unknown names throw. */
export function chooseSteps(graph: StepGraph, sel: { only?: string[]; from?: string }): Set<string> {
  const names = new Set(graph.steps.map((s) => s.name));
  const asked = [...(sel.only ?? []), ...(sel.from !== undefined ? [sel.from] : [])];
  const unknown = asked.filter((n) => !names.has(n));
  if (unknown.length) {
    throw new PartialRunError(`no step ${unknown.map((n) => `'${n}'`).join(', ')} in this notebook; its steps are: ${listSteps(graph)}`);
  }
  if (sel.only?.length && sel.from !== undefined) throw new PartialRunError('give --only or --from, not both');
  if (sel.from !== undefined) return downstreamOf(graph, sel.from);
  return new Set(sel.only);
}

/** A step record whose outputs another run can take: it finished well and its artifacts are still on disk. */
function usable(s: StepRecord | undefined, exists: (p: string) => boolean): boolean {
  return !!s && (s.state === 'succeeded' || s.state === 'cached') && s.outputs.every((o) => !!o.path && exists(o.path));
}

/** The steps that must be reused for `chosen` to run: the ones upstream of them that are not chosen themselves. */
export function neededSteps(graph: StepGraph, chosen: Set<string>): string[] {
  const up = upstreamOf(graph, chosen);
  return graph.steps.map((s) => s.name).filter((n) => up.has(n) && !chosen.has(n));
}

/** Whether run `rec` can supply every step in `needed`. */
export function canSupply(rec: RunRecord, needed: string[], exists: (p: string) => boolean): boolean {
  return needed.every((n) => usable(rec.steps.find((s) => s.name === n), exists));
}

/**
 * What the runtime needs to reuse run `rec` for every step not in `chosen`: the outputs of those it has, the
 * others (not needed by a chosen step) omitted. Also the stale ones: reused steps whose program differs from the
 * one that made the reused outputs, with the chosen steps that read them.
 */
export function planReuse(
  graph: StepGraph,
  programs: Record<string, StepProgram>,
  chosen: Set<string>,
  rec: RunRecord,
  exists: (p: string) => boolean,
): { reuse: PartialReuse; stale: { step: string; readers: string[] }[] } {
  const needed = neededSteps(graph, chosen);
  const missing = needed.filter((n) => !usable(rec.steps.find((s) => s.name === n), exists));
  if (missing.length) {
    throw new PartialRunError(
      `run ${rec.id} has no usable outputs of ${missing.map((n) => `'${n}'`).join(', ')} (${missing.map((n) => rec.steps.find((s) => s.name === n)?.state ?? 'not in that run').join(', ')}); ` +
        `choose a run where they succeeded with --reuse RUN, or run them too`,
      false,
    );
  }
  const reuse: PartialReuse = { runId: rec.id, steps: {}, omitted: [] };
  const stale: { step: string; readers: string[] }[] = [];
  for (const s of graph.steps) {
    if (chosen.has(s.name)) continue;
    const old = rec.steps.find((r) => r.name === s.name);
    if (!usable(old, exists)) {
      reuse.omitted.push(s.name);
      continue;
    }
    const changed = old!.programHash !== undefined && old!.programHash !== programHash(programs[s.name], s.env);
    reuse.steps[s.name] = {
      outputs: old!.outputs,
      metrics: old!.metrics,
      ...(old!.programHash !== undefined ? { programHash: old!.programHash } : {}),
      ...(old!.programHash === undefined ? { staleness: 'unknown' as const } : changed ? { staleness: 'stale' as const } : {}),
    };
    if (changed) {
      const readers = graph.steps.filter((c) => chosen.has(c.name) && upstreamOf(graph, [c.name]).has(s.name)).map((c) => c.name);
      stale.push({ step: s.name, readers });
    }
  }
  return { reuse, stale };
}
