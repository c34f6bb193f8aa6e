/**
 * `analyzeCell`: what one notebook cell binds and reads at module level, from a real Python parse
 * (`@lezer/python`, the grammar JupyterLab's editor uses). Pure: no Node or DOM APIs.
 *
 * The walk follows Python's evaluation order (right-hand side before targets, decorators/defaults/bases at
 * definition time, the first iterable of a comprehension outside it) so that `reads` holds exactly the names the
 * cell needs from earlier cells. Function and lambda bodies are resolved with Python's static scoping rules and
 * reported as `definitions`.
 */
import { parser } from '@lezer/python';
import type { SyntaxNode } from '@lezer/common';
import { isBuiltin } from './builtins.js';
import type { CellNames, Definition, OpaqueUse, SyntaxProblem } from './names.js';
import { neutraliseTrailingDotFloats, prepareCell } from './prepare.js';
import { Owner, Scope, resolveLoad } from './scope.js';

const OPAQUE_CALLS: ReadonlyMap<string, OpaqueUse['kind']> = new Map([
  ['globals', 'globals'],
  ['locals', 'locals'],
  ['vars', 'vars'],
  ['exec', 'exec'],
  ['eval', 'eval'],
]);

/** A node's children without comments (they may sit anywhere inside brackets). */
function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c !== null; c = c.nextSibling) if (c.name !== 'Comment') out.push(c);
  return out;
}

