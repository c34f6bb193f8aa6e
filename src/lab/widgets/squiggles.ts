/**
 * The compiler's diagnostics in the cell editors, where the eye is: a wavy underline on the line a diagnostic names
 * (red for errors, amber for warnings, blue for infos) with the message and hint on hover — CodeMirror's own lint
 * diagnostics, set from the in-page compile, never from running any code.
 */
import { setDiagnostics, type Diagnostic as EditorDiagnostic } from '@codemirror/lint';
import type { EditorView } from '@codemirror/view';
import type { Cell } from '@jupyterlab/cells';
import type { Diagnostic } from '../../core/model.js';

/** The editor's own diagnostics for a cell's: one per diagnostic that names a line, the line's text underlined. */
export function editorDiagnostics(diags: readonly Diagnostic[], line: (n: number) => { from: number; to: number; text: string } | undefined): EditorDiagnostic[] {
  const out: EditorDiagnostic[] = [];
  for (const d of diags) {
    if (d.line === undefined) continue;
    const l = line(d.line);
    if (!l) continue;
    // The line's code, not its indentation (an empty line still gets a mark to hover).
    const indent = l.text.length - l.text.trimStart().length;
    const from = l.text.trim() ? l.from + indent : l.from;
    out.push({ from, to: l.text.trim() ? l.to : l.from, severity: d.severity, message: d.hint ? `${d.message} — ${d.hint}` : d.message, source: 'cellpipe' });
  }
  return out;
}

/** What was last set on each editor, so a recompile that changed nothing dispatches nothing. */
const shown = new WeakMap<EditorView, string>();

/** Sets a cell's diagnostics in its editor (none: clears them). Cells whose editor is not made yet are left alone. */
export function showInEditor(cell: Cell, diags: readonly Diagnostic[]): void {
  const view = (cell.editor as unknown as { editor?: EditorView } | null)?.editor;
  if (!view?.state) return;
  const doc = view.state.doc;
  const marks = editorDiagnostics(diags, (n) => (n >= 1 && n <= doc.lines ? doc.line(n) : undefined));
  const key = JSON.stringify(marks);
  if (shown.get(view) === key) return;
  // Nothing to set and nothing set before: leave the editor without the lint extension.
  if (!marks.length && !shown.has(view)) return;
  shown.set(view, key);
  view.dispatch(setDiagnostics(view.state, marks));
}
