/**
 * What one cell's Python binds and reads at module level — the facts the step graph is built from.
 * Implemented with @lezer/python (the parser JupyterLab's editor uses), so it runs in the browser and in Node.
 */

/** Something the analysis cannot see through; reported as a warning on the cell. */
export interface OpaqueUse {
  /** 1-based line within the cell. */
  line: number;
  kind: 'star-import' | 'globals' | 'locals' | 'vars' | 'exec' | 'eval';
  text: string;
}

export interface SyntaxProblem {
  line: number;
  column: number;
  message: string;
}

/** A function, lambda-assigned name or class bound at module level, with the module names its body reads. */
export interface Definition {
  name: string;
  /** Global (module-level) names read inside the body, excluding builtins, sorted. */
  freeNames: string[];
}

export interface CellNames {
  /** Names bound at module level (assignment, augmented, walrus, for/with/except targets, def, class, import, `global` in a function), sorted. */
  bound: string[];
  /** Names read at module level before the cell binds them (evaluation order), excluding builtins, sorted. */
  reads: string[];
  /** Definitions bound at module level and the module names their bodies read. */
  definitions: Definition[];
  opaque: OpaqueUse[];
  syntaxErrors: SyntaxProblem[];
  /** 1-based lines that are IPython magics (`%`, `%%`) or shell escapes (`!`): kept for the runtime, opaque here. */
  magicLines: number[];
}

export { analyzeCell } from './analyze.js';
