"""What each cell of a step shows, recorded as nbformat v4 outputs (``--cell-outputs FILE``).

A notebook's reader expects under each cell what Jupyter would have shown there, so the recording follows IPython:
``display(...)`` and objects with ``_repr_*_`` methods become ``display_data``; the value of a cell's last statement,
when it is a bare expression whose value is not None and no ``;`` ends it, becomes ``execute_result``; matplotlib
figures still open when a cell ends (or shown with ``plt.show()``) become PNGs and are closed, as ``%matplotlib
inline`` does; what the cell writes to ``sys.stdout``/``sys.stderr`` becomes ``stream`` outputs while still reaching
the real streams (the live log is unchanged); an exception becomes an ``error`` output. Output from child processes
(``!cmd``) goes to the log only: it never passes through ``sys.stdout``.

The file (written once, atomically, when the step ends, whether it failed or not)::

    {"format": "cellpipe.cell-outputs/v1", "step": "...",
     "cells": {"<0-based cell index>": {"id": "...", "executionCount": N, "outputs": [nbformat outputs]}}}

Limits keep a runaway loop from filling the run store: one output over ``MAX_OUTPUT`` bytes is replaced (a stream
is cut) and the step's outputs stop at ``MAX_STEP`` bytes, each time with a note output saying so.
Stdlib only; IPython and matplotlib are used when the step's own code imports them.
"""
from __future__ import annotations

import io
import json
import os
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Callable, Dict, List, Optional, Tuple

FORMAT = "cellpipe.cell-outputs/v1"
MAX_OUTPUT = 1 << 20
MAX_STEP = 10 << 20

# IPython's display formatters, in its order: mime type, the method an object defines for it.
_REPR_METHODS = (
    ("text/html", "_repr_html_"), ("text/markdown", "_repr_markdown_"), ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"), ("image/jpeg", "_repr_jpeg_"), ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"), ("application/javascript", "_repr_javascript_"),
    ("application/pdf", "_repr_pdf_"),
)
_BINARY = ("image/png", "image/jpeg", "application/pdf")


def _size_text(n: int) -> str:
    return "%.1f MiB" % (n / 1048576.0) if n >= 1048576 else "%.1f KiB" % (n / 1024.0)


def _method(obj: Any, name: str) -> Any:
    """The bound ``_repr_*_`` method of an instance; classes (``display(DataFrame)``) show as their repr only."""
    if isinstance(obj, type):
        return None
    try:
        m = getattr(obj, name, None)
    except Exception:
        return None
    return m if callable(m) else None


def _plain(obj: Any) -> str:
    if _method(obj, "_repr_pretty_") is not None:
        try:
            from IPython.lib.pretty import pretty

            return pretty(obj)
        except ImportError:
            pass
    return repr(obj)


def _encode(mime: str, value: Any) -> Any:
    if isinstance(value, bytes):
        if mime in _BINARY:
            import base64

            return base64.b64encode(value).decode("ascii")
        return value.decode("utf-8", "replace")
    return value


