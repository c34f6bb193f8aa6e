/**
 * Turns a notebook cell's source into plain Python the parser can read, the way IPython does before it runs a
 * cell: blank leading lines and a common leading indent are ignored, `%%magic` cells are not Python,
 * `%magic` / `!shell` lines and `x = %magic` / `x = !shell` assignments are replaced.
 *
 * The result keeps one line per source line, so line numbers found in it are the cell's line numbers.
 * Replaced lines become `pass` (escaped commands) or `<targets> = None` (assignments from magics), and lines that
 * only continue a replaced line (`\` at the end) become empty. The rules follow IPython's `inputtransformer2`:
 * only the first token of a logical line (not inside brackets, a string or after a `\` continuation) is an escape.
 */

/**
 * IPython cell magics whose body is ordinary Python run in the notebook's namespace: `%%time` and
 * `%%capture [--no-stdout] [--no-stderr] [--no-display] [name]` (which also binds `name` to the captured output).
 */
const PYTHON_BODY_CELL_MAGICS: ReadonlySet<string> = new Set(['time', 'capture']);

export interface PreparedCell {
  /** Python text with magics replaced; same number of lines as the source. */
  code: string;
  /** 1-based source lines that are magics or shell escapes (kept for the runtime, opaque to analysis). */
  magicLines: number[];
  /** True when the cell is a cell magic (`%%bash`, `%%writefile`, …): nothing in it is Python. */
  cellMagic: boolean;
  /** Names the cell magic binds after its body ran (`%%capture out` binds `out`). */
  magicBinds: string[];
  /** Columns removed from the start of each line by IPython's leading-indent cleanup (to map columns back). */
  indentRemoved: number[];
}

/** Splits on `\n` keeping `\r` (if any) on the line, so joining with `\n` restores the text. */
function splitLines(source: string): string[] {
  return source.split('\n');
}

function isBlank(line: string): boolean {
  return /^[ \t\f\r\v]*$/.test(line);
}

const IDENT_START = /[A-Za-z_\u00a1-\uffff]/;

/** Whether a (physical) line ends with a backslash that continues it, as IPython checks it. */
function endsWithBackslash(line: string): boolean {
  const l = line.endsWith('\r') ? line.slice(0, -1) : line;
  return l.endsWith('\\');
}

export function prepareCell(source: string): PreparedCell {
  const lines = splitLines(source);
  const indentRemoved = new Array<number>(lines.length).fill(0);
  const magicLines: number[] = [];

  // IPython's cleanup: leading blank lines are dropped, then the first line's indent is removed from every line
  // that starts with it.
  let first = 0;
  while (first < lines.length && isBlank(lines[first])) first++;
  if (first === lines.length) {
    return { code: lines.join('\n'), magicLines, cellMagic: false, magicBinds: [], indentRemoved };
  }
  const indent = /^[ \t]*/.exec(lines[first])![0];
  if (indent.length > 0) {
    for (let i = first; i < lines.length; i++) {
      if (lines[i].startsWith(indent)) {
        lines[i] = lines[i].slice(indent.length);
        indentRemoved[i] = indent.length;
      }
    }
  }

  // A cell magic: the whole cell belongs to the magic.
  const magicBinds: string[] = [];
  if (lines[first].startsWith('%%')) {
    const [, name, args] = /^%%(\w*)(.*)$/.exec(lines[first])!;
    if (PYTHON_BODY_CELL_MAGICS.has(name)) {
      if (name === 'capture') {
        const output = args.trim().split(/\s+/).filter((a) => a !== '' && !a.startsWith('-'));
        if (output.length > 0 && /^[A-Za-z_]\w*$/.test(output[0])) magicBinds.push(output[0]);
      }
      magicLines.push(first + 1);
      lines[first] = '';
    } else {
      for (let i = first; i < lines.length; i++) magicLines.push(i + 1);
      return { code: '', magicLines, cellMagic: true, magicBinds, indentRemoved };
    }
  }

  // Most cells have no `%` or `!` at all: nothing to scan for.
  if (source.includes('%') || source.includes('!')) maskLineMagics(lines, magicLines);
  return { code: lines.join('\n'), magicLines, cellMagic: false, magicBinds, indentRemoved };
}

