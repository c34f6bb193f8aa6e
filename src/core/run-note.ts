/**
 * A run's note: a short line of plain text a person adds to a run ("baseline", "C=0.1 overfits"), kept in its record
 * and shown in the history, the run header and `cellpipe runs`. Checked the same way by the page and the backend.
 */

/** The most characters a note may have: a history row shows it whole. */
export const NOTE_MAX_CHARS = 200;

/**
 * The note as it is kept: one line, spaces collapsed; `''` removes the note. An error (naming the note) when it is
 * too long or holds control characters; HTML is plain text here and is shown as typed, never as markup.
 */
export function checkNote(text: unknown): { note: string } | { error: string } {
  if (typeof text !== 'string') return { error: 'note: expected text' };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return { error: 'note: control characters are not allowed; type plain text' };
  const note = text.replace(/\s+/g, ' ').trim();
  const length = [...note].length;
  if (length > NOTE_MAX_CHARS) return { error: `note: ${length} characters, at most ${NOTE_MAX_CHARS}; shorten it` };
  return { note };
}
