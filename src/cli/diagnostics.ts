/**
 * Diagnostics for a terminal: `notebook.ipynb, cell 5, line 2: error: message` then the hint, like a compiler.
 * Cells are numbered as JupyterLab shows them (`cellLabel`), not by the diagnostic's 0-based `cell` index.
 */
import type { Diagnostic } from '../core/model.js';
import { cellLabel } from '../core/notebook.js';

export function formatDiagnostics(diagnostics: Diagnostic[], notebook: string, { color = false } = {}): string {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const severity = { error: paint('31;1', 'error'), warning: paint('33;1', 'warning'), info: paint('36', 'info') };
  return diagnostics.map((d) => {
    const at = d.cell !== undefined ? cellLabel(d.cell, d.line) : d.line !== undefined ? `line ${d.line}` : '';
    const where = [notebook, at].filter(Boolean).join(', ');
    const head = `${where}: ${severity[d.severity]}: ${d.message}`;
    return d.hint ? `${head}\n  ${paint('2', 'hint:')} ${d.hint}` : head;
  }).join('\n');
}
