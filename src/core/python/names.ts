/**
 * What one cell's Python binds and reads at module level — the facts the step graph is built from.
 * Implemented with @lezer/python (the parser JupyterLab's editor uses), so it runs in the browser and in Node.
 */

/** Something the analysis cannot see through; reported as a warning on the cell. */
export interface OpaqueUse {
  /** 1-based line within the cell. */
  line: number;
  kind: 'star-import' | 'globals' | 'locals' | 'vars' | 'exec' | 'eval';
  /** The cell's source line, trimmed (for messages). */
  text: string;
}

export interface SyntaxProblem {
  /** 1-based line within the cell. */
  line: number;
  /** 1-based column within the cell's line. */
  column: number;
  message: string;
}

/** A function, lambda-assigned name or class bound at module level, with the module names its body reads. */
export interface Definition {
  name: string;
  /**
   * Global (module-level) names read inside the body, excluding builtins, sorted. For a class: its body and its
   * methods (and anything nested). For `name = lambda …`: the lambda's body.
   */
  freeNames: string[];
}

export interface CellNames {
  /** Names bound at module level (assignment, augmented, walrus, for/with/except targets, def, class, import, `global` in a function), sorted. */
  bound: string[];
  /**
   * Names read at module level before the cell binds them (evaluation order), excluding builtins, sorted.
   * Includes names read by class bodies and comprehensions (they run now), `del x` of a name the cell did not
   * bind, and the global names of anonymous lambdas (`rows.sort(key=lambda r: r[col])` reads `col`).
   * Function bodies are not included: see `definitions`.
   */
  reads: string[];
  /** Definitions bound at module level and the module names their bodies read. */
  definitions: Definition[];
  opaque: OpaqueUse[];
  syntaxErrors: SyntaxProblem[];
  /**
   * 1-based lines that are IPython magics (`%`, `%%`) or shell escapes (`!`), including `\`-continued lines:
   * kept for the runtime, opaque here. A cell magic lists every line from its `%%` line on, except `%%time` and
   * `%%capture`, whose bodies are Python (only the `%%` line is listed).
   */
  magicLines: number[];
}

export { analyzeCell } from './analyze.js';
