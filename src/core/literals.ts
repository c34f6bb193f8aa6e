/**
 * The two cells whose code cellpipe reads as data, not as code to run:
 * `pipeline-parameters` (simple literal assignments) and `pipeline-metrics` (`print(name)` lines).
 */
import { parser } from '@lezer/python';
import type { SyntaxNode } from '@lezer/common';
import type { Diagnostic, JsonValue, NotebookCell, Parameter, ParameterType } from './model.js';
import { CellpipeError } from './errors.js';

class LiteralError extends CellpipeError {
  constructor(message: string, readonly node: SyntaxNode) {
    super(message);
  }
}

/** Reads `NAME = literal` lines. Anything else is an error pointing at its line. */
export function readParameters(cell: NotebookCell): { parameters: Parameter[]; diagnostics: Diagnostic[] } {
  const source = cell.source;
  const lines = lineStarts(source);
  const parameters: Parameter[] = [];
  const diagnostics: Diagnostic[] = [];
  const at = (from: number) => ({ cell: cell.index, ...(cell.id ? { cellId: cell.id } : {}), line: lineOf(lines, from), column: from - lines[lineOf(lines, from) - 1] + 1 });
  const tree = parser.parse(source);
  for (let node = tree.topNode.firstChild; node; node = node.nextSibling) {
    if (node.name === 'Comment') continue;
    const text = source.slice(node.from, node.to).split('\n')[0];
    const target = node.firstChild;
    const op = target?.nextSibling;
    let value = op?.nextSibling;
    if (value?.name === 'TypeDef') value = undefined;
    const simple = node.name === 'AssignStatement' && target?.name === 'VariableName' && op?.name === 'AssignOp' &&
      source.slice(op.from, op.to) === '=' && value && !value.nextSibling;
    if (!simple || !target || !value) {
      diagnostics.push({
        severity: 'error', code: 'invalid-parameter', ...at(node.from),
        message: `'${text}' is not a simple assignment (pipeline-parameters cell)`,
        hint: 'this cell holds only NAME = value lines with int, float, str, bool, list or dict literals; move other code to a step',
      });
      continue;
    }
    const name = source.slice(target.from, target.to);
    try {
      const literal = evaluate(value, source);
      const previous = parameters.findIndex((p) => p.name === name);
      const parameter: Parameter = { name, type: typeOf(literal, isFloatLiteral(value, source)), default: literal, cell: cell.index, line: lineOf(lines, node.from) };
      if (previous >= 0) parameters[previous] = parameter;
      else parameters.push(parameter);
    } catch (err) {
      if (!(err instanceof LiteralError)) throw err;
      diagnostics.push({
        severity: 'error', code: 'invalid-parameter', ...at(err.node.from),
        message: `parameter '${name}': ${err.message}`,
        hint: 'a pipeline parameter is an int, float, str, bool, or a list/dict of such literals; compute other values in a step',
      });
    }
  }
  return { parameters, diagnostics };
}

/** Reads `print(name)` lines of the metrics cell; anything else is an error. */
export function readMetrics(cell: NotebookCell): { metrics: { name: string; line: number }[]; diagnostics: Diagnostic[] } {
  const metrics: { name: string; line: number }[] = [];
  const diagnostics: Diagnostic[] = [];
  cell.source.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const match = /^print\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*(#.*)?$/.exec(line);
    if (!match) {
      diagnostics.push({
        severity: 'error', code: 'invalid-metric', cell: cell.index, ...(cell.id ? { cellId: cell.id } : {}), line: i + 1,
        message: `'${line}' is not print(<variable>) (pipeline-metrics cell)`,
        hint: 'list one metric per line as print(name); compute the value in a step',
      });
      return;
    }
    if (!metrics.some((m) => m.name === match[1])) metrics.push({ name: match[1], line: i + 1 });
  });
  return { metrics, diagnostics };
}

/** The parameter type of a literal; `float` says whether the Python literal was a float (`3.0` is one). */
export function typeOf(value: JsonValue, float = false): ParameterType {
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'string') return 'str';
  if (Array.isArray(value)) return 'list';
  if (value !== null && typeof value === 'object') return 'dict';
  return float || !Number.isInteger(value) ? 'float' : 'int';
}

