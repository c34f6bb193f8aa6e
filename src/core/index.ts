/**
 * cellpipe's core: notebook → tagged cells → step graph → pipeline spec. Pure functions, no I/O:
 * the same code runs in the JupyterLab page and in Node (CLI, backend).
 */
export * from './model.js';
export { compileNotebook, CELLPIPE_VERSION } from './compile.js';
export type { CompileOptions, CompileResult } from './compile.js';
export { parseNotebook, notebookFromJson, firstLine, cellLabel } from './notebook.js';
export { parseCellTags, nearestTag, STEP_NAME, KNOWN_TAG_FORMS } from './tags.js';
export type { CellTags } from './tags.js';
export { buildStepGraph, taskName } from './graph.js';
export type { CellPlacement } from './graph.js';
export { sha256Hex } from './hash.js';
