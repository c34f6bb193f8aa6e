"""Failures of a step and how they are reported: a traceback that speaks in notebook cells, and the error record.

Text for people numbers cells as JupyterLab does (``cell_label``: index 2 is "cell 3", markdown cells count), and
so does the file name notebook code is compiled under, ``<cell N>``, because Python itself prints it (warnings, a
traceback the user's code prints). Frames are shown as ``cell N ("first line of the cell"), line L, in func``
followed by the source line. Frames of the runtime itself are left out. The error record (``--error-record FILE``)
is the JSON the local runtime puts in the run record (``StepError`` in ``src/runs/types.ts``)::

    {"message", "type", "cell", "cellId", "cellFirstLine", "line", "traceback", "step", "calledFrom"}

Its ``cell`` is machine-readable: the 0-based index into the notebook's ``cells``, as the step program gives it;
``message`` and ``traceback`` are for people and say ``cell_label(cell)``. ``calledFrom`` lists the cells and lines
whose calls led there (``calls_into``), so the page marks the calling line in the step's own cell too.
"""
from __future__ import annotations

import json
import os
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Dict, List, Optional, Tuple

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

# filename "<cell N>" -> (first line, cell id); filled as cells are compiled or functions arrive from upstream.
CELL_INFO: Dict[str, Tuple[str, Optional[str]]] = {}
# filename -> source lines, for linecache (imported only when needed: it is slow to import, steps start often).
_SOURCES: Dict[str, list] = {}


