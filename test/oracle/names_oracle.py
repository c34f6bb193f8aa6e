"""The reference for cellpipe's Python name analysis (`src/core/python/analyze.ts`), written on Python's own tools.

IPython's input transformer machinery (`make_tokens_by_line`, `_find_assign_op`, `find_end_of_continued_line`)
finds the magics and shell escapes, Python's `ast` parses the rest, and a walk over the tree in evaluation order
computes what the cell binds and reads at module level, the global names each definition's body reads, and what
cannot be seen through. The TypeScript analysis must give the same answer on every cell (see
test/test_names_oracle.py).

Semantics (module level = the notebook's global namespace), shared with the TypeScript side:
- bound: assignment/augmented/annotated-with-value/walrus/for/with/except/import/def/class/match-capture targets
  at module level, plus names declared `global` in a function or class body and assigned there.
- reads: names loaded by code that runs while the cell runs (module level, class bodies, comprehensions), in
  evaluation order, before the cell bound them; not builtins. `del x` counts as a use of x.
  Anonymous lambdas (not the whole value of `name = lambda ...`) add their body's global names to reads.
- definitions: for each def/class/`name = lambda` at module level, the global names its body reads (anywhere
  inside), resolved with CPython's scoping rules; methods and nested bodies belong to the module-level class.
- opaque: `from m import *`, calls of globals(), locals(), vars() (no arguments), exec(...), eval(...).
- magics: `%`/`!` at the start of a logical line and `x = %magic` / `x = !cmd` are replaced (`pass` / `x = None`);
  `%%` cell magics make the whole cell opaque except `%%time` and `%%capture [name]`, whose bodies are Python
  (`%%capture out` also binds `out`).
"""
from __future__ import annotations

import ast
import builtins
import tokenize
from dataclasses import dataclass, field
from typing import Optional

from IPython.core.inputtransformer2 import _find_assign_op, find_end_of_continued_line, make_tokens_by_line

#: Names IPython adds to the builtins of every kernel.
IPYTHON_BUILTINS = {"__IPYTHON__", "display", "get_ipython"}
BUILTINS = set(dir(builtins)) | IPYTHON_BUILTINS

PYTHON_BODY_CELL_MAGICS = {"time", "capture"}  # body is Python; %%capture [opts] [name] binds name
OPAQUE_CALLS = {"globals", "locals", "vars", "exec", "eval"}


# ---- IPython's view of the cell ---------------------------------------------------------------------------------

@dataclass
class Prepared:
    code: str
    magic_lines: list[int]
    cell_magic: bool
    magic_binds: list[str] = field(default_factory=list)


def _keepends(lines: list[str]) -> list[str]:
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def _blank(token) -> bool:
    return token.type == tokenize.ERRORTOKEN and token.string.isspace()


def _find_escape(tokens_by_line) -> Optional[tuple[int, int, str]]:
    """The first `%`/`!` escape (start of a logical line) or `x = %magic` / `x = !cmd`, as (line, col, kind)."""
    found = []
    for line in tokens_by_line:
        if not line:
            continue
        ix = 0
        # Python 3.11's tokenizer reports the blanks before an unknown character (`!`) as error tokens.
        while ix < len(line) and (line[ix].type in (tokenize.INDENT, tokenize.DEDENT) or _blank(line[ix])):
            ix += 1
        if ix < len(line) and line[ix].string in ("%", "!"):
            found.append((line[ix].start[0], line[ix].start[1], "escape"))
            continue
        assign = _find_assign_op(line)
        if assign is None:
            continue
        ix = assign + 1
        while ix < len(line) and _blank(line[ix]):
            ix += 1
        if ix >= len(line):
            continue
        nxt = line[ix]
        if nxt.string == "%" and ix + 1 < len(line) and line[ix + 1].type == tokenize.NAME:
            found.append((nxt.start[0], nxt.start[1], "assign"))
        elif nxt.string == "!":
            found.append((nxt.start[0], nxt.start[1], "assign"))
    return min(found) if found else None


