import type { CellNames } from './names.js';

/** Placeholder until the lezer-based analysis lands. */
export function analyzeCell(_source: string): CellNames {
  return { bound: [], reads: [], definitions: [], opaque: [], syntaxErrors: [], magicLines: [] };
}