def format_object(obj: Any, include: Any = None, exclude: Any = None) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The mime bundle of ``obj`` as IPython's display formatter makes it: ``_repr_mimebundle_`` first, the other
    ``_repr_*_`` methods for the types it did not give, ``text/plain`` always. A failing method is left out."""
    data: Dict[str, Any] = {}
    metadata: Dict[str, Any] = {}
    bundle = _method(obj, "_repr_mimebundle_")
    if bundle is not None:
        try:
            got = bundle(include=include, exclude=exclude)
        except Exception:
            got = None
        if isinstance(got, tuple) and len(got) == 2:
            got, md = got
            if isinstance(md, dict):
                metadata.update(md)
        if isinstance(got, dict):
            data.update({k: _encode(k, v) for k, v in got.items()})
    for mime, name in _REPR_METHODS:
        if mime in data:
            continue
        m = _method(obj, name)
        if m is None:
            continue
        try:
            value = m()
        except Exception:
            continue
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
            value, md = value
            metadata[mime] = md
        if value is not None:
            data[mime] = _encode(mime, value)
    if "text/plain" not in data:
        data["text/plain"] = _plain(obj)
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    return data, metadata


def _output_size(output: Dict[str, Any]) -> int:
    if output["output_type"] == "stream":
        return output.get("_size", len(output["text"]))
    if output["output_type"] == "error":
        return sum(len(l) for l in output["traceback"]) + len(output["evalue"])
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in output["data"].values())


class _Tee:
    """``sys.stdout``/``sys.stderr`` during a step when the real stream has no binary layer: every write reaches the
    real stream first, then the current cell."""

    def __init__(self, real: Any, name: str, recorder: "Recorder"):
        self._real = real
        self._name = name
        self._recorder = recorder

    def write(self, text: str) -> int:
        n = self._real.write(text)
        # The runtime's own "[cellpipe] ..." bookkeeping lines are log lines, not something the cell showed.
        if isinstance(text, str) and not text.startswith("[cellpipe] "):
            self._recorder.stream(self._name, text)
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _TeeBytes(io.RawIOBase):
    """The binary layer under ``sys.stdout``/``sys.stderr`` during a step (``tee_stream``): what reaches it goes to
    the real stream's binary layer, then to the current cell.

    Underneath a line-buffered ``io.TextIOWrapper`` it is called once per line, where a Python object standing in
    for the text stream is called for every piece ``print`` writes (4 for ``print('x', i)``): that per-call cost made
    a step's printing several times slower than plain Python's."""

    def __init__(self, real: Any, name: str, recorder: "Recorder"):
        super().__init__()
        self._real = real
        self._out = real.buffer
        self._name = name
        self._encoding = real.encoding
        self._recorder = recorder

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        # Whatever sits in the real text layer (a display's text written straight to it) goes out first.
        self._real.flush()
        self._out.write(data)
        text = data.decode(self._encoding, "replace")
        # The runtime's own "[cellpipe] ..." bookkeeping lines are log lines, not something the cell showed.
        if not text.startswith("[cellpipe] "):
            self._recorder.stream(self._name, text)
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def fileno(self) -> int:
        return self._real.fileno()

    def isatty(self) -> bool:
        return self._real.isatty()

    @property
    def name(self) -> Any:
        return getattr(self._real, "name", self._name)

    def close(self) -> None:  # closing sys.stdout must not close the process's real stream
        self.flush()
        super().close()


def tee_stream(real: Any, name: str, recorder: "Recorder") -> Any:
    """What replaces ``sys.stdout``/``sys.stderr`` during a step: a line-buffered text stream over ``_TeeBytes``
    (each line reaches the log as it ends, as with ``PYTHONUNBUFFERED``), or a ``_Tee`` when the real stream is not a
    file (a test's ``io.StringIO``)."""
    if not isinstance(real, io.TextIOWrapper):
        return _Tee(real, name, recorder)
    return io.TextIOWrapper(_TeeBytes(real, name, recorder), encoding=real.encoding, errors=real.errors,
                            line_buffering=True)


class _PostImport:
    """A ``sys.meta_path`` finder that patches a module right after it first executes (IPython's display
    functions, matplotlib's pyplot), so a step that never imports them never pays for them."""

    def __init__(self, patches: Dict[str, Callable[[Any], None]]):
        self.patches = patches

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        patch = self.patches.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        original = getattr(loader, "exec_module", None)
        if original is None:
            return spec

        def exec_module(module: Any) -> None:
            original(module)
            patch(module)

        loader.exec_module = exec_module  # file loaders are made per module: this touches this import only
        return spec


class Recorder:
    def __init__(self, path: Optional[str], step: str, max_output: int = MAX_OUTPUT, max_step: int = MAX_STEP):
        self.path = path
        # Also (or only) the outputs as one HTML page: the step's KFP system.HTML artifact (outputs_html.py).
        self.html_path: Optional[str] = None
        # Also as chunked lines on stderr (``[cellpipe] cell-outputs I/N DATA``): how a pod's outputs reach the
        # run store of the cellpipe that follows its log (a Kubeflow step has no shared folder with it).
        self.to_log = False
        self.step = step
        self.max_output = max_output
        self.max_step = max_step
        self.cells: Dict[int, Dict[str, Any]] = {}
        self.current: Optional[List[Dict[str, Any]]] = None
        self.total = 0
        self.step_full = False
        self._cut_streams: set = set()
        self._real_out: Any = None
        self._tees: Tuple[Any, ...] = ()

    # --- set-up -------------------------------------------------------------------------------------------------
    def install(self) -> None:
        import builtins

        self._real_out = sys.stdout
        sys.stdout = tee_stream(sys.stdout, "stdout", self)
        sys.stderr = tee_stream(sys.stderr, "stderr", self)
        self._tees = (sys.stdout, sys.stderr)
        builtins.display = self.display  # type: ignore[attr-defined]
        patches = {"IPython.core.display_functions": self._patch_ipython, "IPython.core.display": self._patch_ipython,
                   "matplotlib.pyplot": self._patch_pyplot}
        for name, patch in patches.items():
            if name in sys.modules:
                patch(sys.modules[name])
        sys.meta_path.insert(0, _PostImport(patches))

    def _patch_ipython(self, module: Any) -> None:
        if hasattr(module, "display"):
            module.display = self.display
        if hasattr(module, "publish_display_data"):
            module.publish_display_data = self.publish_display_data

    def _patch_pyplot(self, module: Any) -> None:
        def show(*args: Any, **kwargs: Any) -> None:
            self.flush_figures()

        module.show = show

    # --- cells --------------------------------------------------------------------------------------------------
    def _settle(self) -> None:
        """A line still pending in the line-buffered streams belongs to what came before: out with it."""
        for tee in self._tees:
            try:
                tee.flush()
            except Exception:
                pass

    def begin(self, index: int, cell_id: Optional[str], count: int) -> None:
        self._settle()
        entry = {"id": cell_id, "executionCount": count, "outputs": []}
        self.cells[index] = entry
        self.current = entry["outputs"]

    def end(self) -> None:
        self._settle()
        if self.current is not None:
            self.flush_figures()
        self.current = None

    def _add(self, output: Dict[str, Any]) -> None:
        self._settle()
        if self.current is None or self.step_full:
            return
        size = _output_size(output)
        if size > self.max_output:
            what = ", ".join(k for k in output.get("data", {})) or output["output_type"]
            output = self._note("a %s output of %s was left out: it is over the %s limit for one output"
                                % (what, _size_text(size), _size_text(self.max_output)))
            size = _output_size(output)
        if self.total + size > self.max_step:
            self.step_full = True
            self.current.append(self._note("the step's outputs reached the %s limit: later outputs are not kept"
                                           % _size_text(self.max_step)))
            return
        self.total += size
        self.current.append(output)

    @staticmethod
    def _note(text: str) -> Dict[str, Any]:
        return {"output_type": "stream", "name": "stderr", "text": "[cellpipe] %s\n" % text}

    def stream(self, name: str, text: str) -> None:
        """Appends to the cell's last output when it is the same stream, as Jupyter's front end merges them. The
        pieces are kept in a list and joined once when the file is written: ``text += piece`` per print copies the
        whole stream each time, which made a step printing 100k lines take minutes."""
        outs = self.current
        if outs is None or self.step_full or not text:
            return
        key = (id(outs), name)
        if key in self._cut_streams:
            return
        last = outs[-1] if outs else None
        if not (last and last["output_type"] == "stream" and last["name"] == name and not last.get("_note")):
            last = {"output_type": "stream", "name": name, "text": "", "_parts": [], "_size": 0}
            outs.append(last)
        elif "_parts" not in last:  # a stream output added whole (a note): continue from its text
            last["_parts"], last["_size"] = [last["text"]], len(last["text"])
        room = min(self.max_output - last["_size"], self.max_step - self.total)
        if len(text) > room:
            text = text[:max(room, 0)]
            self._cut_streams.add(key)
            if self.max_step - self.total - len(text) <= 0:
                self.step_full = True
        last["_parts"].append(text)
        last["_size"] += len(text)
        self.total += len(text)
        if key in self._cut_streams:
            note = self._note("%s was cut here: it is over the %s limit" % (
                name, _size_text(self.max_output) if not self.step_full else _size_text(self.max_step) + " step"))
            note["_note"] = True
            outs.append(note)

    def display(self, *objs: Any, include: Any = None, exclude: Any = None, metadata: Any = None,
                raw: bool = False, **_ignored: Any) -> None:
        """``display(...)`` as in IPython: one ``display_data`` per object, its text form in the log as before."""
        self._settle()
        for obj in objs:
            if raw and isinstance(obj, dict):
                data, md = dict(obj), dict(metadata or {})
            else:
                data, md = format_object(obj, include, exclude)
                if metadata:
                    md.update(metadata)
            self._log_text(data)
            self._add({"output_type": "display_data", "data": data, "metadata": md})

    def publish_display_data(self, data: Dict[str, Any], metadata: Any = None, **_ignored: Any) -> None:
        self._settle()
        self._log_text(data)
        self._add({"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})})

    def _log_text(self, data: Dict[str, Any]) -> None:
        if "text/plain" in data and self._real_out is not None:
            self._real_out.write("%s\n" % data["text/plain"])  # the real stream: it is a display, not a stream

    def result(self, value: Any, count: int) -> None:
        if value is None:
            return
        import builtins

        builtins._ = value  # type: ignore[attr-defined]  # as IPython's display hook does
        data, md = format_object(value)
        self._add({"output_type": "execute_result", "execution_count": count, "data": data, "metadata": md})

    def error(self, exc: BaseException) -> None:
        from .errors import StepError, format_traceback

        if isinstance(exc, StepError):
            shown = exc.__cause__ if exc.__cause__ is not None else exc
            ename, evalue = exc.kind, exc.message
        else:
            shown, ename, evalue = exc, type(exc).__name__, str(exc)
        self._add({"output_type": "error", "ename": ename, "evalue": evalue,
                   "traceback": format_traceback(shown).rstrip("\n").split("\n")})

    def flush_figures(self) -> None:
        """Every open matplotlib figure as a PNG display, then closed (``%matplotlib inline`` at a cell's end)."""
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None or self.current is None:
            return
        import base64
        import io

        for num in plt.get_fignums():
            fig = plt.figure(num)
            buf = io.BytesIO()
            try:
                fig.savefig(buf, format="png", bbox_inches="tight")
            except Exception as err:  # a figure that can't be drawn must not fail the step
                self._add(self._note("figure %s could not be drawn: %s" % (num, err)))
                continue
            self._add({"output_type": "display_data", "metadata": {},
                       "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                                "text/plain": repr(fig)}})
        plt.close("all")

    # --- the file -----------------------------------------------------------------------------------------------
    def write(self) -> None:
        cells = {}
        for index, entry in sorted(self.cells.items()):
            outs = [{k: v for k, v in _joined(o).items() if not k.startswith("_")} for o in entry["outputs"]]
            cells[str(index)] = dict(entry, outputs=outs)
        doc = {"format": FORMAT, "step": self.step, "cells": cells}
        text = json.dumps(doc, default=str)
        if self.path:
            _write_atomically(self.path, text)
        if self.html_path:
            from .outputs_html import render

            _write_atomically(self.html_path, render(json.loads(text)))
        if self.to_log:
            write_log_chunks(text, sys.__stderr__)


def _joined(output: Dict[str, Any]) -> Dict[str, Any]:
    """A stream output with its pieces (``Recorder.stream``) joined into its text; other outputs as they are."""
    parts = output.get("_parts")
    if parts is not None:
        output["text"] = "".join(parts)
        output["_parts"] = [output["text"]]
    return output


LOG_PREFIX = "[cellpipe] cell-outputs "
# Short lines: a kubelet splits longer ones into partial records, which its log API interleaves with timestamps.
LOG_CHUNK = 8000


def write_log_chunks(text: str, stream: Any) -> None:
    """The outputs document, zlib-compressed and base64-encoded, as numbered lines (``src/runs/cell-outputs-log.ts``
    reassembles them)."""
    import base64
    import zlib

    data = base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")
    chunks = [data[i:i + LOG_CHUNK] for i in range(0, len(data), LOG_CHUNK)] or [""]
    for i, chunk in enumerate(chunks, 1):
        stream.write("%s%d/%d %s\n" % (LOG_PREFIX, i, len(chunks), chunk))
    stream.flush()


def _write_atomically(path: str, text: str) -> None:
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = "%s.tmp" % path
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def split_last_expression(source: str, filename: str) -> Tuple[Any, Any]:
    """Compiles a cell as IPython runs it: the statements, then its last statement on its own when that is a bare
    expression (its value is the cell's result) unless a ``;`` ends the cell. (code, expression code or None)."""
    import ast

    tree = ast.parse(source, filename)
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr) or _quiet(source, last):
        return compile(tree, filename, "exec", dont_inherit=True), None
    body = ast.Module(body=tree.body[:-1], type_ignores=[])
    return (compile(body, filename, "exec", dont_inherit=True),
            compile(ast.Expression(last.value), filename, "eval", dont_inherit=True))


def _quiet(source: str, node: Any) -> bool:
    lines = source.split("\n")
    rest = lines[node.end_lineno - 1].encode("utf-8")[node.end_col_offset:].decode("utf-8", "replace")
    tail = "\n".join([rest] + lines[node.end_lineno:])
    for line in tail.split("\n"):
        code = line.split("#", 1)[0].strip()
        if code:
            return code.startswith(";")
    return False