def prepare(source: str) -> Prepared:
    lines = source.split("\n")
    magic_lines: list[int] = []
    first = next((i for i, line in enumerate(lines) if line.strip(" \t\f\r\v")), None)
    if first is None:
        return Prepared(source, [], False)
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip(" \t"))]
    if indent:
        lines = lines[:first] + [l[len(indent):] if l.startswith(indent) else l for l in lines[first:]]
    magic_binds: list[str] = []
    if lines[first].startswith("%%"):
        name, _, args = lines[first][2:].partition(" ")
        name = name.strip()
        if name in PYTHON_BODY_CELL_MAGICS:
            if name == "capture":
                positional = [a for a in args.split() if not a.startswith("-")]
                if positional and positional[0].isidentifier() and positional[0].isascii():
                    magic_binds.append(positional[0])
            magic_lines.append(first + 1)
            lines[first] = ""
        else:
            return Prepared("", list(range(first + 1, len(lines) + 1)), True)
    while True:
        try:
            tokens = make_tokens_by_line(_keepends(lines))
        except SyntaxError:  # IndentationError from the tokenizer: IPython fails here too; ast will say so
            break
        hit = _find_escape(tokens)
        if hit is None:
            break
        row, col, kind = hit
        start = row - 1
        end = find_end_of_continued_line(_keepends(lines), start)
        lines[start] = lines[start][:col] + ("pass" if kind == "escape" else "None")
        for j in range(start + 1, end + 1):
            lines[j] = ""
        magic_lines.extend(range(start + 1, end + 2))
    return Prepared("\n".join(lines), sorted(magic_lines), False, magic_binds)


# ---- scopes -------------------------------------------------------------------------------------------------------

@dataclass(eq=False)
class Owner:
    free_names: Optional[set[str]]


@dataclass(eq=False)
class Scope:
    kind: str  # module | function | class | comprehension
    parent: Optional["Scope"]
    live: bool
    owner: Optional[Owner]
    bound: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    loads: list[tuple[str, bool]] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    children: list["Scope"] = field(default_factory=list)

    def __post_init__(self):
        if self.parent is not None:
            self.parent.children.append(self)


def _resolve_free(p: Optional[Scope], name: str) -> str:
    while p is not None:
        if p.kind == "module":
            return "global"
        if p.kind == "function":
            if name in p.globals:
                return "global"
            if name in p.nonlocals or name in p.bound:
                return "local"
        elif p.kind == "comprehension" and name in p.targets:
            return "local"
        p = p.parent
    return "global"


def _resolve_load(s: Scope, name: str, bound_before: bool) -> str:
    if s.kind == "function":
        if name in s.globals:
            return "global"
        if name in s.nonlocals or name in s.bound:
            return "local"
        return _resolve_free(s.parent, name)
    if s.kind == "comprehension":
        return "local" if name in s.targets else _resolve_free(s.parent, name)
    if s.kind == "class":
        if name in s.globals:
            return "global"
        if bound_before:
            return "local"
        if name in s.bound:
            return "global"
        return _resolve_free(s.parent, name)
    return "global"


# ---- the walk -----------------------------------------------------------------------------------------------------

