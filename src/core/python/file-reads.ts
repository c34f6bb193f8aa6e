/**
 * `cellFileFacts`: the calls in one cell that may read a file (`open`, pandas' and numpy's readers, `joblib.load`,
 * `PIL.Image.open`, `Path(…).read_text` …), with the path argument kept as a small expression tree, plus what the
 * cell tells about names: its imports (`import numpy as np`) and its module-level `NAME = …` assignments.
 * Pure: no Node or DOM APIs; parsed with @lezer/python like the name analysis.
 *
 * Why facts and not resolved paths: a reader's path often depends on other cells — the alias `pd` comes from the
 * imports cell, `DATA_DIR` from a parameters cell. The facts of a cell depend on its source only (so they are
 * memoised like `analyzeCell`), and `resolveFileReads` (src/core/files.ts) resolves them against the whole notebook.
 */
import { parser } from '@lezer/python';
import type { SyntaxNode } from '@lezer/common';
import { decodeString } from '../literals.js';
import { isBuiltin } from './builtins.js';
import { neutraliseTrailingDotFloats, prepareCell } from './prepare.js';

/** A path expression as far as it can be evaluated without running anything. */
export type PathExpr =
  /** A string literal. */
  | { k: 'str'; v: string }
  /** A name, resolved later (a parameter, a constant of another cell, or something computed). */
  | { k: 'name'; v: string }
  /** Pieces glued together: an f-string, `a + b`, `'{}/x'.format(a)`. */
  | { k: 'concat'; parts: PathExpr[] }
  /** `a / b` (pathlib). */
  | { k: 'slash'; parts: PathExpr[] }
  /** A call, resolved later by what its callee is (`os.path.join`, `Path`, `str` …). */
  | { k: 'call'; callee: string[]; args: PathExpr[] }
  /** Anything else: computed at run time. `text` is its source, for messages. */
  | { k: 'other'; text: string };

/** A call that may read a file. */
export interface RawFileCall {
  /** 1-based line within the cell. */
  line: number;
  /** The callee as a dotted name (`['pd', 'read_csv']`), before aliases are resolved; empty for a method on an expression. */
  callee: string[];
  /** For `<expr>.read_text()` / `.read_bytes()` / `.open()`: the object (a path, when it is one) and the method. */
  object?: PathExpr;
  method?: 'read_text' | 'read_bytes' | 'open';
  /** Positional arguments, as path expressions. */
  args: PathExpr[];
  /** Keyword arguments, as path expressions. */
  kwargs: Record<string, PathExpr>;
  /** The dotted callee of the call this one is the first argument of (`pickle.load(open(…))`). */
  wrappedBy?: string[];
  /** Names bound inside the enclosing function(s): a path built from them is computed at run time. */
  locals: string[];
  /** The argument's source text (for messages). */
  text: string;
}

export interface CellFileFacts {
  /** `[local name, dotted module path]` from the cell's imports: `np → numpy`, `Image → PIL.Image`. */
  imports: [string, string][];
  /** Module-level `NAME = value` assignments, in order. */
  assignments: { name: string; value: PathExpr }[];
  calls: RawFileCall[];
}

/** The last part of a callee that may make a call a file read (the resolution decides on the whole name). */
const READER_NAMES = new Set([
  'open', 'load', 'loadtxt', 'genfromtxt', 'fromfile', 'read_text', 'read_bytes',
  'read_csv', 'read_parquet', 'read_json', 'read_excel', 'read_pickle', 'read_feather', 'read_table',
]);

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c !== null; c = c.nextSibling) if (c.name !== 'Comment') out.push(c);
  return out;
}

class Collector {
  readonly facts: CellFileFacts = { imports: [], assignments: [], calls: [] };
  private readonly lineStarts: number[] = [0];
  /** Names bound by the enclosing functions (innermost last). */
  private locals: Set<string>[] = [];

