/**
 * Whether a step's inline log is folded. A step that succeeded (or was reused) and whose outputs already show
 * under its cells needs no open log: its prints are there. The user's own choice for a step (fold or open, kept per
 * notebook in this browser) wins in every later run.
 */
import type { StepState } from '../../runs/types.js';

/** The user's choices: step → folded (true) or open (false). */
export type FoldChoices = Map<string, boolean>;

export function logFolded(state: StepState, outputsShown: boolean, choice: boolean | undefined): boolean {
  if (choice !== undefined) return choice;
  return outputsShown && (state === 'succeeded' || state === 'cached');
}

/**
 * Reads the saved choices: `{step: folded}`, or the older list of folded steps.
 */
export function readFoldChoices(saved: string | null): FoldChoices {
  try {
    const v = JSON.parse(saved ?? '{}') as unknown;
    if (Array.isArray(v)) return new Map(v.filter((s): s is string => typeof s === 'string').map((s) => [s, true]));
    if (v && typeof v === 'object') return new Map(Object.entries(v).filter((e): e is [string, boolean] => typeof e[1] === 'boolean'));
  } catch {
    // damaged: no choices
  }
  return new Map();
}

export function writeFoldChoices(choices: FoldChoices): string | null {
  return choices.size ? JSON.stringify(Object.fromEntries(choices)) : null;
}