/** JS numbers can't tell `3.0` from `3`; the literal's text can. */
function isFloatLiteral(node: SyntaxNode, source: string): boolean {
  const text = source.slice(node.from, node.to).replace(/^[-+\s]+/, '').toLowerCase();
  return (node.name === 'Number' || node.name === 'UnaryExpression') && !/^0[box]/.test(text) && /[.e]/.test(text);
}

function evaluate(node: SyntaxNode, source: string): JsonValue {
  const text = source.slice(node.from, node.to);
  switch (node.name) {
    case 'Number':
      return parseNumber(text, node);
    case 'Boolean':
      return text === 'True';
    case 'String':
    case 'ContinuedString':
      return parseStrings(node, source);
    case 'UnaryExpression': {
      const op = node.firstChild;
      const operand = op?.nextSibling;
      const sign = op ? source.slice(op.from, op.to) : '';
      if (operand && (sign === '-' || sign === '+')) {
        const v = evaluate(operand, source);
        if (typeof v === 'number') return sign === '-' ? -v : v;
      }
      throw new LiteralError(`'${text}' is not a literal`, node);
    }
    case 'ArrayExpression':
      return children(node).map((c) => evaluate(c, source));
    case 'DictionaryExpression': {
      const out: Record<string, JsonValue> = {};
      const items = children(node);
      for (let i = 0; i + 1 < items.length; i += 2) {
        const key = evaluate(items[i], source);
        if (typeof key !== 'string') throw new LiteralError(`dict keys must be strings (JSON), not '${source.slice(items[i].from, items[i].to)}'`, items[i]);
        out[key] = evaluate(items[i + 1], source);
      }
      if (items.length % 2) throw new LiteralError(`'${text}' is not a dict literal`, node);
      return out;
    }
    case 'None':
      throw new LiteralError('None has no pipeline parameter type', node);
    case 'TupleExpression':
      throw new LiteralError('tuples are not pipeline parameter types — use a list', node);
    case 'FormatString':
      throw new LiteralError('f-strings are computed, not literals', node);
    default:
      throw new LiteralError(`'${text.length > 40 ? text.slice(0, 39) + '…' : text}' is not a literal`, node);
  }
}

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) {
    if (!['[', ']', '{', '}', ',', ':', '(', ')', 'Comment'].includes(c.name)) out.push(c);
  }
  return out;
}

function parseNumber(text: string, node: SyntaxNode): number {
  const t = text.replace(/_/g, '').toLowerCase();
  if (t.endsWith('j')) throw new LiteralError('complex numbers are not pipeline parameter types', node);
  if (/^0[box]/.test(t)) return Number(t);
  if (/^[0-9]+$/.test(t)) {
    const n = Number(t);
    if (!Number.isSafeInteger(n)) throw new LiteralError(`${text} does not fit in a pipeline integer`, node);
    return n;
  }
  const n = Number(t.endsWith('.') ? t + '0' : t);
  if (Number.isNaN(n)) throw new LiteralError(`'${text}' is not a number`, node);
  return n;
}

function parseStrings(node: SyntaxNode, source: string): string {
  const parts = node.name === 'ContinuedString' ? children(node) : [node];
  return parts.map((p) => {
    if (p.name !== 'String') throw new LiteralError(`'${source.slice(p.from, p.to)}' is not a plain string literal`, p);
    return decodeString(source.slice(p.from, p.to), p);
  }).join('');
}

/** The value of one plain (non-f, non-bytes) Python string literal's source text; throws on f-strings and bytes. */
export function decodeString(text: string, node: SyntaxNode): string {
  const prefix = /^[A-Za-z]*/.exec(text)![0].toLowerCase();
  if (prefix.includes('b')) throw new LiteralError('bytes are not pipeline parameter types — use a str', node);
  if (prefix.includes('f')) throw new LiteralError('f-strings are computed, not literals', node);
  let body = text.slice(prefix.length);
  const quote = body.startsWith('"""') || body.startsWith("'''") ? body.slice(0, 3) : body[0];
  body = body.slice(quote.length, body.length - quote.length);
  if (prefix.includes('r')) return body;
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0', '\n': '' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\s\S])/g, (whole, esc: string) => {
    if (esc in simple && !/^[0-7]{2,3}$/.test(esc)) return simple[esc];
    if (/^[xuU]/.test(esc)) return String.fromCodePoint(parseInt(esc.slice(1), 16));
    if (/^[0-7]+$/.test(esc)) return String.fromCodePoint(parseInt(esc, 8));
    return whole;
  });
}

function lineStarts(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