class StepError(Exception):
    """A failure with a message meant for the user (not a bug in their code): bad parameter, unsaveable output...

    ``cell``/``line`` point at the notebook cell when the failure is about one."""

    def __init__(self, message: str, kind: str = "StepError", cell: Optional[int] = None,
                 line: Optional[int] = None, cell_id: Optional[str] = None, cell_first_line: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.cell = cell
        self.line = line
        self.cell_id = cell_id
        self.cell_first_line = cell_first_line


def register_cell_source(filename: str, source: str, first: str, cell_id: Optional[str] = None) -> None:
    """Makes a cell's source known to tracebacks (``linecache``) and to the frame labels."""
    lines = source.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    _SOURCES[filename] = lines
    CELL_INFO[filename] = (first, cell_id)
    if "linecache" in sys.modules:
        install_sources()


def install_sources() -> None:
    """Puts the cells' sources into ``linecache`` so tracebacks (ours and the user's own) show their lines."""
    import linecache

    for filename, lines in _SOURCES.items():
        linecache.cache[filename] = (sum(len(l) for l in lines), None, lines, filename)


def cell_label(index: int) -> str:
    """How text for a person names the cell at 0-based ``index``: "cell 3" for index 2, as JupyterLab shows it."""
    return "cell %d" % (index + 1)


def cell_filename(index: int) -> str:
    """The file name the cell at ``index`` is compiled under (``<cell 3>`` for index 2); ``cell_of`` reads it back."""
    return "<%s>" % cell_label(index)


def cell_of(filename: str) -> Optional[int]:
    """The 0-based notebook cell index of a ``<cell N>`` file name, else None."""
    if filename.startswith("<cell ") and filename.endswith(">") and filename[6:-1].isdigit() and int(filename[6:-1]) > 0:
        return int(filename[6:-1]) - 1
    return None


def _is_runtime_frame(filename: str) -> bool:
    return os.path.dirname(os.path.abspath(filename)) == _RUNTIME_DIR if not filename.startswith("<") else False


def _frame_label(fs: Any) -> str:
    cell = cell_of(fs.filename)
    if cell is not None:
        first = CELL_INFO.get(fs.filename, ("", None))[0]
        where = '%s ("%s"), line %s' % (cell_label(cell), first, fs.lineno) if first else "%s, line %s" % (cell_label(cell), fs.lineno)
    else:
        where = 'File "%s", line %s' % (fs.filename, fs.lineno)
    return "  %s, in %s\n" % (where, fs.name)


def _frames(tb: Any) -> List[Any]:
    import traceback

    frames = list(traceback.extract_tb(tb))
    # Drop the runtime's own frames that lead into the notebook code (exec, loaders); keep the user's frames.
    while frames and _is_runtime_frame(frames[0].filename):
        frames.pop(0)
    return frames


def _format_one(exc: BaseException) -> List[str]:
    import linecache
    import traceback

    out: List[str] = []
    frames = _frames(exc.__traceback__)
    if frames:
        out.append("Traceback (most recent call last):\n")
        for fs in frames:
            out.append(_frame_label(fs))
            line = (fs.line or "").strip() if fs.line is not None else ""
            if not line and cell_of(fs.filename) is not None:
                line = linecache.getline(fs.filename, fs.lineno or 0).strip()
            if line:
                out.append("    %s\n" % line)
    only = traceback.format_exception_only(type(exc), exc)
    if isinstance(exc, SyntaxError) and exc.filename and cell_of(exc.filename) is not None:
        cell = cell_of(exc.filename)
        first = CELL_INFO.get(exc.filename, ("", None))[0]
        label = '%s ("%s"), line %s' % (cell_label(cell), first, exc.lineno) if first else "%s, line %s" % (cell_label(cell), exc.lineno)
        only = ["  %s\n" % label] + [l for l in only if not l.lstrip().startswith('File "<cell')]
    out.extend(only)
    return out


def format_traceback(exc: BaseException) -> str:
    """The whole chain (causes and contexts), oldest first, as Python prints it, with frames named by cell."""
    install_sources()
    chain: List[BaseException] = []  # newest first
    cur: Optional[BaseException] = exc
    while cur is not None and all(cur is not c for c in chain):
        chain.append(cur)
        if cur.__cause__ is not None:
            cur = cur.__cause__
        elif cur.__context__ is not None and not cur.__suppress_context__:
            cur = cur.__context__
        else:
            cur = None
    parts: List[str] = []
    for k in range(len(chain) - 1, -1, -1):
        parts.extend(_format_one(chain[k]))
        if k > 0:
            parts.append(_link(chain[k - 1], chain[k]))
    return "".join(parts)


def _link(newer: BaseException, older: BaseException) -> str:
    if newer.__cause__ is older:
        return "\nThe above exception was the direct cause of the following exception:\n\n"
    return "\nDuring handling of the above exception, another exception occurred:\n\n"


def where_raised(exc: BaseException) -> Tuple[Optional[int], Optional[int]]:
    """The innermost notebook cell frame of the exception: (cell index, 1-based line)."""
    import traceback

    if isinstance(exc, SyntaxError) and exc.filename and cell_of(exc.filename) is not None:
        return cell_of(exc.filename), exc.lineno
    cell = line = None
    for fs in traceback.extract_tb(exc.__traceback__):
        c = cell_of(fs.filename)
        if c is not None:
            cell, line = c, fs.lineno
    return cell, line


def calls_into(exc: BaseException) -> List[Dict[str, Any]]:
    """The notebook cell frames in other cells that called into the one that raised, outermost first (a step's own
    cell calling a function of a ``functions`` cell): ``[{"cell", "cellId", "line"}]``, empty when the error raised
    in the cell that ran."""
    import traceback

    if isinstance(exc, SyntaxError):
        return []
    frames = [(cell_of(fs.filename), fs.lineno) for fs in traceback.extract_tb(exc.__traceback__)]
    frames = [(c, l) for c, l in frames if c is not None]
    out = []
    # Calls within the raising cell are its own business: the marks go on other cells.
    for cell, line in [(c, l) for c, l in frames[:-1] if c != frames[-1][0]]:
        call: Dict[str, Any] = {"cell": cell, "line": line}
        info = CELL_INFO.get(cell_filename(cell))
        if info and info[1]:
            call["cellId"] = info[1]
        out.append(call)
    return out


def error_record(exc: BaseException, step: str) -> Dict[str, Any]:
    if isinstance(exc, StepError):
        record: Dict[str, Any] = {"message": exc.message, "type": exc.kind, "step": step}
        cell, line = exc.cell, exc.line
        cell_id, first = exc.cell_id, exc.cell_first_line
        cause = exc.__cause__
        if cause is not None and where_raised(cause)[0] is not None:  # the user's code raised it: show where
            record["traceback"] = format_traceback(cause)
    else:
        import traceback

        text = traceback.format_exception_only(type(exc), exc)[-1].strip()
        record = {"message": text, "type": type(exc).__name__, "step": step,
                  "traceback": format_traceback(exc)}
        cell, line = where_raised(exc)
        cell_id = first = None
        calls = calls_into(exc)
        if calls:
            record["calledFrom"] = calls
    if cell is not None:
        info = CELL_INFO.get(cell_filename(cell))
        record["cell"] = cell
        if cell_id is None and info:
            cell_id = info[1]
        if first is None and info:
            first = info[0]
        if cell_id:
            record["cellId"] = cell_id
        if first is not None:
            record["cellFirstLine"] = first
    if line is not None:
        record["line"] = line
    return record


def write_error_record(path: str, record: Dict[str, Any]) -> None:
    tmp = path + ".tmp"
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=2, default=str)
        fh.write("\n")
    os.replace(tmp, path)
