"""IPython syntax in step code, turned into plain Python before compiling — line for line, so line numbers hold.

What a cell may contain besides Python, and what it becomes:

* ``!cmd`` — runs ``cmd`` through ``/bin/sh -c`` with the output streaming to the step's log (as IPython does);
  ``x = !cmd`` binds the output lines (a list with IPython's ``.s``/``.n``/``.l`` views); ``!!cmd`` returns them.
  ``$name`` (outside single quotes) and ``{expression}`` are replaced by Python values first (``$$`` is a literal
  ``$``, ``{{``/``}}`` are literal braces); as in IPython, if any of them can't be evaluated the whole line is left as
  written, so ``$HOME`` reaches the shell.
* line magics: ``%time stmt`` runs ``stmt``; ``%cd``, ``%env``, ``%set_env``, ``%sx``/``%system``, ``%run``,
  ``%pwd`` and the shell aliases (``%ls``, ``%cat``, ``%mkdir``...) do what they do in IPython; magics with no meaning
  outside IPython (``%matplotlib``, ``%timeit``, ``%load_ext``, ``%config``, ``%pip``...) are skipped with a note in the
  log; any other line magic is an error naming the cell and line.
* cell magics (first line of the cell): ``%%bash`` / ``%%sh`` run the cell as a script (a non-zero exit fails the
  step); ``%%writefile [-a] FILE`` writes the cell body to FILE; any other cell magic is an error naming the cell.

The generated code calls the ``__cellpipe__`` object that the runtime puts in the step's namespace.
"""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Dict, List, Optional, Tuple

from .errors import StepError, cell_label

SHELL = "/bin/sh"

# Line magics that only configure IPython itself: skipped, with a note.
SKIPPED = {
    "matplotlib", "config", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport", "timeit", "pylab",
    "precision", "pdb", "xmode", "colors", "autosave", "who", "whos", "who_ls", "history", "hist", "lsmagic",
    "magic", "doctest_mode", "automagic", "autocall", "autoawait", "tb", "debug", "prun", "notebook", "qtconsole",
    "connect_info", "pprint", "page", "pinfo", "pinfo2", "psearch", "recall", "rerun", "logstart", "logstop",
    "logon", "logoff", "logstate", "store", "alias_magic", "dhist", "dirs", "bookmark", "clear", "cls", "quickref",
    "gui", "killbgscripts", "reset", "reset_selective", "memit", "mprun", "lprun", "load_ipython_extension",
}
PACKAGE_MAGICS = {"pip", "conda", "mamba", "micromamba"}
# IPython's default shell aliases on POSIX.
ALIASES = {"ls": "ls", "cat": "cat", "cp": "cp", "mv": "mv", "rm": "rm", "rmdir": "rmdir", "mkdir": "mkdir",
           "ll": "ls -F -l", "lf": "ls -F -l", "lx": "ls -F -l", "lk": "ls -F -l", "ldir": "ls -F -l"}
SUPPORTED_CELL_MAGICS = ("bash", "sh", "writefile")

_PATTERNS = {
    "assign_shell": r"^(?P<lhs>[A-Za-z_][\w\s,.\[\]()'\"]*?)\s*(?<![=<>!])=\s*!(?P<cmd>.*)$",
    "assign_magic": r"^(?P<lhs>[A-Za-z_][\w\s,.\[\]()'\"]*?)\s*(?<![=<>!])=\s*%(?P<name>\w+)(?P<args>.*)$",
    "line_magic": r"^%(?P<name>\w+)(?P<args>.*)$",
    "cell_magic": r"^%%(?P<name>\w+)(?P<args>.*)$",
    "dollar": r"\$(\$?[\w.]+)",
}
_compiled: Dict[str, Any] = {}


def _re(name: str) -> Any:
    """Compiled lazily: most cells have no magics, and ``re`` is slow to import for a step that needs none."""
    if name not in _compiled:
        import re

        _compiled[name] = re.compile(_PATTERNS[name], re.S)
    return _compiled[name]