class Analysis:
    def __init__(self) -> None:
        self.module = Scope("module", None, True, None)
        self.scope = self.module
        self.module_bound: set[str] = set()
        self.global_stores: set[str] = set()
        self.reads: set[str] = set()
        self.definitions: dict[str, set[str]] = {}
        self.opaque: list[tuple[int, str]] = []
        self.named_lambda: Optional[tuple[ast.Lambda, Owner]] = None

    # name events
    def module_load(self, name: str, owner: Optional[Owner]) -> None:
        if name in BUILTINS:
            return
        if name not in self.module_bound:
            self.reads.add(name)
        if owner is not None and owner.free_names is not None:
            owner.free_names.add(name)

    def load(self, name: str) -> None:
        s = self.scope
        if not s.live:
            s.loads.append((name, s.kind == "class" and name in s.bound))
        elif s.kind == "module":
            self.module_load(name, None)
        elif s.kind == "class":
            if name in s.globals or name not in s.bound:
                self.module_load(name, s.owner)
        elif s.kind == "comprehension":
            p = s
            while p is not None and p.kind != "module":
                if p.kind == "comprehension" and name in p.targets:
                    return
                p = p.parent
            self.module_load(name, s.owner)

    def store_in(self, s: Scope, name: str) -> None:
        if s.live:
            if s.kind == "module" or (s.kind == "class" and name in s.globals):
                self.module_bound.add(name)
            elif s.kind == "class":
                s.bound.add(name)
            return
        if s.kind == "comprehension":
            return
        s.bound.add(name)
        s.stores.append(name)

    def store(self, name: str) -> None:
        self.store_in(self.scope, name)

    def walrus_store(self, name: str) -> None:
        s = self.scope
        while s.kind == "comprehension" and s.parent is not None:
            s = s.parent
        self.store_in(s, name)

    def delete(self, name: str) -> None:
        if not self.scope.live and self.scope.kind == "function":
            self.scope.bound.add(name)
        else:
            self.load(name)

    def resolve_deferred(self, root: Scope, owner: Owner) -> None:
        def walk(s: Scope) -> None:
            for name, bound_before in s.loads:
                if name in BUILTINS or _resolve_load(s, name, bound_before) != "global":
                    continue
                if owner.free_names is not None:
                    owner.free_names.add(name)
                elif name not in self.module_bound:
                    self.reads.add(name)
            for name in s.stores:
                if name in s.globals:
                    self.global_stores.add(name)
            for c in s.children:
                walk(c)

        walk(root)

    def definition_owner(self, name: str) -> Owner:
        return Owner(self.definitions.setdefault(name, set()))

    # statements
    def stmts(self, body: list[ast.stmt]) -> None:
        for s in body:
            self.stmt(s)

    def stmt(self, n: ast.stmt) -> None:
        s = self.scope
        if isinstance(n, ast.Assign):
            names = [t.id for t in n.targets if isinstance(t, ast.Name)]
            if s is self.module and isinstance(n.value, ast.Lambda) and names:
                free: set[str] = set()
                for name in names:
                    self.definition_owner(name)
                self.named_lambda = (n.value, Owner(free))
                self.expr(n.value)
                self.named_lambda = None
                for name in names:
                    self.definitions[name] |= free
            else:
                self.expr(n.value)
            for t in n.targets:
                self.target(t)
        elif isinstance(n, ast.AugAssign):
            if isinstance(n.target, ast.Name):
                self.load(n.target.id)
                self.expr(n.value)
                self.store(n.target.id)
            else:
                self.expr(n.target)
                self.expr(n.value)
        elif isinstance(n, ast.AnnAssign):
            evaluates = s.live and s.kind in ("module", "class")
            if n.value is None:
                if isinstance(n.target, ast.Name):
                    if not s.live:
                        s.bound.add(n.target.id)
                else:
                    self.expr(n.target)
            else:
                if s is self.module and isinstance(n.value, ast.Lambda) and isinstance(n.target, ast.Name):
                    free = set()
                    self.definition_owner(n.target.id)
                    self.named_lambda = (n.value, Owner(free))
                    self.expr(n.value)
                    self.named_lambda = None
                    self.definitions[n.target.id] |= free
                else:
                    self.expr(n.value)
                self.target(n.target)
            if evaluates:
                self.expr(n.annotation)
        elif isinstance(n, ast.Delete):
            for t in n.targets:
                self.delete_target(t)
        elif isinstance(n, ast.Import):
            for a in n.names:
                self.store(a.asname or a.name.split(".")[0])
        elif isinstance(n, ast.ImportFrom):
            for a in n.names:
                if a.name == "*":
                    self.opaque.append((n.lineno, "star-import"))
                else:
                    self.store(a.asname or a.name)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            if s is not self.module:
                (s.globals if isinstance(n, ast.Global) else s.nonlocals).update(n.names)
        elif isinstance(n, (ast.For, ast.AsyncFor)):
            self.expr(n.iter)
            self.target(n.target)
            self.stmts(n.body)
            self.stmts(n.orelse)
        elif isinstance(n, (ast.With, ast.AsyncWith)):
            for item in n.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.target(item.optional_vars)
            self.stmts(n.body)
        elif isinstance(n, ast.Try) or type(n).__name__ == "TryStar":
            self.stmts(n.body)
            for h in n.handlers:
                if h.type is not None:
                    self.expr(h.type)
                if h.name:
                    self.store(h.name)
                self.stmts(h.body)
            self.stmts(n.orelse)
            self.stmts(n.finalbody)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in n.decorator_list:
                self.expr(d)
            params = self.arguments(n.args, annotations=True)
            if n.returns is not None:
                self.expr(n.returns)
            self.deferred(params, lambda: self.definition_owner(n.name), lambda: self.stmts(n.body))
            self.store(n.name)
        elif isinstance(n, ast.ClassDef):
            for d in n.decorator_list:
                self.expr(d)
            for b in n.bases:
                self.expr(b)
            for k in n.keywords:
                self.expr(k.value)
            parent = self.scope
            owner = (parent.owner or self.definition_owner(n.name)) if parent.live else None
            self.scope = Scope("class", parent, parent.live, owner)
            self.stmts(n.body)
            self.scope = parent
            self.store(n.name)
        elif isinstance(n, ast.Match):
            self.expr(n.subject)
            for case in n.cases:
                self.pattern(case.pattern)
                if case.guard is not None:
                    self.expr(case.guard)
                self.stmts(case.body)
        elif type(n).__name__ == "TypeAlias":
            self.store(n.name.id)
        else:  # Expr, Return, Raise, Assert, If, While, Pass, Break, Continue
            for child in ast.iter_child_nodes(n):
                if isinstance(child, ast.stmt):
                    self.stmt(child)
                elif isinstance(child, ast.expr):
                    self.expr(child)

    def arguments(self, a: ast.arguments, annotations: bool) -> list[str]:
        every = [*a.posonlyargs, *a.args, *([a.vararg] if a.vararg else []), *a.kwonlyargs,
                 *([a.kwarg] if a.kwarg else [])]
        for d in [*a.defaults, *[d for d in a.kw_defaults if d is not None]]:
            self.expr(d)
        if annotations:
            for arg in every:
                if arg.annotation is not None:
                    self.expr(arg.annotation)
        return [arg.arg for arg in every]

    def deferred(self, params: list[str], owner_for, walk) -> None:
        parent = self.scope
        fs = Scope("function", parent, False, None)
        fs.bound.update(params)
        self.scope = fs
        walk()
        self.scope = parent
        if parent.live:
            self.resolve_deferred(fs, parent.owner or owner_for())

    def target(self, t: ast.expr) -> None:
        if isinstance(t, ast.Name):
            self.store(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self.target(e)
        elif isinstance(t, ast.Starred):
            self.target(t.value)
        else:  # Attribute, Subscript
            self.expr(t)

    def delete_target(self, t: ast.expr) -> None:
        if isinstance(t, ast.Name):
            self.delete(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self.delete_target(e)
        else:
            self.expr(t)

    def pattern(self, p: ast.pattern) -> None:
        if isinstance(p, ast.MatchValue):
            self.expr(p.value)
        elif isinstance(p, ast.MatchSequence):
            for q in p.patterns:
                self.pattern(q)
        elif isinstance(p, ast.MatchMapping):
            for k in p.keys:
                self.expr(k)
            for q in p.patterns:
                self.pattern(q)
            if p.rest:
                self.store(p.rest)
        elif isinstance(p, ast.MatchClass):
            self.expr(p.cls)
            for q in [*p.patterns, *p.kwd_patterns]:
                self.pattern(q)
        elif isinstance(p, ast.MatchStar):
            if p.name:
                self.store(p.name)
        elif isinstance(p, ast.MatchAs):
            if p.pattern is not None:
                self.pattern(p.pattern)
            if p.name:
                self.store(p.name)
        elif isinstance(p, ast.MatchOr):
            for q in p.patterns:
                self.pattern(q)

    # expressions
    def expr(self, n: ast.expr) -> None:
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Store):
                self.store(n.id)
            else:
                self.load(n.id)
        elif isinstance(n, ast.Lambda):
            named = self.named_lambda[1] if self.named_lambda and self.named_lambda[0] is n else None
            self.named_lambda = None
            params = self.arguments(n.args, annotations=False)
            self.deferred(params, lambda: named or Owner(None), lambda: self.expr(n.body))
        elif isinstance(n, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self.comprehension(n)
        elif isinstance(n, ast.NamedExpr):
            self.expr(n.value)
            self.walrus_store(n.target.id)
        elif isinstance(n, ast.Call):
            if isinstance(n.func, ast.Name) and n.func.id in OPAQUE_CALLS:
                if n.func.id != "vars" or (not n.args and not n.keywords):
                    self.opaque.append((n.lineno, n.func.id))
            self.expr(n.func)
            for a in n.args:
                self.expr(a)
            for k in n.keywords:
                self.expr(k.value)
        elif isinstance(n, ast.IfExp):
            self.expr(n.test)
            self.expr(n.body)
            self.expr(n.orelse)
        elif isinstance(n, ast.Dict):
            for k, v in zip(n.keys, n.values):
                if k is not None:
                    self.expr(k)
                self.expr(v)
        else:
            for child in ast.iter_child_nodes(n):
                if isinstance(child, ast.expr):
                    self.expr(child)
                elif isinstance(child, (ast.keyword, ast.comprehension, ast.arguments)):
                    for c in ast.iter_child_nodes(child):
                        if isinstance(c, ast.expr):
                            self.expr(c)

    def comprehension(self, n) -> None:
        gens = n.generators
        self.expr(gens[0].iter)
        parent = self.scope
        comp = Scope("comprehension", parent, parent.live, parent.owner)
        for g in gens:
            _target_names(g.target, comp.targets)
        self.scope = comp
        for i, g in enumerate(gens):
            if i > 0:
                self.expr(g.iter)
            self.target(g.target)
            for cond in g.ifs:
                self.expr(cond)
        if isinstance(n, ast.DictComp):
            self.expr(n.key)
            self.expr(n.value)
        else:
            self.expr(n.elt)
        self.scope = parent


def _target_names(t: ast.expr, into: set[str]) -> None:
    if isinstance(t, ast.Name):
        into.add(t.id)
    elif isinstance(t, (ast.Tuple, ast.List)):
        for e in t.elts:
            _target_names(e, into)
    elif isinstance(t, ast.Starred):
        _target_names(t.value, into)


def analyze(source: str) -> dict:
    """bound, reads, definitions, opaque (line, kind), magicLines and syntaxError for one cell."""
    prepared = prepare(source)
    empty = {"bound": [], "reads": [], "definitions": [], "opaque": [], "magicLines": prepared.magic_lines,
             "syntaxError": False}
    if prepared.cell_magic:
        return empty
    try:
        tree = compile(prepared.code, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):
        return {**empty, "syntaxError": True}
    a = Analysis()
    a.stmts(tree.body)
    return {
        "bound": sorted(a.module_bound | a.global_stores | set(prepared.magic_binds)),
        "reads": sorted(a.reads),
        "definitions": [{"name": k, "freeNames": sorted(v)} for k, v in sorted(a.definitions.items())],
        "opaque": sorted(a.opaque),
        "magicLines": prepared.magic_lines,
        "syntaxError": False,
    }


if __name__ == "__main__":  # python test/oracle/names_oracle.py < cell.py
    import json
    import sys

    print(json.dumps(analyze(sys.stdin.read()), indent=1))