  constructor(private readonly code: string) {
    for (let i = 0; i < code.length; i++) if (code.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  private text(node: SyntaxNode): string {
    return this.code.slice(node.from, node.to);
  }

  private lineOf(pos: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  /** A callee as a dotted name: `np.load` → `['np', 'load']`; undefined when it is not a plain chain of names. */
  dotted(node: SyntaxNode): string[] | undefined {
    if (node.name === 'VariableName') return [this.text(node)];
    if (node.name !== 'MemberExpression') return undefined;
    const [object, dot, prop] = children(node);
    if (!object || dot?.name !== '.' || prop?.name !== 'PropertyName') return undefined;
    const head = this.dotted(object);
    return head ? [...head, this.text(prop)] : undefined;
  }

  /** A path expression from any expression node. */
  expr(node: SyntaxNode): PathExpr {
    switch (node.name) {
      case 'String':
        try {
          return { k: 'str', v: decodeString(this.text(node), node) };
        } catch {
          return { k: 'other', text: this.text(node) }; // bytes literal
        }
      case 'ContinuedString': {
        const parts = children(node).map((c) => this.expr(c));
        return { k: 'concat', parts };
      }
      case 'FormatString':
        return this.formatString(node);
      case 'VariableName':
        return { k: 'name', v: this.text(node) };
      case 'ParenthesizedExpression': {
        const inner = children(node).filter((c) => c.name !== '(' && c.name !== ')');
        return inner.length === 1 ? this.expr(inner[0]) : { k: 'other', text: this.text(node) };
      }
      case 'BinaryExpression': {
        const [left, op, right] = children(node);
        const o = op ? this.text(op) : '';
        if (left && right && o === '+') return { k: 'concat', parts: [this.expr(left), this.expr(right)] };
        if (left && right && o === '/') return { k: 'slash', parts: [this.expr(left), this.expr(right)] };
        return { k: 'other', text: this.text(node) };
      }
      case 'CallExpression': {
        const [callee, argList] = children(node);
        const { args } = this.args(argList);
        // `'{}/{}'.format(a, b)`: the format string's fields filled by the arguments.
        if (callee?.name === 'MemberExpression') {
          const [object, , prop] = children(callee);
          if (prop && this.text(prop) === 'format' && (object?.name === 'String' || object?.name === 'ContinuedString')) {
            const template = this.expr(object);
            return template.k === 'str' ? formatMethod(template.v, args) : { k: 'other', text: this.text(node) };
          }
        }
        const name = callee ? this.dotted(callee) : undefined;
        return name ? { k: 'call', callee: name, args } : { k: 'other', text: this.text(node) };
      }
      default:
        return { k: 'other', text: this.text(node) };
    }
  }

  /** `f'data/{name}.csv'`: literal pieces (with `{{`/`}}` unescaped) and replacement fields. */
  private formatString(node: SyntaxNode): PathExpr {
    const raw = this.text(node);
    const prefix = /^[A-Za-z]*/.exec(raw)![0];
    const quote = raw.slice(prefix.length).startsWith('"""') || raw.slice(prefix.length).startsWith("'''") ? 3 : 1;
    const bodyFrom = node.from + prefix.length + quote;
    const bodyTo = node.to - quote;
    const rawString = /r/i.test(prefix);
    const parts: PathExpr[] = [];
    let at = bodyFrom;
    const literal = (from: number, to: number) => {
      if (to <= from) return;
      let piece = this.code.slice(from, to).replace(/\{\{/g, '{').replace(/\}\}/g, '}');
      if (!rawString && piece.includes('\\')) {
        try {
          piece = decodeString(`'${piece.replace(/'/g, "\\'")}'`, node);
        } catch {
          // keep the piece as written
        }
      }
      parts.push({ k: 'str', v: piece });
    };
    for (const field of children(node).filter((c) => c.name === 'FormatReplacement')) {
      literal(at, field.from);
      const inner = children(field).filter((c) => !['{', '}', 'FormatConversion', 'FormatSpec'].includes(c.name));
      // A format spec (`{n:03d}`) changes the text: the value is not the name's string.
      const spec = children(field).some((c) => c.name === 'FormatSpec' || c.name === 'FormatConversion');
      parts.push(inner.length === 1 && !spec ? this.expr(inner[0]) : { k: 'other', text: this.text(field) });
      at = field.to;
    }
    literal(at, bodyTo);
    return parts.length === 1 ? parts[0] : { k: 'concat', parts };
  }

  private args(argList: SyntaxNode | undefined): { args: PathExpr[]; kwargs: Record<string, PathExpr>; first?: SyntaxNode } {
    const args: PathExpr[] = [];
    const kwargs: Record<string, PathExpr> = {};
    let first: SyntaxNode | undefined;
    if (!argList || argList.name !== 'ArgList') return { args, kwargs };
    const items = children(argList).filter((c) => c.name !== '(' && c.name !== ')');
    let group: SyntaxNode[] = [];
    const flush = () => {
      if (!group.length) return;
      if (group.length === 3 && group[0].name === 'VariableName' && group[1].name === 'AssignOp') {
        kwargs[this.text(group[0])] = this.expr(group[2]);
      } else if (group.length === 1) {
        args.push(this.expr(group[0]));
        first ??= group[0];
      } else {
        args.push({ k: 'other', text: group.map((g) => this.text(g)).join('') }); // *args, **kwargs
      }
      group = [];
    };
    for (const c of items) {
      if (c.name === ',') flush();
      else group.push(c);
    }
    flush();
    return { args, kwargs, first };
  }

  /** Walks every statement and expression, collecting imports, assignments and reader calls. */
  walk(node: SyntaxNode, moduleLevel: boolean): void {
    switch (node.name) {
      case 'ImportStatement':
        this.importStatement(node);
        return;
      case 'AssignStatement':
        if (moduleLevel) this.assignment(node);
        break;
      case 'FunctionDefinition':
      case 'LambdaExpression':
        this.locals.push(this.functionLocals(node));
        for (const c of children(node)) this.walk(c, false);
        this.locals.pop();
        return;
      case 'ClassDefinition':
        for (const c of children(node)) this.walk(c, false);
        return;
      case 'CallExpression':
        this.call(node);
        break;
    }
    for (const c of children(node)) this.walk(c, moduleLevel && (node.name === 'Script' || node.name === 'Body' || /Statement$/.test(node.name)));
  }

  private importStatement(node: SyntaxNode): void {
    const parts = children(node);
    if (parts[0]?.name === 'from') {
      const importAt = parts.findIndex((p) => p.name === 'import');
      const module = parts.slice(1, importAt).map((p) => this.text(p)).join('');
      if (module.startsWith('.')) return;
      const names = parts.slice(importAt + 1).filter((p) => p.name !== '(' && p.name !== ')');
      for (let i = 0; i < names.length; i++) {
        if (names[i].name !== 'VariableName') continue;
        const name = this.text(names[i]);
        const alias = names[i + 1]?.name === 'as' ? this.text(names[i + 2]) : name;
        if (names[i + 1]?.name === 'as') i += 2;
        this.facts.imports.push([alias, `${module}.${name}`]);
      }
      return;
    }
    // import a.b.c [as x], d
    let dotted: string[] = [];
    for (let i = 1; i <= parts.length; i++) {
      const p = parts[i];
      if (!p || p.name === ',') {
        if (dotted.length) this.facts.imports.push([dotted[0], dotted[0]]);
        dotted = [];
      } else if (p.name === 'as') {
        this.facts.imports.push([this.text(parts[i + 1]), dotted.join('.')]);
        dotted = [];
        i++;
      } else if (p.name === 'VariableName') dotted.push(this.text(p));
    }
  }

  private assignment(node: SyntaxNode): void {
    const parts = children(node);
    const [target, op, value] = parts;
    if (parts.length !== 3 || target?.name !== 'VariableName' || op?.name !== 'AssignOp' || this.text(op) !== '=') return;
    this.facts.assignments.push({ name: this.text(target), value: this.expr(value) });
  }

  /** Parameters of a function or lambda and the names its body assigns (roughly: enough to not mistake them for globals). */
  private functionLocals(node: SyntaxNode): Set<string> {
    const names = new Set<string>();
    const params = children(node).find((c) => c.name === 'ParamList');
    if (params) for (const p of children(params)) if (p.name === 'VariableName') names.add(this.text(p));
    const visit = (n: SyntaxNode) => {
      if (n.name === 'AssignStatement' || n.name === 'ForStatement' || n.name === 'WithStatement') {
        for (const c of children(n)) if (c.name === 'VariableName' && c.nextSibling?.name !== 'ArgList') names.add(this.text(c));
      }
      if (n.name === 'FunctionDefinition' && n !== node) return;
      for (const c of children(n)) visit(c);
    };
    const body = children(node).find((c) => c.name === 'Body');
    if (body) visit(body);
    return names;
  }

  private call(node: SyntaxNode): void {
    const [callee, argList] = children(node);
    if (!callee || argList?.name !== 'ArgList') return;
    let name = this.dotted(callee);
    let object: PathExpr | undefined;
    let method: RawFileCall['method'];
    const isPathMethod = (m: string): m is NonNullable<RawFileCall['method']> => m === 'read_text' || m === 'read_bytes' || m === 'open';
    if (!name && callee.name === 'MemberExpression') {
      // `(Path('data') / 'x.csv').read_text()`, `Path('x').open()`
      const [obj, , prop] = children(callee);
      const m = prop?.name === 'PropertyName' ? this.text(prop) : '';
      if (!obj || !isPathMethod(m)) return;
      name = [];
      object = this.expr(obj);
      method = m;
    } else if (name && name.length > 1 && isPathMethod(name[name.length - 1])) {
      // `p.read_text()`: the object may be a path constant; the resolution decides, knowing the aliases (`Image.open`).
      method = name[name.length - 1] as RawFileCall['method'];
      object = name.length === 2 ? { k: 'name', v: name[0] } : { k: 'other', text: name.slice(0, -1).join('.') };
    }
    // A bare name may be a reader imported under another name (`from pandas import read_csv as rc`).
    if (!name || (!method && name.length > 1 && !READER_NAMES.has(name[name.length - 1]))) return;
    if (name.length === 1 && !READER_NAMES.has(name[0]) && isBuiltin(name[0])) return;
    const { args, kwargs, first } = this.args(argList);
    const call: RawFileCall = {
      line: this.lineOf(node.from),
      callee: name,
      args,
      kwargs,
      locals: this.locals.flatMap((s) => [...s]),
      text: first ? this.text(first) : object ? this.text(callee).replace(/\.[^.]*$/, '') : '',
    };
    if (object) Object.assign(call, { object, method });
    // `pickle.load(open(…))`: the outer reader names the read.
    const parent = node.parent;
    if (parent?.name === 'ArgList' && children(parent).filter((c) => c.name !== '(')[0]?.from === node.from) {
      const outer = parent.parent?.firstChild ? this.dotted(parent.parent.firstChild) : undefined;
      if (outer) call.wrappedBy = outer;
    }
    this.facts.calls.push(call);
  }
}

/** `'{}/{}.csv'.format(a, b)` (positional fields only; named fields or specs make it computed). */
function formatMethod(template: string, args: PathExpr[]): PathExpr {
  const parts: PathExpr[] = [];
  let next = 0;
  let rest = template;
  for (;;) {
    const m = /\{([0-9]*)(![rsa])?(:[^}]*)?\}/.exec(rest.replace(/\{\{|\}\}/g, '\0\0'));
    if (!m) break;
    if (m.index > 0) parts.push({ k: 'str', v: rest.slice(0, m.index).replace(/\{\{/g, '{').replace(/\}\}/g, '}') });
    const index = m[1] === '' ? next++ : Number(m[1]);
    parts.push(args[index] && !m[2] && !m[3] ? args[index] : { k: 'other', text: m[0] });
    rest = rest.slice(m.index + m[0].length);
  }
  if (rest) parts.push({ k: 'str', v: rest.replace(/\{\{/g, '{').replace(/\}\}/g, '}') });
  return parts.length === 1 ? parts[0] : { k: 'concat', parts };
}

/** The file facts of one cell, without the cache. Never throws; a cell magic or what does not parse yields less. */
export function cellFileFactsUncached(source: string): CellFileFacts {
  const prepared = prepareCell(source);
  if (prepared.cellMagic) return { imports: [], assignments: [], calls: [] };
  const code = neutraliseTrailingDotFloats(prepared.code);
  const collector = new Collector(code);
  collector.walk(parser.parse(code).topNode, true);
  return collector.facts;
}

const cache = new Map<string, CellFileFacts>();
const CACHE_ENTRIES = 4096;

/** The file facts of one cell (see {@link CellFileFacts}), memoised by source like `analyzeCell`. */
export function cellFileFacts(source: string): CellFileFacts {
  const hit = cache.get(source);
  if (hit) return hit;
  const facts = cellFileFactsUncached(source);
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
  cache.set(source, facts);
  return facts;
}

/** Forgets every memoised cell's file facts (benchmarks measure the uncached path with it). */
export function clearFileFactsCache(): void {
  cache.clear();
}