class _Lexer:
    """Just enough of Python's lexical structure to tell where a logical line starts."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: Optional[str] = None
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        comment = False
        while i < n:
            ch = line[i]
            if self.quote is not None:
                if ch == "\\":
                    i += 2
                    continue
                if line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            if ch == "#":
                comment = True
                break
            if ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            elif ch in "'\"":
                q = ch * 3 if line.startswith(ch * 3, i) else ch
                self.quote = q
                i += len(q)
                continue
            i += 1
        ends_with_backslash = (not comment) and line.endswith("\\")
        if self.quote is not None and len(self.quote) == 1 and not ends_with_backslash:
            self.quote = None  # an unterminated one-line string: a syntax error Python will report
        self.continued = ends_with_backslash and self.quote is None


class Note:
    def __init__(self, cell: int, line: int, text: str):
        self.cell, self.line, self.text = cell, line, text

    def __str__(self) -> str:
        return "%s, line %d: %s" % (cell_label(self.cell), self.line, self.text)


def transform_cell(source: str, cell: int, first_line: str = "", cell_id: Optional[str] = None
                   ) -> Tuple[str, List[Note]]:
    """Plain Python for one cell's source, with the same number of lines, plus notes about skipped magics."""
    notes: List[Note] = []
    lines = source.split("\n")

    def fail(lineno: int, message: str) -> StepError:
        return StepError("%s (\"%s\"), line %d: %s" % (cell_label(cell), first_line, lineno, message), kind="MagicError",
                         cell=cell, line=lineno, cell_id=cell_id, cell_first_line=first_line)

    # Cell magic: the first non-blank line.
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        m = _re("cell_magic").match(line.strip()) if line.startswith("%%") else None
        if m:
            name, args = m.group("name"), m.group("args").strip()
            body = "\n".join(lines[k + 1:]) + "\n"
            if name in ("bash", "sh"):
                call = "__cellpipe__.script(%r, %r, %r, %d)" % (name, args, body, cell)
            elif name == "writefile":
                call = "__cellpipe__.writefile(%r, %r)" % (args, body)
            else:
                raise fail(k + 1, "the cell magic %%%%%s can't run in a pipeline step (only %s are supported); "
                           "remove it or rewrite the cell as Python" % (name, ", ".join("%%" + c for c in SUPPORTED_CELL_MAGICS)))
            out = [""] * len(lines)
            out[k] = call
            return "\n".join(out), notes
        break

    out: List[str] = []
    lexer = _Lexer()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not lexer.at_statement_start:
            lexer.feed(line)
            out.append(line)
            i += 1
            continue
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if not stripped or stripped[0] not in "!%" and "!" not in stripped and "%" not in stripped:
            lexer.feed(line)
            out.append(line)
            i += 1
            continue
        # Join backslash-continued magic/shell lines (IPython does) and keep the line count with blank lines.
        span = 1
        text = stripped
        while text.endswith("\\") and i + span < len(lines) and _is_magic_start(stripped):
            text = text[:-1] + lines[i + span].strip()
            span += 1
        replacement = _transform_statement(text, indent, cell, i + 1, notes, fail)
        if replacement is None:
            lexer.feed(line)
            out.append(line)
            i += 1
            continue
        out.append(replacement)
        out.extend([""] * (span - 1))
        i += span
    return "\n".join(out), notes


def _is_magic_start(stripped: str) -> bool:
    return stripped.startswith(("!", "%")) or bool(_re("assign_shell").match(stripped) or _re("assign_magic").match(stripped))