/**
 * Replaces escaped commands and assignments from magics, scanning the cell once with just enough of Python's
 * tokenizer (strings, comments, brackets, `\` continuations) to know where logical lines start.
 */
function maskLineMagics(lines: string[], magicLines: number[]): void {
  let depth = 0;
  /** Open string's quote (`'`, `"`, `'''`, `"""`) carried over a line end, or '' when none. */
  let openQuote = '';
  let continued = false;
  /** Whether the current logical line already had its first top-level `=` (only that one is checked). */
  let assignSeen = false;

  const replace = (start: number, keep: string, replacement: string): number => {
    const end = continuationEnd(lines, start);
    lines[start] = keep + replacement;
    magicLines.push(start + 1);
    for (let j = start + 1; j <= end; j++) {
      lines[j] = '';
      magicLines.push(j + 1);
    }
    return end;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const logicalStart = depth === 0 && openQuote === '' && !continued;
    let k = 0;
    if (logicalStart) {
      assignSeen = false;
      while (k < line.length && (line[k] === ' ' || line[k] === '\t' || line[k] === '\f')) k++;
      const c = line[k];
      if (c === '%' || c === '!') {
        i = replace(i, line.slice(0, k), 'pass');
        continued = false;
        continue;
      }
    }
    continued = false;
    // Scan the rest of the physical line.
    let j = 0;
    let magicAt = -1;
    let comment = false;
    while (j < line.length) {
      const c = line[j];
      if (openQuote !== '') {
        if (c === '\\') {
          j += 2;
          continue;
        }
        if (line.startsWith(openQuote, j)) {
          j += openQuote.length;
          openQuote = '';
          continue;
        }
        j++;
        continue;
      }
      if (c === '#') {
        comment = true;
        break;
      }
      if (c === '"' || c === "'") {
        openQuote = line.startsWith(c + c + c, j) ? c + c + c : c;
        j += openQuote.length;
        continue;
      }
      if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') {
        if (depth > 0) depth--;
      } else if (c === '=' && depth === 0 && !assignSeen && isPlainAssign(line, j)) {
        assignSeen = true;
        let m = j + 1;
        while (m < line.length && (line[m] === ' ' || line[m] === '\t' || line[m] === '\f')) m++;
        if (line[m] === '%') {
          let n = m + 1;
          while (n < line.length && (line[n] === ' ' || line[n] === '\t' || line[n] === '\f')) n++;
          if (n < line.length && IDENT_START.test(line[n])) magicAt = m;
        } else if (line[m] === '!' && line[m + 1] !== '=') {
          magicAt = m;
        }
        if (magicAt >= 0) break;
      }
      j++;
    }
    if (magicAt >= 0) {
      i = replace(i, line.slice(0, magicAt), 'None');
      depth = 0;
      continue;
    }
    // A single-quoted string ends at the end of its line unless the newline is escaped.
    if (openQuote.length === 1 && !endsWithBackslash(line)) openQuote = '';
    continued = openQuote === '' && !comment && endsWithBackslash(line);
  }
}

/** True when the `=` at `j` is an assignment, not part of `==`, `<=`, `+=`, `:=`, … */
function isPlainAssign(line: string, j: number): boolean {
  const prev = j > 0 ? line[j - 1] : '';
  if (line[j + 1] === '=') return false;
  return prev === '' || !'=!<>:+-*/%&|^@'.includes(prev);
}

/** The last line of an escaped command that continues with `\` (IPython's `find_end_of_continued_line`). */
function continuationEnd(lines: string[], start: number): number {
  let end = start;
  while (end < lines.length - 1 && endsWithBackslash(lines[end])) end++;
  return end;
}

/**
 * `@lezer/python` 1.1.19 does not accept float literals that end with a dot (`2.`, `1.e5`). Rewrites the dot to a
 * `0` (`20`, `10e5`): same length, still a number, so names, lines and columns are unchanged.
 */
export function neutraliseTrailingDotFloats(code: string): string {
  if (!/\d\./.test(code)) return code;
  return code.replace(/(^|[^\w.])(\d[\d_]*)\.(?![\d_])/g, (_m, before: string, digits: string) => `${before}${digits}0`);
}
