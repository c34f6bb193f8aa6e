/**
 * One log line as the inline logs and the full-log tab draw it. A line the server cut (`cut`: its whole size) ends
 * with a button that fetches the rest of that line alone, a slice at a time, so even a 50 MB line never lands in
 * the page at once.
 */
import type { LineText, WindowLine } from '../../runs/types.js';

/** Characters of a cut line fetched per click on its button. */
export const LINE_SLICE_CHARS = 100_000;

/** Fetches characters [start, start + length) of line `n` of the log being shown. */
export type FetchLineSlice = (n: number, start: number, length: number) => Promise<LineText>;

/** A count as the log views write it: `1 000 000`. */
export const formatCount = (n: number): string => n.toLocaleString('en-US').replace(/,/g, ' ');

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/** A `div.cp-log-line` holding the line's text (in a span) and, for a cut line, its "show all" button. */
export function logLineElement(line: WindowLine, fetchSlice: FetchLineSlice, className = ''): HTMLElement {
  const el = document.createElement('div');
  el.className = `cp-log-line cp-stream-${line.stream} ${className}`.trim();
  el.dataset.n = String(line.n);
  if (line.cut === undefined) {
    el.textContent = line.text;
    return el;
  }
  const text = document.createElement('span');
  text.textContent = line.text;
  const more = document.createElement('button');
  more.className = 'cp-log-cut';
  more.textContent = `line cut at ${formatCount(line.text.length)} characters — show all (${size(line.cut)})`;
  let shown = 0; // characters of the whole line shown, once the first slice arrived
  more.addEventListener('click', () => {
    more.disabled = true;
    fetchSlice(line.n, shown, LINE_SLICE_CHARS).then(
      (slice) => {
        if (shown === 0) text.textContent = slice.text;
        else text.appendChild(document.createTextNode(slice.text));
        shown = slice.start + slice.text.length;
        more.disabled = false;
        if (shown >= slice.length) more.remove();
        else more.textContent = `show more (${formatCount(shown)} of ${formatCount(slice.length)} characters shown)`;
      },
      (err: Error) => {
        more.disabled = false;
        more.textContent = `could not fetch the line: ${err.message} — try again`;
      },
    );
  });
  el.append(text, more);
  return el;
}