def _transform_statement(text: str, indent: str, cell: int, lineno: int, notes: List[Note], fail: Any
                         ) -> Optional[str]:
    if text.startswith("!!"):
        return "%s__cellpipe__.getoutput(%r)" % (indent, text[2:].strip())
    if text.startswith("!"):
        words = text[1:].split()
        if len(words) > 1 and words[0] in ("pip", "pip3", "conda", "mamba") and words[1] == "install":
            notes.append(Note(cell, lineno, "`%s` installs packages while the step runs; declare them in the "
                              "step's requirements instead so its image has them" % " ".join(words[:2])))
        return "%s__cellpipe__.system(%r, %d, %d)" % (indent, text[1:].strip(), cell, lineno)
    m = _re("assign_shell").match(text)
    if m:
        return "%s%s = __cellpipe__.getoutput(%r)" % (indent, m.group("lhs").strip(), m.group("cmd").strip())
    m = _re("assign_magic").match(text)
    if m:
        name, args = m.group("name"), m.group("args").strip()
        lhs = m.group("lhs").strip()
        if name in ("sx", "system"):
            return "%s%s = __cellpipe__.getoutput(%r)" % (indent, lhs, args)
        if name == "time":
            return "%s%s = %s" % (indent, lhs, args or "None")
        if name == "pwd":
            return "%s%s = __cellpipe__.pwd()" % (indent, lhs)
        if name == "env":
            return "%s%s = __cellpipe__.env(%r)" % (indent, lhs, args)
        raise fail(lineno, "assigning the result of %%%s is not supported in a pipeline step; "
                   "compute the value with Python instead" % name)
    if not text.startswith("%"):
        return None
    if text.startswith("%%"):
        raise fail(lineno, "the cell magic %s must be on the first line of the cell" % text.split()[0])
    m = _re("line_magic").match(text)
    if not m:
        return None
    name, args = m.group("name"), m.group("args").strip()
    if name in PACKAGE_MAGICS:
        notes.append(Note(cell, lineno, "skipped %%%s %s — packages belong in the step's requirements "
                          "(a `requirements:` setting), not in %%%s lines" % (name, args, name)))
        return indent + "pass"
    if name in SKIPPED:
        notes.append(Note(cell, lineno, "skipped %%%s%s (it has no meaning outside IPython)"
                          % (name, (" " + args) if args else "")))
        return indent + "pass"
    if name == "time":
        return indent + (args if args else "pass")
    if name in ("sx", "system"):
        return "%s__cellpipe__.getoutput(%r)" % (indent, args)
    if name == "cd":
        return "%s__cellpipe__.cd(%r)" % (indent, args)
    if name == "pwd":
        return "%s__cellpipe__.pwd()" % indent
    if name == "env":
        return "%s__cellpipe__.env(%r)" % (indent, args)
    if name == "set_env":
        return "%s__cellpipe__.set_env(%r)" % (indent, args)
    if name == "run":
        return "%s__cellpipe__.run(%r)" % (indent, args)
    if name in ALIASES:
        return "%s__cellpipe__.system(%r, %d, %d)" % (indent, (ALIASES[name] + " " + args).strip(), cell, lineno)
    raise fail(lineno, "the line magic %%%s needs IPython and can't run in a pipeline step; remove it or "
               "replace it with Python code" % name)


class SList(list):
    """Output lines of a shell command, with IPython's ``.s`` (space-joined), ``.n`` (newline-joined), ``.l``."""

    @property
    def s(self) -> str:
        return " ".join(self)

    @property
    def n(self) -> str:
        return "\n".join(self)

    @property
    def l(self) -> list:  # noqa: E743 - IPython's name
        return list(self)

    list = l

    def __reduce__(self):  # travels to other steps as a plain list
        return (list, (list(self),))




def _dollar_fields(literal: str) -> List[Tuple[str, Optional[str]]]:
    """Splits literal text at ``$name`` / ``$a.b`` references: [(text before, field or None)].

    As in IPython, a reference counts only when an even number of single quotes follows it (so it is not inside a
    '...' string for the shell), and ``$$name`` stands for the text ``$name``."""
    pieces: List[Tuple[str, Optional[str]]] = []
    pending = ""
    pos = 0
    for m in _re("dollar").finditer(literal):
        if literal.count("'", m.end()) % 2:
            continue
        field = m.group(1)
        if field.startswith("$"):
            pending += literal[pos:m.start()] + field
        else:
            pieces.append((pending + literal[pos:m.start()], field))
            pending = ""
        pos = m.end()
    pieces.append((pending + literal[pos:], None))
    return pieces


def expand(text: str, ns: Dict[str, Any]) -> str:
    """Python values into a shell line, with IPython's rules: ``{expression}`` (with ``!r``/``!s`` conversions) and
    ``$name`` outside single quotes are replaced, ``{{``/``}}`` and ``$$`` stand for ``{``/``}`` and ``$``. When any
    of them can't be evaluated, the line is left exactly as written (``$HOME`` then reaches the shell as is)."""
    import string

    formatter = string.Formatter()
    out: List[str] = []
    scope = dict(ns)
    try:
        for literal, field, spec, conversion in formatter.parse(text):
            for before, name in _dollar_fields(literal):
                out.append(before)
                if name is not None:
                    out.append(str(eval(name, scope)))  # the user's own code, as IPython evaluates it
            if field is not None:
                expression = field + (":" + spec if spec else "")
                value = formatter.convert_field(eval(expression, scope), conversion)
                out.append(formatter.format_field(value, ""))
    except Exception:
        return text
    return "".join(out)


