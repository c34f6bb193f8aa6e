/**
 * cellpipe's core: notebook → tagged cells → step graph → pipeline spec. Pure functions, no I/O:
 * the same code runs in the JupyterLab page and in Node (CLI, backend).
 */
export * from './model.js';
export { compileNotebook } from './compile.js';
export type { CompileOptions, CompileResult } from './compile.js';