/** Splits a flat child list at `,` tokens. */
function splitCommas(nodes: SyntaxNode[]): SyntaxNode[][] {
  const groups: SyntaxNode[][] = [];
  let current: SyntaxNode[] = [];
  for (const n of nodes) {
    if (n.name === ',') {
      groups.push(current);
      current = [];
    } else current.push(n);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

const TARGET_CONTAINERS = new Set(['TupleExpression', 'ArrayExpression', 'ParenthesizedExpression']);
const COMPREHENSIONS = new Set([
  'ArrayComprehensionExpression',
  'SetComprehensionExpression',
  'ComprehensionExpression',
  'DictionaryComprehensionExpression',
]);
const PUNCTUATION = new Set([',', '(', ')', '[', ']', '{', '}', ':', '*', '**', ';']);

/** `((x))` → `x`. */
function unparenthesize(node: SyntaxNode): SyntaxNode {
  let n = node;
  while (n.name === 'ParenthesizedExpression') {
    const inner = children(n).filter((c) => c.name !== '(' && c.name !== ')');
    if (inner.length !== 1) break;
    n = inner[0];
  }
  return n;
}

/** Human words for what cannot be assigned to, as Python's own messages say them. */
function describe(node: SyntaxNode): string {
  switch (node.name) {
    case 'CallExpression':
      return 'function call';
    case 'Number':
    case 'String':
    case 'FormatString':
    case 'ContinuedString':
    case 'Boolean':
    case 'None':
    case 'Ellipsis':
      return 'literal';
    case 'BinaryExpression':
    case 'UnaryExpression':
      return 'expression';
    case 'LambdaExpression':
      return 'lambda';
    case 'ConditionalExpression':
      return 'conditional expression';
    case 'NamedExpression':
      return 'named expression';
    case 'AwaitExpression':
      return 'await expression';
    case 'YieldExpression':
      return 'yield expression';
    default:
      if (COMPREHENSIONS.has(node.name)) return 'comprehension';
      if (node.name.endsWith('Expression')) return node.name.replace(/Expression$/, '').toLowerCase() + ' display';
      return 'expression';
  }
}

class Analyzer {
  private readonly module: Scope;
  private scope: Scope;
  /** Names the module has bound so far (evaluation order). */
  private readonly moduleBound = new Set<string>();
  /** Module names bound by `global` declarations inside functions or classes. */
  private readonly globalStores = new Set<string>();
  private readonly reads = new Set<string>();
  private readonly definitions = new Map<string, Set<string>>();
  private readonly opaque: OpaqueUse[] = [];
  readonly errors: SyntaxProblem[] = [];
  private readonly lineStarts: number[] = [0];
  /** Placeholders for complex `with … as` targets (see {@link rewriteWithTargets}), by offset. */
  withTargets: Map<number, string> | null = null;
  /** A lambda that is the whole value of `name = lambda …` at module level, and who owns its reads. */
  private namedLambda: { from: number; owner: Owner } | null = null;

  constructor(
    private readonly code: string,
    /** The prepared code before trailing-dot floats were rewritten (same offsets as `code`). */
    private readonly rawCode: string,
    private readonly sourceLines: string[],
    private readonly indentRemoved: number[],
  ) {
    this.module = new Scope('module', null, true, null);
    this.scope = this.module;
    for (let i = 0; i < code.length; i++) if (code.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  // ---- positions and findings ---------------------------------------------------------------------------------

  /** 0-based line of an offset in the prepared code. */
  private lineOf(pos: number): number {
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  error(pos: number, message: string): void {
    const line = this.lineOf(pos);
    const column = pos - this.lineStarts[line] + (this.indentRemoved[line] ?? 0) + 1;
    this.errors.push({ line: line + 1, column, message });
  }

  private opaqueUse(node: SyntaxNode, kind: OpaqueUse['kind']): void {
    const line = this.lineOf(node.from);
    this.opaque.push({ line: line + 1, kind, text: (this.sourceLines[line] ?? '').trim().slice(0, 200) });
  }

  /** Source text of a node; identifiers are NFKC-normalised as Python does (`ｗｉｄｔｈ` is `width`). */
  private text(node: SyntaxNode): string {
    const t = this.code.slice(node.from, node.to);
    return /^[\x00-\x7f]*$/.test(t) ? t : t.normalize('NFKC');
  }

  // ---- name events ----------------------------------------------------------------------------------------------

  /** A module-level (global) name is read now by live code; `owner` collects it for a class definition. */
  private moduleLoad(name: string, owner: Owner | null): void {
    if (isBuiltin(name)) return;
    if (!this.moduleBound.has(name)) this.reads.add(name);
    owner?.freeNames?.add(name);
  }

  private load(name: string): void {
    const s = this.scope;
    if (!s.live) {
      s.loads.push({ name, boundBefore: s.kind === 'class' && s.bound.has(name) });
      return;
    }
    switch (s.kind) {
      case 'module':
        this.moduleLoad(name, null);
        return;
      case 'class':
        if (s.globals.has(name) || !s.bound.has(name)) this.moduleLoad(name, s.owner);
        return;
      case 'comprehension':
        for (let p: Scope | null = s; p !== null; p = p.parent) {
          if (p.kind === 'comprehension' && p.targets.has(name)) return;
          if (p.kind === 'module') break;
        }
        this.moduleLoad(name, s.owner);
        return;
      case 'function':
        return; // functions are never live
    }
  }

  private storeIn(s: Scope, name: string): void {
    if (s.live) {
      if (s.kind === 'module' || (s.kind === 'class' && s.globals.has(name))) {
        this.moduleBound.add(name);
      } else if (s.kind === 'class') {
        s.bound.add(name);
      }
      return;
    }
    if (s.kind === 'comprehension') return; // comprehension targets are known up front
    s.bound.add(name);
    s.stores.push(name);
  }

  private store(name: string): void {
    this.storeIn(this.scope, name);
  }

  /** `x := …` binds in the nearest enclosing scope that is not a comprehension. */
  private walrusStore(name: string): void {
    let s = this.scope;
    while (s.kind === 'comprehension' && s.parent !== null) s = s.parent;
    this.storeIn(s, name);
  }

  private deleteName(name: string): void {
    const s = this.scope;
    if (!s.live && s.kind === 'function') {
      s.bound.add(name); // `del x` makes x local to the function
      return;
    }
    this.load(name); // deleting needs the name to exist: it counts as a use
  }

  /** Resolves every name of a deferred body (and the bodies nested in it) once it is fully known. */
  private resolveDeferred(root: Scope, owner: Owner): void {
    const walk = (s: Scope): void => {
      for (const { name, boundBefore } of s.loads) {
        if (isBuiltin(name) || resolveLoad(s, name, boundBefore) !== 'global') continue;
        if (owner.freeNames !== null) owner.freeNames.add(name);
        else if (!this.moduleBound.has(name)) this.reads.add(name);
      }
      for (const name of s.stores) if (s.globals.has(name)) this.globalStores.add(name);
      for (const c of s.children) walk(c);
    };
    walk(root);
  }

  private definitionOwner(name: string): Owner {
    let free = this.definitions.get(name);
    if (free === undefined) {
      free = new Set();
      this.definitions.set(name, free);
    }
    return { freeNames: free };
  }

  // ---- statements -----------------------------------------------------------------------------------------------

  statements(parent: SyntaxNode): void {
    for (let c = parent.firstChild; c !== null; c = c.nextSibling) this.statement(c);
  }

  /**
   * The statements of the cell or of an indented block. Lezer tolerates indentation Python rejects, so this also
   * checks that every statement that starts a line is indented like the first one of its block.
   */
  block(parent: SyntaxNode): void {
    let indent: string | null = parent.name === 'Script' ? '' : null;
    for (let c = parent.firstChild; c !== null; c = c.nextSibling) {
      if (c.name !== 'Comment' && c.name !== ':' && !c.type.isError) {
        const ws = this.lineIndent(c.from);
        if (ws !== null) {
          if (indent === null) indent = ws;
          else if (ws !== indent) {
            this.error(c.from, ws.length > indent.length && ws.startsWith(indent)
              ? 'unexpected indent'
              : 'unindent does not match any outer indentation level');
          }
        }
      }
      this.statement(c);
    }
  }

  /** The blanks before `pos` when `pos` is the first token of its line, else null. */
  private lineIndent(pos: number): string | null {
    const start = this.lineStarts[this.lineOf(pos)];
    const ws = this.code.slice(start, pos);
    return /^[ \t\f]*$/.test(ws) ? ws : null;
  }

  private statement(n: SyntaxNode): void {
    switch (n.name) {
      case 'AssignStatement':
        return this.assign(n);
      case 'UpdateStatement':
        return this.update(n);
      case 'DeleteStatement':
        return this.del(n);
      case 'ImportStatement':
        return this.importStatement(n);
      case 'ScopeStatement':
        return this.scopeStatement(n);
      case 'ForStatement':
        return this.forStatement(n);
      case 'TryStatement':
        return this.tryStatement(n);
      case 'WithStatement':
        return this.withStatement(n);
      case 'FunctionDefinition':
        return this.functionDefinition(n);
      case 'ClassDefinition':
        return this.classDefinition(n);
      case 'DecoratedStatement':
        return this.decorated(n);
      case 'MatchStatement':
        return this.matchStatement(n);
      case 'StatementGroup':
        return this.statements(n);
      case 'PrintStatement':
        this.error(n.from, "Missing parentheses in call to 'print'. Did you mean print(...)?");
        return this.expressionChildren(n);
      case 'TypeDefinition': {
        const name = n.getChild('VariableName');
        if (name !== null) this.store(this.text(name));
        return;
      }
      case 'Comment':
      case 'PassStatement':
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      default:
        // ExpressionStatement, Return/Yield/Raise/Assert, If/While (test, Body, …), error nodes.
        return this.expression(n);
    }
  }

  private body(n: SyntaxNode): void {
    this.block(n);
  }

  private assign(n: SyntaxNode): void {
    const kids = children(n);
    const groups: SyntaxNode[][] = [[]];
    let annotation: SyntaxNode | null = null;
    for (const k of kids) {
      if (k.name === 'AssignOp') groups.push([]);
      else if (k.name === 'TypeDef' && groups.length === 1) annotation = k;
      else groups[groups.length - 1].push(k);
    }
    const s = this.scope;
    const evaluatesAnnotation = s.live && (s.kind === 'module' || s.kind === 'class');
    if (groups.length === 1) {
      // `x: T` without a value: binds nothing, evaluates T (at module and class level).
      const target = groups[0];
      if (annotation !== null && target.some((t) => t.name === ',')) {
        this.error(n.from, 'only a single target (not a tuple) can be annotated');
      }
      if (target.length === 1 && target[0].name === 'VariableName') {
        if (!s.live) s.bound.add(this.text(target[0]));
      } else this.expressionList(target);
      if (annotation !== null && evaluatesAnnotation) this.expression(annotation);
      return;
    }
    const targets = groups.slice(0, -1);
    const value = groups[groups.length - 1];
    if (annotation !== null && (targets.length > 1 || targets[0].some((t) => t.name === ','))) {
      this.error(n.from, 'only a single target (not a tuple) can be annotated');
    }
    // `f = lambda …` at module level is a definition of f.
    const lambda = value.length === 1 ? unparenthesize(value[0]) : null;
    if (s === this.module && lambda !== null && lambda.name === 'LambdaExpression') {
      const names = targets.filter((t) => t.length === 1 && t[0].name === 'VariableName').map((t) => this.text(t[0]));
      if (names.length > 0) {
        const freeNames = new Set<string>();
        for (const name of names) this.definitionOwner(name);
        this.namedLambda = { from: lambda.from, owner: { freeNames } };
        this.expression(value[0]);
        for (const name of names) for (const f of freeNames) this.definitions.get(name)!.add(f);
        this.namedLambda = null;
      } else this.expressionList(value);
    } else this.expressionList(value);
    for (const t of targets) this.targetList(t);
    if (annotation !== null && evaluatesAnnotation) this.expression(annotation);
  }

  private update(n: SyntaxNode): void {
    const kids = children(n);
    const op = kids.findIndex((k) => k.name === 'UpdateOp');
    const target = kids.slice(0, op).map(unparenthesize);
    const value = kids.slice(op + 1);
    if (target.length !== 1 || (target[0].name !== 'VariableName' && target[0].name !== 'MemberExpression')) {
      this.error(n.from, `'${target.length === 1 ? describe(target[0]) : 'tuple'}' is an illegal expression for augmented assignment`);
      this.expressionList(target);
      this.expressionList(value);
      return;
    }
    const t = target[0];
    if (t.name === 'VariableName') {
      const name = this.text(t);
      this.load(name);
      this.expressionList(value);
      this.store(name);
    } else {
      this.expression(t);
      this.expressionList(value);
    }
  }

  private del(n: SyntaxNode): void {
    const visit = (t: SyntaxNode): void => {
      if (t.name === 'VariableName') this.deleteName(this.text(t));
      else if (TARGET_CONTAINERS.has(t.name)) {
        for (const c of children(t)) if (!PUNCTUATION.has(c.name)) visit(c);
      } else if (t.name === 'MemberExpression') this.expression(t);
      else if (t.type.isError) this.expression(t);
      else {
        this.error(t.from, `cannot delete ${describe(t)}`);
        this.expression(t);
      }
    };
    for (const c of children(n)) if (c.name !== 'del' && c.name !== ',') visit(c);
  }

  /** Binds one comma-separated target list (`a, *b` or `x`). */
  private targetList(nodes: SyntaxNode[]): void {
    for (const t of nodes) if (t.name !== ',' && t.name !== '*') this.target(t);
  }

  private target(t: SyntaxNode): void {
    switch (t.name) {
      case 'VariableName':
        this.store(this.text(t));
        return;
      case 'TupleExpression':
      case 'ArrayExpression':
      case 'ParenthesizedExpression':
        for (const c of children(t)) if (!PUNCTUATION.has(c.name)) this.target(c);
        return;
      case 'MemberExpression':
        this.expression(t);
        return;
      default:
        if (!t.type.isError) this.error(t.from, `cannot assign to ${describe(t)}`);
        this.expression(t);
    }
  }

  private importStatement(n: SyntaxNode): void {
    const kids = children(n);
    if (kids.length === 0) return;
    if (kids[0].name === 'import') {
      // import a.b.c [as d], e
      let first: string | null = null;
      let alias = false;
      for (let i = 1; i < kids.length; i++) {
        const k = kids[i];
        if (k.name === 'as') {
          const a = kids[i + 1];
          if (a !== undefined && a.name === 'VariableName') this.store(this.text(a));
          alias = true;
          i++;
        } else if (k.name === ',') {
          if (first !== null && !alias) this.store(first);
          first = null;
          alias = false;
        } else if (k.name === 'VariableName' && first === null) first = this.text(k);
      }
      if (first !== null && !alias) this.store(first);
      return;
    }
    // from m import a [as b], c | *
    const at = kids.findIndex((k) => k.name === 'import');
    if (at < 0) return;
    for (let i = at + 1; i < kids.length; i++) {
      const k = kids[i];
      if (k.name === '*') this.opaqueUse(n, 'star-import');
      else if (k.name === 'VariableName') {
        const next = kids[i + 1];
        if (next !== undefined && next.name === '.') {
          this.error(next.from, 'invalid syntax: a name imported with from … import cannot be dotted');
          while (i + 1 < kids.length && (kids[i + 1].name === '.' || kids[i + 1].name === 'VariableName')) i++;
        } else if (next !== undefined && next.name === 'as') {
          const a = kids[i + 2];
          if (a !== undefined && a.name === 'VariableName') this.store(this.text(a));
          i += 2;
        } else this.store(this.text(k));
      }
    }
  }

  private scopeStatement(n: SyntaxNode): void {
    const kids = children(n);
    const set = kids[0]?.name === 'nonlocal' ? this.scope.nonlocals : this.scope.globals;
    if (this.scope === this.module) return;
    for (const k of kids) if (k.name === 'VariableName') set.add(this.text(k));
  }

  private forStatement(n: SyntaxNode): void {
    const kids = children(n);
    const inAt = kids.findIndex((k) => k.name === 'in');
    const bodyAt = kids.findIndex((k) => k.name === 'Body');
    const forAt = kids.findIndex((k) => k.name === 'for');
    if (inAt < 0 || bodyAt < 0) return this.expression(n);
    this.expressionList(kids.slice(inAt + 1, bodyAt));
    this.targetList(kids.slice(forAt + 1, inAt));
    for (let i = bodyAt; i < kids.length; i++) if (kids[i].name === 'Body') this.body(kids[i]);
  }

  private tryStatement(n: SyntaxNode): void {
    const kids = children(n);
    for (let i = 0; i < kids.length; i++) {
      const k = kids[i];
      if (k.name === 'Body') this.body(k);
      else if (k.name === 'except') {
        let j = i + 1;
        for (; j < kids.length && kids[j].name !== 'Body'; j++) {
          const c = kids[j];
          if (c.name === 'as') {
            const name = kids[j + 1];
            if (name !== undefined && name.name === 'VariableName') this.store(this.text(name));
            j++;
          } else if (c.name === ',') {
            this.error(c.from, 'multiple exception types must be parenthesized');
          } else if (c.name !== '*') this.expression(c);
        }
        i = j - 1;
      } else if (k.type.isError) this.expression(k);
    }
  }

  private withStatement(n: SyntaxNode): void {
    const kids = children(n);
    for (let i = 0; i < kids.length; i++) {
      const k = kids[i];
      if (k.name === 'Body') this.body(k);
      else if (k.name === 'as') {
        const name = kids[i + 1];
        if (name !== undefined && name.name === 'VariableName') {
          const complex = this.withTargets?.get(name.from);
          if (complex !== undefined) this.withTarget(complex);
          else this.store(this.text(name));
        }
        i++;
      } else if (k.name !== 'with' && k.name !== 'async' && k.name !== ',') this.expression(k);
    }
  }

  /** A `with … as` target that is not a plain name (`(a, *b)`, `self.x`, `d[k]`), from its source text. */
  private withTarget(text: string): void {
    const loads = (t: string) => {
      const base = /^[A-Za-z_]\w*/.exec(t);
      if (base !== null) this.load(base[0]);
      for (const sub of t.matchAll(/\[([^\]]*)\]/g)) {
        for (const m of sub[1].matchAll(/(?<![.\w'"])[A-Za-z_]\w*(?![\w'"])/g)) this.load(m[0]);
      }
    };
    if (text.startsWith('(') || text.startsWith('[')) {
      for (const item of text.slice(1, -1).replace(/#[^\n]*/g, '').split(',')) {
        const t = item.trim().replace(/^\*\s*/, '');
        if (/^[A-Za-z_]\w*$/.test(t)) this.store(t);
        else if (t !== '') loads(t);
      }
    } else loads(text);
  }

  private decorated(n: SyntaxNode): void {
    for (const k of children(n)) {
      if (k.name === 'Decorator') {
        let first = true;
        for (const c of children(k)) {
          if (c.name === 'VariableName') {
            if (first) this.load(this.text(c));
            first = false;
          } else if (c.name === 'ArgList') this.args(c);
          else if (c.type.isError) this.expression(c);
        }
      } else if (k.name === 'FunctionDefinition') this.functionDefinition(k);
      else if (k.name === 'ClassDefinition') this.classDefinition(k);
      else if (k.type.isError) this.expression(k);
    }
  }

  /** Parameters: evaluates defaults and annotations now (definition time), returns the parameter names. */
  private parameters(list: SyntaxNode | null, annotations: boolean): string[] {
    if (list === null) return [];
    const names: string[] = [];
    const defaults: SyntaxNode[] = [];
    const annots: SyntaxNode[] = [];
    let seenDefault = false;
    let afterStar = false;
    let bareStar: SyntaxNode | null = null;
    for (const group of splitCommas(children(list).filter((c) => c.name !== '(' && c.name !== ')'))) {
      const head = group[0];
      if (head === undefined) continue;
      const name = group.find((c) => c.name === 'VariableName');
      const assign = group.findIndex((c) => c.name === 'AssignOp');
      if (head.name === '*' || head.name === '**') {
                afterStar = true;
        if (head.name === '*' && name === undefined) bareStar = head;
        else if (head.name === '**' && bareStar !== null) {
          this.error(bareStar.from, 'named arguments must follow bare *');
          bareStar = null;
        }
      } else if (name !== undefined && head.name === 'VariableName') {
        bareStar = null;
        if (assign >= 0) seenDefault = true;
        else if (seenDefault && !afterStar) {
          this.error(head.from, 'non-default argument follows default argument');
        }
      }
      if (name !== undefined) names.push(this.text(name));
      for (const c of group) {
        if (c.name === 'TypeDef') annots.push(c);
        else if (c.type.isError) defaults.push(c);
      }
      if (assign >= 0) defaults.push(...group.slice(assign + 1));
    }
    if (bareStar !== null) this.error(bareStar.from, 'named arguments must follow bare *');
    for (const d of defaults) this.expression(d);
    if (annotations) for (const a of annots) this.expression(a);
    return names;
  }

  /** Walks a deferred body (function or lambda) in a new scope and resolves it when it is a root. */
  private deferred(params: string[], ownerFor: () => Owner, walk: () => void): void {
    const parent = this.scope;
    const fs = new Scope('function', parent, false, null);
    for (const p of params) fs.bound.add(p);
    this.scope = fs;
    walk();
    this.scope = parent;
    if (parent.live) this.resolveDeferred(fs, parent.owner ?? ownerFor());
  }

  private functionDefinition(n: SyntaxNode): void {
    const nameNode = n.getChild('VariableName');
    const name = nameNode === null ? null : this.text(nameNode);
    let params: SyntaxNode | null = null;
    let returns: SyntaxNode | null = null;
    let body: SyntaxNode | null = null;
    for (const c of children(n)) {
      if (c.name === 'ParamList') params = c;
      else if (c.name === 'TypeDef') returns = c;
      else if (c.name === 'Body') body = c;
      else if (c.type.isError) this.expression(c);
    }
    const names = this.parameters(params, true);
    if (returns !== null) this.expression(returns);
    this.deferred(
      names,
      () => (name === null ? { freeNames: null } : this.definitionOwner(name)),
      () => {
        if (body !== null) this.body(body);
      },
    );
    if (name !== null) this.store(name);
  }

  private lambda(n: SyntaxNode): void {
    const kids = children(n);
    const params = kids.find((k) => k.name === 'ParamList') ?? null;
    const colon = kids.findIndex((k) => k.name === ':');
    const names = this.parameters(params, false);
    const named = this.namedLambda !== null && this.namedLambda.from === n.from ? this.namedLambda.owner : null;
    this.namedLambda = null;
    this.deferred(
      names,
      () => named ?? { freeNames: null },
      () => {
        for (let i = colon + 1; i < kids.length && colon >= 0; i++) this.expression(kids[i]);
      },
    );
  }

  private classDefinition(n: SyntaxNode): void {
    const nameNode = n.getChild('VariableName');
    const name = nameNode === null ? null : this.text(nameNode);
    let body: SyntaxNode | null = null;
    for (const c of children(n)) {
      if (c.name === 'ArgList') {
        const gen = c.getChild('for');
        if (gen !== null) this.error(gen.from, 'invalid syntax: a class cannot have a generator expression as its base');
        this.args(c);
      } else if (c.name === 'Body') body = c;
      else if (c.type.isError) this.expression(c);
    }
    const parent = this.scope;
    const owner = parent.live ? (parent.owner ?? (name === null ? null : this.definitionOwner(name))) : null;
    const cs = new Scope('class', parent, parent.live, owner);
    this.scope = cs;
    if (body !== null) this.body(body);
    this.scope = parent;
    if (name !== null) this.store(name);
  }

  private matchStatement(n: SyntaxNode): void {
    for (const c of children(n)) {
      if (c.name === 'MatchBody') {
        for (const clause of children(c)) {
          if (clause.name !== 'MatchClause') {
            if (clause.type.isError) this.expression(clause);
            continue;
          }
          for (const k of children(clause)) {
            if (k.name === 'Guard' || k.type.isError) this.expression(k);
            else if (k.name === 'Body') this.body(k);
            else if (k.name !== 'case' && k.name !== ',') this.pattern(k);
          }
        }
      } else if (c.name !== 'match' && c.name !== '*') this.expression(c);
    }
  }

  private pattern(p: SyntaxNode): void {
    switch (p.name) {
      case 'CapturePattern': {
        const v = p.getChild('VariableName');
        if (v !== null && this.text(v) !== '_') this.store(this.text(v));
        return;
      }
      case 'AsPattern': {
        const kids = children(p);
        const as = kids.findIndex((k) => k.name === 'as');
        for (let i = 0; i < as; i++) this.pattern(kids[i]);
        const v = kids[as + 1];
        if (v !== undefined && v.name === 'VariableName') this.store(this.text(v));
        return;
      }
      case 'AttributePattern': {
        const v = p.getChild('VariableName');
        if (v !== null) this.load(this.text(v));
        return;
      }
      case 'ClassPattern':
        for (const k of children(p)) {
          if (k.name === 'VariableName') this.load(this.text(k));
          else this.pattern(k);
        }
        return;
      case 'KeywordPattern':
        for (const k of children(p).slice(1)) this.pattern(k);
        return;
      case 'MappingPattern': {
        const kids = children(p);
        for (let i = 0; i < kids.length; i++) {
          const k = kids[i];
          // A key is followed by `:`; a bare name as a key is not valid Python, a dotted name is a value.
          if (k.name === 'VariableName' && kids[i + 1]?.type.isError && DOTTED_TAIL.test(this.text(kids[i + 1]))) {
            this.load(this.text(k));
            i++;
          } else if (kids[i + 1]?.name === ':' && k.name === 'VariableName') {
            this.error(k.from, 'mapping pattern keys may only match literals and attribute lookups');
          } else if (k.name !== ':' && !PUNCTUATION.has(k.name)) this.pattern(k);
        }
        return;
      }
      case 'LiteralPattern':
        return;
      case 'VariableName':
        this.store(this.text(p));
        return;
      default:
        // OrPattern, SequencePattern, StarPattern, PatternArgList, `(`, `,`…
        for (const k of children(p)) if (!PUNCTUATION.has(k.name) && k.name !== 'LogicOp') this.pattern(k);
    }
  }

  // ---- expressions ----------------------------------------------------------------------------------------------

  private expressionList(nodes: SyntaxNode[]): void {
    for (const n of nodes) this.expression(n);
  }

  private expressionChildren(n: SyntaxNode): void {
    for (let c = n.firstChild; c !== null; c = c.nextSibling) this.expression(c);
  }

  expression(n: SyntaxNode): void {
    switch (n.name) {
      case 'VariableName':
        this.load(this.text(n));
        return;
      case 'Number':
        return this.number(n);
      case 'String':
      case 'PropertyName':
      case 'Comment':
        return;
      case 'LambdaExpression':
        return this.lambda(n);
      case 'ArrayComprehensionExpression':
      case 'SetComprehensionExpression':
      case 'ComprehensionExpression':
      case 'DictionaryComprehensionExpression':
        return this.comprehension(children(n).slice(1, -1));
      case 'NamedExpression': {
        const kids = children(n);
        const target = kids[0];
        this.expressionList(kids.slice(2));
        if (target !== undefined && target.name === 'VariableName') this.walrusStore(this.text(target));
        else if (target !== undefined) {
          this.error(target.from, `cannot use assignment expressions with ${describe(target)}`);
          this.expression(target);
        }
        return;
      }
      case 'CallExpression':
        return this.call(n);
      case 'ArgList':
        return this.args(n);
      case 'ConditionalExpression': {
        const kids = children(n);
        const ifAt = kids.findIndex((k) => k.name === 'if');
        const elseAt = kids.findIndex((k) => k.name === 'else');
        if (ifAt < 0 || elseAt < ifAt) return this.expressionList(kids);
        this.expressionList(kids.slice(ifAt + 1, elseAt));
        this.expressionList(kids.slice(0, ifAt));
        this.expressionList(kids.slice(elseAt + 1));
        return;
      }
      case 'Body':
        return this.body(n);
      case 'ParamList':
        this.parameters(n, true);
        return;
      default:
        if (n.type.isError) {
          // Best effort inside what did not parse: statements and expressions alike.
          for (let c = n.firstChild; c !== null; c = c.nextSibling) this.statement(c);
          return;
        }
        for (let c = n.firstChild; c !== null; c = c.nextSibling) this.expression(c);
    }
  }

  /** Number forms lezer accepts and Python does not (`0777`, `1__0`, `1_`). */
  private number(n: SyntaxNode): void {
    const t = this.rawCode.slice(n.from, n.to);
    if (/^0[xob]/i.test(t)) {
      if (/__|_$/.test(t)) this.error(n.from, `invalid literal '${t}'`);
    } else if (/__|_$|_[.eEjJ+-]|[.eE+-]_/.test(t)) {
      this.error(n.from, `invalid decimal literal '${t}'`);
    } else if (/^0[0-9_]*$/.test(t) && /[1-9]/.test(t)) {
      this.error(n.from, `leading zeros in decimal integer literals are not permitted: '${t}' (use 0o${t.replace(/^[0_]+/, '')} for octal)`);
    }
  }

  private call(n: SyntaxNode): void {
    const callee = n.firstChild;
    const args = n.lastChild;
    if (callee !== null && callee.name === 'VariableName') {
      const kind = OPAQUE_CALLS.get(this.text(callee));
      if (kind !== undefined && args !== null && args.name === 'ArgList') {
        const empty = args.firstChild?.nextSibling?.name === ')';
        if (kind !== 'vars' || empty) this.opaqueUse(n, kind);
      }
    }
    this.expressionChildren(n);
  }

  private args(n: SyntaxNode): void {
    let inner = children(n).filter((k) => k.name !== '(' && k.name !== ')');
    // A generator argument (`f(x for x in xs)`): everything from its element on is the comprehension (its
    // targets may contain commas). Python allows it only as the sole argument.
    const forAt = inner.findIndex((k) => k.name === 'for' || (k.name === 'async' && k.nextSibling?.name === 'for'));
    let generator: SyntaxNode[] | null = null;
    if (forAt >= 0) {
      let start = forAt;
      while (start > 0 && inner[start - 1].name !== ',') start--;
      generator = inner.slice(start);
      inner = inner.slice(0, start);
      if (start > 0) this.error(generator[0].from, 'Generator expression must be parenthesized');
    }
    const groups = splitCommas(inner);
    let keywordSeen = false;
    let doubleStarSeen = false;
    for (const g of groups) {
      if (g.length === 0) continue;
      if (g.length >= 2 && g[0].name === 'VariableName' && g[1].name === 'AssignOp') {
        this.expressionList(g.slice(2));
        if (this.text(g[1]) === ':=') {
          if (keywordSeen) this.error(g[0].from, 'positional argument follows keyword argument');
          this.walrusStore(this.text(g[0]));
        } else keywordSeen = true;
        continue;
      }
      if (g[0].name === '**') {
        doubleStarSeen = true;
        keywordSeen = true;
      } else if (g[0].name === '*') {
        if (doubleStarSeen) this.error(g[0].from, 'iterable argument unpacking follows keyword argument unpacking');
      } else if (keywordSeen && !g[0].type.isError) {
        this.error(g[0].from, doubleStarSeen
          ? 'positional argument follows keyword argument unpacking'
          : 'positional argument follows keyword argument');
      }
      this.expressionList(g);
    }
    if (generator !== null) this.comprehension(generator);
  }

  /**
   * A comprehension given as its flat parts: element (`x`, `k : v`), then `for targets in iterable` and `if cond`
   * clauses. The first iterable runs in the enclosing scope, everything else in the comprehension's own scope.
   */
  private comprehension(nodes: SyntaxNode[]): void {
    const forAt = nodes.findIndex((k) => k.name === 'for' || k.name === 'async');
    if (forAt < 0) return this.expressionList(nodes);
    const element = nodes.slice(0, forAt);
    type Clause = { kind: 'for'; targets: SyntaxNode[]; iter: SyntaxNode[] } | { kind: 'if'; cond: SyntaxNode[] };
    const clauses: Clause[] = [];
    let i = forAt;
    while (i < nodes.length) {
      const k = nodes[i];
      if (k.name === 'async') i++;
      else if (k.name === 'for') {
        let j = i + 1;
        while (j < nodes.length && nodes[j].name !== 'in') j++;
        const targets = nodes.slice(i + 1, j);
        let e = j + 1;
        while (e < nodes.length && nodes[e].name !== 'for' && nodes[e].name !== 'if' && nodes[e].name !== 'async') e++;
        clauses.push({ kind: 'for', targets, iter: nodes.slice(j + 1, e) });
        i = e;
      } else if (k.name === 'if') {
        let e = i + 1;
        while (e < nodes.length && nodes[e].name !== 'for' && nodes[e].name !== 'if' && nodes[e].name !== 'async') e++;
        clauses.push({ kind: 'if', cond: nodes.slice(i + 1, e) });
        i = e;
      } else {
        if (k.type.isError) this.expression(k);
        i++;
      }
    }
    for (const c of clauses) {
      const rest = c.kind === 'for' ? c.iter : c.cond;
      const comma = rest.find((k) => k.name === ',');
      if (comma !== undefined) this.error(comma.from, 'invalid syntax: a comprehension clause cannot be followed by a comma (parenthesize the generator)');
    }
    const parent = this.scope;
    const first = clauses[0];
    if (first === undefined || first.kind !== 'for') return this.expressionList(nodes);
    this.expressionList(first.iter);
    const comp = new Scope('comprehension', parent, parent.live, parent.owner);
    for (const c of clauses) if (c.kind === 'for') this.collectTargets(c.targets, comp.targets);
    this.scope = comp;
    for (const c of clauses) {
      if (c.kind === 'for') {
        if (c !== first) this.expressionList(c.iter);
        this.targetList(c.targets);
      } else this.expressionList(c.cond);
    }
    for (const e of element) if (e.name !== ':') this.expression(e);
    this.scope = parent;
  }

  private collectTargets(nodes: SyntaxNode[], into: Set<string>): void {
    for (const t of nodes) {
      if (t.name === 'VariableName') into.add(this.text(t));
      else if (TARGET_CONTAINERS.has(t.name)) this.collectTargets(children(t), into);
    }
  }

  result(): Pick<CellNames, 'bound' | 'reads' | 'definitions' | 'opaque'> {
    const bound = new Set([...this.moduleBound, ...this.globalStores]);
    const definitions: Definition[] = [...this.definitions.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, free]) => ({ name, freeNames: [...free].sort() }));
    return {
      bound: [...bound].sort(),
      reads: [...this.reads].sort(),
      definitions,
      opaque: [...this.opaque].sort((a, b) => a.line - b.line),
    };
  }
}

/**
 * Error nodes that are gaps of @lezer/python 1.1.19's grammar, not errors in Python: bare `yield`, a starred
 * comprehension target (`for a, *rest in rows`), parenthesized with-items (`with (open(a) as f, open(b) as g):`).
 * The tree around them is still usable for the analysis.
 */
function isGrammarGap(node: SyntaxNode, code: string): boolean {
  const parent = node.parent;
  const text = code.slice(node.from, node.to);
  if (node.from === node.to && node.prevSibling?.name === 'yield') return true;
  // `lambda a, /, b: …` (positional-only lambda parameters)
  if (text === '/' && parent?.name === 'ParamList' && parent.parent?.name === 'LambdaExpression') return true;
  // `case []:` / `case ():` (an empty sequence pattern)
  if (parent?.name === 'LiteralPattern' && node.from === node.to && parent.parent?.name === 'SequencePattern' &&
    /^[[(]\s*[\])]$/.test(code.slice(parent.parent.from, parent.parent.to))) return true;
  // `case {}:` (an empty mapping pattern)
  if (parent?.name === 'MappingPattern' && text === '}' && /^\{\s*\}$/.test(code.slice(parent.from, parent.to))) return true;
  // `case Point():` (a class pattern without arguments)
  for (let p: SyntaxNode | null = parent; p !== null && p.name !== 'MatchClause'; p = p.parent) {
    if (p.name === 'PatternArgList') return /^\(\s*\)\s*$/.test(code.slice(p.from, p.to));
  }
  // `case {Color.RED: v}:` (a dotted value as a mapping key)
  if (parent?.name === 'MappingPattern' && node.prevSibling?.name === 'VariableName' && DOTTED_TAIL.test(text)) return true;
  if (text === '*' && parent !== null && (COMPREHENSIONS.has(parent.name) || parent.name === 'ArgList')) {
    for (let p = node.prevSibling; p !== null; p = p.prevSibling) {
      if (p.name === 'for') return true;
      if (p.name === 'in' || p.name === 'if') return false;
    }
    return false;
  }
  if (parent?.name === 'ParenthesizedExpression' && node.from === node.to) {
    return parenthesizedWith(parent.parent) && parent.nextSibling?.name === 'as';
  }
  // …and the rest of its items: line breaks inside the parentheses, the closing `)` (maybe after a trailing comma).
  if (parent?.name === 'WithStatement' && /^\s*\)?\s*$/.test(text)) return parenthesizedWith(parent);
  if (parent?.name === 'TupleExpression' && /^\s*\)\s*$/.test(code.slice(parent.from, parent.to))) {
    return parenthesizedWith(parent.parent) && parent.nextSibling?.name === 'Body';
  }
  return false;
}

const DOTTED_TAIL = /^(\s*\.\s*[A-Za-z_\u00a1-\uffff][\w\u00a1-\uffff]*)+$/;

/** `with (a as b, …):` as lezer recovers it: the first item is an unclosed parenthesized expression. */
function parenthesizedWith(statement: SyntaxNode | null): boolean {
  if (statement === null || statement.name !== 'WithStatement') return false;
  let first = statement.firstChild;
  while (first !== null && (first.name === 'with' || first.name === 'async')) first = first.nextSibling;
  if (first === null || first.name !== 'ParenthesizedExpression') return false;
  const last = first.lastChild;
  return last !== null && last.type.isError && last.from === last.to;
}

/** `as <target>` in a with statement where the target is a tuple/list (maybe over several lines), attribute or subscript. */
const WITH_COMPLEX_TARGET =
  /\bas([ \t]+)(\([^()]*\)|\[[^[\]\n]*\]|[A-Za-z_]\w*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*|\[[^[\]\n]*\])+)(?=[ \t]*[:,)])/g;

/** Whether `offset` is in the header of a with statement (which may span lines inside brackets). */
function inWithHeader(code: string, offset: number): boolean {
  let start = code.lastIndexOf('\n', offset - 1) + 1;
  for (;;) {
    const head = code.slice(start, offset);
    if (/^[ \t]*(async[ \t]+)?with\b/.test(head)) return true;
    let depth = 0;
    for (let i = 0; i < head.length; i++) {
      const c = head[i];
      if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') depth--;
    }
    // Brackets closed here were opened on an earlier line: the statement starts there.
    if (depth >= 0 || start === 0) return false;
    start = code.lastIndexOf('\n', start - 2) + 1;
  }
}

/**
 * Replaces complex `with … as` targets by a same-length placeholder name (`___`), so lezer parses the statement;
 * the analysis binds the original target from its text. Null when there is none.
 */
function rewriteWithTargets(code: string): { code: string; targets: Map<number, string> } | null {
  const targets = new Map<number, string>();
  let shift = 0; // multi-line targets grow by their ` \` continuations: later offsets move
  const out = code.replace(WITH_COMPLEX_TARGET, (match: string, blanks: string, target: string, offset: number) => {
    if (!inWithHeader(code, offset)) return match;
    targets.set(offset + shift + 2 + blanks.length, target);
    // A target over several lines (`as (\n a,\n b,\n)`): keep the lines, joined by `\` continuations.
    const lines = target.split('\n');
    const replacement = `as${blanks}` + lines
      .map((l, i) => (i === 0 ? '_'.repeat(Math.max(1, l.length)) : ' '.repeat(l.length)) + (i < lines.length - 1 ? ' \\' : ''))
      .join('\n');
    shift += replacement.length - match.length;
    return replacement;
  });
  return targets.size > 0 ? { code: out, targets } : null;
}

/** Collects the parser's error nodes as syntax problems (one per line: the first is the one worth reading). */
function syntaxProblems(analyzer: Analyzer, tree: ReturnType<typeof parser.parse>, code: string): void {
  const seen = new Set<number>();
  const cursor = tree.cursor();
  for (;;) {
    let descend = true;
    if (cursor.type.isError) {
      descend = false;
      const node = cursor.node;
      const line = code.lastIndexOf('\n', node.from - 1);
      if (!seen.has(line) && !isGrammarGap(node, code)) {
        seen.add(line);
        let near = code.slice(node.from, node.to).trim();
        if (near === '') near = /^[^\s]*/.exec(code.slice(node.from, node.from + 40).replace(/^[ \t]+/, ''))![0];
        analyzer.error(node.from, near === ''
          ? 'invalid syntax (the statement is incomplete)'
          : `invalid syntax near '${near.slice(0, 40)}'`);
      }
    }
    if (descend && cursor.firstChild()) continue;
    while (!cursor.nextSibling()) {
      if (!cursor.parent()) return;
    }
  }
}

/**
 * What a cell binds and reads at module level (see {@link CellNames}), without the cache. Never throws: what does
 * not parse is reported in `syntaxErrors` and the rest is analysed as far as the parser recovered.
 */
export function analyzeCellUncached(source: string): CellNames {
  const prepared = prepareCell(source);
  if (prepared.cellMagic) {
    return { bound: [], reads: [], definitions: [], opaque: [], syntaxErrors: [], magicLines: prepared.magicLines };
  }
  let code = neutraliseTrailingDotFloats(prepared.code);
  let raw = prepared.code;
  let tree = parser.parse(code);
  let analyzer = new Analyzer(code, raw, source.split('\n'), prepared.indentRemoved);
  syntaxProblems(analyzer, tree, code);
  if (analyzer.errors.length > 0) {
    // lezer accepts only a name after `with … as`: retry with complex targets replaced by placeholders.
    const rewritten = rewriteWithTargets(code);
    if (rewritten !== null) {
      code = rewritten.code;
      raw = rewriteWithTargets(raw)?.code ?? raw;
      tree = parser.parse(code);
      analyzer = new Analyzer(code, raw, source.split('\n'), prepared.indentRemoved);
      analyzer.withTargets = rewritten.targets;
      syntaxProblems(analyzer, tree, code);
    }
  }
  analyzer.block(tree.topNode);
  const errors = [...analyzer.errors]
    .sort((a, b) => a.line - b.line || a.column - b.column)
    .filter((e, i, all) => i === 0 || all[i - 1].line !== e.line);
  const result = analyzer.result();
  if (prepared.magicBinds.length > 0) result.bound = [...new Set([...result.bound, ...prepared.magicBinds])].sort();
  return { ...result, syntaxErrors: errors, magicLines: prepared.magicLines };
}

/** Analyses of recent cell sources: the sidebar recompiles on every edit, and most cells did not change. */
const cache = new Map<string, CellNames>();
const CACHE_ENTRIES = 4096;
const CACHE_MAX_SOURCE = 64 * 1024;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * What a cell binds and reads at module level (see {@link CellNames}). Never throws: what does not parse is
 * reported in `syntaxErrors` and the rest is analysed as far as the parser recovered.
 *
 * Results are memoised by source text and frozen: the same source returns the same (immutable) object.
 */
export function analyzeCell(source: string): CellNames {
  const hit = cache.get(source);
  if (hit !== undefined) return hit;
  const result = deepFreeze(analyzeCellUncached(source));
  if (source.length <= CACHE_MAX_SOURCE) {
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
    cache.set(source, result);
  }
  return result;
}

/** Forgets every memoised analysis (benchmarks measure the uncached path with it). */
export function clearAnalysisCache(): void {
  cache.clear();
}