def _caller_ns(depth: int = 2) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    frame = sys._getframe(depth)
    ns = dict(frame.f_globals)
    if frame.f_locals is not frame.f_globals:
        ns.update(frame.f_locals)
    return ns, frame.f_globals


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def note(text: str) -> None:
    _flush()
    sys.stderr.write("[cellpipe] %s\n" % text)
    sys.stderr.flush()


class Shell:
    """The ``__cellpipe__`` object the transformed code calls."""

    def system(self, cmd: str, cell: int = -1, line: int = 0) -> None:
        ns, glb = _caller_ns()
        command = expand(cmd, ns)
        _flush()
        import subprocess

        code = subprocess.call([SHELL, "-c", command])
        glb["_exit_code"] = code
        if code != 0:
            note("%s, line %d: shell command exited with status %d: %s" % (cell_label(cell), line, code, command[:200]))

    def getoutput(self, cmd: str) -> SList:
        ns, _ = _caller_ns()
        command = expand(cmd, ns)
        _flush()
        import subprocess

        done = subprocess.run([SHELL, "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return SList(done.stdout.decode("utf-8", "replace").splitlines())

    def script(self, shell: str, args: str, body: str, cell: int) -> None:
        program = "/bin/bash" if shell == "bash" else SHELL
        if shell == "bash" and not os.path.exists(program):
            raise StepError("%s: %%%%bash needs /bin/bash, which this image doesn't have; use %%%%sh" % cell_label(cell),
                            kind="MagicError", cell=cell, line=1)
        _flush()
        import subprocess

        code = subprocess.run([program], input=body.encode("utf-8")).returncode
        if code != 0:
            raise subprocess.CalledProcessError(code, "%%%%%s script of %s" % (shell, cell_label(cell)))

    def writefile(self, args: str, body: str) -> None:
        ns, _ = _caller_ns()
        import shlex

        words = shlex.split(expand(args, ns))
        append = False
        names = []
        for w in words:
            if w in ("-a", "--append"):
                append = True
            else:
                names.append(w)
        if len(names) != 1:
            raise ValueError("%%%%writefile needs exactly one file name, got %r" % args)
        path = os.path.expanduser(names[0])
        exists = os.path.exists(path)
        with open(path, "a" if append else "w", encoding="utf-8") as fh:
            fh.write(body)
        print("%s %s" % ("Appending to" if append else ("Overwriting" if exists else "Writing"), names[0]))

    def cd(self, args: str) -> None:
        ns, _ = _caller_ns()
        import shlex

        target = expand(args, ns).strip()
        target = os.path.expanduser(shlex.split(target)[0] if target else "~")
        os.chdir(target)
        print(os.getcwd())

    def pwd(self) -> str:
        return os.getcwd()

    def env(self, args: str) -> Any:
        ns, _ = _caller_ns()
        text = expand(args, ns).strip()
        if not text:
            return dict(os.environ)
        if "=" in text.split()[0] or " " in text:
            self._set(text)
            return None
        return os.environ.get(text)

    def set_env(self, args: str) -> None:
        ns, _ = _caller_ns()
        self._set(expand(args, ns).strip())

    @staticmethod
    def _set(text: str) -> None:
        if "=" in text.split()[0]:
            name, _, value = text.partition("=")
        else:
            name, _, value = text.partition(" ")
        os.environ[name.strip()] = value.strip()
        print("env: %s=%s" % (name.strip(), value.strip()))

    def run(self, args: str) -> None:
        import runpy
        import shlex

        ns, glb = _caller_ns()
        words = shlex.split(expand(args, ns))
        interactive = "-i" in words
        words = [w for w in words if w != "-i"]
        if not words:
            raise ValueError("%run needs a script path")
        saved = sys.argv
        sys.argv = words
        try:
            result = runpy.run_path(words[0], init_globals=glb if interactive else None, run_name="__main__")
        finally:
            sys.argv = saved
        glb.update({k: v for k, v in result.items() if not k.startswith("__")})
