/**
 * The debugging loop's decisions, as pure functions the views share: which step a "Debug a step" panel offers
 * first, the code that loads a step's values into the notebook's kernel, the cell to select afterwards, and the
 * backend request of "Run this step" / "Run from here" / "Run without cache".
 */
import type { StepGraph } from '../../core/model.js';
import type { RunRecord } from '../../runs/types.js';

/** What a partial run asks for (the backend's `POST /api/runs` fields beyond path, parameters and target). */
export interface PartialChoice {
  only?: string[];
  from?: string;
  cache?: boolean;
}

export type StepAction = 'only' | 'from' | 'no-cache';

/** The request fields of an action on a step (`no-cache` is a whole run). */
export function partialChoice(action: StepAction, step?: string): PartialChoice {
  if (action === 'no-cache') return { cache: false };
  if (!step) throw new Error(`'${action}' needs a step`);
  return action === 'only' ? { only: [step] } : { from: step };
}

/** The step a debugging panel starts on: the shown run's failed step, else the first step of the graph. */
export function stepToDebug(graph: StepGraph | undefined, run: RunRecord | undefined): string | undefined {
  const names = new Set(graph?.steps.map((s) => s.name) ?? []);
  const failed = run?.steps.find((s) => s.state === 'failed' && names.has(s.name));
  return failed?.name ?? graph?.steps[0]?.name;
}

/** POSIX shell quoting, as Python's `shlex.split` (which the `%cellpipe` magic uses) reads it. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'"'"'`)}'`;
}

/**
 * The kernel code that brings a step's inputs (or outputs) of a run into the kernel: the notebook's imports and
 * functions cells first (the step ran them before its own cells), then the `%cellpipe` magic with the run and
 * its store named, so the values are those of exactly that run wherever the runs directory setting keeps them.
 */
export function loadCode(o: { step: string; runId: string; store?: string; what?: 'inputs' | 'outputs'; prelude?: string[] }): string {
  const magic = ['%cellpipe', 'load', shellQuote(o.step), '--run', shellQuote(o.runId)];
  if (o.store) magic.push('--store', shellQuote(o.store));
  if (o.what === 'outputs') magic.push('--outputs');
  return [...(o.prelude ?? []).filter((s) => s.trim()), '%load_ext cellpipe', magic.join(' ')].join('\n');
}

/**
 * The cell to select once a step's inputs are in the kernel: the cell that raised when the step failed in that
 * run (so the user runs it again first), else the step's first cell.
 */
export function cellToSelect(step: string, run: RunRecord | undefined, graph: StepGraph | undefined): number | undefined {
  const record = run?.steps.find((s) => s.name === step);
  if (record?.state === 'failed' && record.error?.cell !== undefined) return record.error.cell;
  return graph?.steps.find((s) => s.name === step)?.cells[0];
}

/**
 * The run to load a step from: the shown run when the step started there (a step reused from another run is read
 * there by `cellpipe.load`), else the newest run in which it did.
 */
export function runToLoad(step: string, shown: RunRecord | undefined, runs: readonly RunRecord[]): RunRecord | undefined {
  const started = (r: RunRecord) => r.steps.some((s) => s.name === step && !['pending', 'skipped', 'cancelled'].includes(s.state));
  if (shown && started(shown)) return shown;
  return [...runs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).find(started);
}

/** Whether a target reuses an earlier run of this machine (Local, containers) or KFP's cache (a Kubeflow profile). */
export function reusesEarlierRun(target: string): boolean {
  return target === 'local' || target === 'containers';
}

/** What happens to the steps a partial run does not choose, on that target. */
export function reuseWording(target: string): string {
  return reusesEarlierRun(target)
    ? 'the other steps take their outputs from the latest run that has them'
    : "the other steps take KFP's cached outputs where their inputs are unchanged";
}

/** The parts of an execute_reply read here (Jupyter messaging protocol). */
export interface ExecuteReply {
  status?: string;
  ename?: string;
  evalue?: string;
  user_expressions?: Record<string, { status?: string; data?: Record<string, unknown> }>;
}

/** What `%cellpipe load` said, from the reply's user expression (a Python str's repr); undefined when it said nothing. */
export function saidOf(reply: ExecuteReply): string | undefined {
  const said = reply.user_expressions?.said;
  const text = said?.status === 'ok' ? said.data?.['text/plain'] : undefined;
  if (typeof text !== 'string' || text.length < 2) return undefined;
  const q = text[0];
  if ((q !== "'" && q !== '"') || text[text.length - 1] !== q) return undefined;
  const inner = text.slice(1, -1).replace(/\\(['"\\])/g, '$1');
  return inner || undefined;
}
