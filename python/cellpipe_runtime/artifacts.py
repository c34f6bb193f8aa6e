"""Saving a step's output variables and loading them in downstream steps.

Artifact directory (one per variable; ``--output NAME=DIR`` creates it, ``--input NAME=DIR`` reads it)::

    DIR/cellpipe.json   {"artifact": "cellpipe.artifact/v1", "name": "x", "format": "json", "file": "data.json",
                         "python_type": "builtins.dict", "python": "3.11", "bytes": 123}
    DIR/data.<ext>      the value

``cellpipe.json`` is written last, so a directory without it is an incomplete artifact. ``format`` is picked per
value, each only when its library is importable:

========  ===========  ============================================================================================
format    file         used for
========  ===========  ============================================================================================
json      data.json    ``None``/``bool``/``int``/finite ``float``/``str`` and lists / string-keyed dicts of them
                       (exact built-in types only, so the value comes back identical; other programs can read it)
npy       data.npy     ``numpy.ndarray`` without Python objects inside (``allow_pickle=False`` both ways)
feather   data.arrow   pandas ``DataFrame``/``Series`` with string column names, when ``pyarrow`` is importable:
                       Arrow IPC (Feather v2, lz4), written and read by pyarrow with pandas' metadata, so index,
                       dtypes (categorical, tz-aware, nullable) come back as they were — as lossless as parquet
                       and, on a 100 MB frame, 2-4× faster to write and read back (``bench/artifact_formats.py``).
                       Pickle reads such a frame faster still, but only with the same pandas version: steps may
                       run in different images (and ``cellpipe.load`` in another kernel), so frames stay columnar.
                       A Series is stored as a one-column frame, its name kept in ``series_name``. ``parquet``
                       artifacts (written by earlier versions) are still read.
joblib    data.joblib  scikit-learn estimators, when ``joblib`` is importable and nothing defined in the notebook
                       is inside them
pickle    data.pkl     everything else (protocol 5)
========  ===========  ============================================================================================

Functions and classes defined in the notebook (module ``__main__``) travel *by value*, so a downstream step can call
a function defined upstream: a function is stored as its marshalled code object, name, defaults, closure values and
attributes, and rebuilt with ``types.FunctionType`` against the loading step's globals (the same Python minor version
is required — marshal is version specific); a class is stored as the source of its ``class`` statement (found in the
notebook cell that defined it) and re-executed in the loading step's namespace; instances of such classes follow.
Modules (``import re`` in a step cell, used downstream) are stored by name and imported again.
A class defined identically in the loading step (e.g. in a ``functions`` cell) is reused, so ``isinstance`` holds.

``CELLPIPE_NO_SERIALIZERS=pyarrow,joblib`` turns the optional libraries off (artifacts then need only numpy/pandas).
"""
from __future__ import annotations

import json
import math
import os
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Dict, List, Optional, Tuple

from .errors import StepError

ARTIFACT = "cellpipe.artifact/v1"
META = "cellpipe.json"
SERIES_COLUMN = "__cellpipe_series__"


def _disabled() -> set:
    return {s.strip() for s in os.environ.get("CELLPIPE_NO_SERIALIZERS", "").split(",") if s.strip()}


def _available(module: str) -> bool:
    if module in _disabled():
        return False
    if module in sys.modules:
        return True
    try:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def type_name(value: Any) -> str:
    t = type(value)
    return "%s.%s" % (t.__module__, t.__qualname__)


# --------------------------------------------------------------------------------------------------------------
# The step's namespace as pickling and unpickling see it.

class Context:
    """What the (un)picklers need to know about the running step: its globals and the notebook code it ran."""

    def __init__(self, namespace: Dict[str, Any]):
        self.globals = namespace
        # (filename, plain-Python source) of the cells run so far, in order: where class statements are found.
        self.cells: List[Tuple[str, str]] = []
        self.originals: Dict[str, str] = {}  # filename -> the cell's source as the user wrote it
        self.class_sources: Dict[type, Tuple[str, int, str]] = {}  # classes rebuilt from upstream steps
        self._rebuilt: Dict[Tuple[str, int, str], type] = {}
        self._parsed: Dict[str, Any] = {}

    def add_cell(self, filename: str, plain_source: str, original: str) -> None:
        self.cells.append((filename, plain_source))
        self.originals[filename] = original

    def class_source(self, cls: type) -> Optional[Tuple[str, int, str]]:
        """(cell filename, first line, source text) of the ``class`` statement that made ``cls``."""
        import ast
        import textwrap

        known = self.class_sources.get(cls)
        if known is not None:
            return known
        for filename, source in reversed(self.cells):
            tree = self._parse(filename, source)
            if tree is None:
                continue
            found = None
            stack = list(tree.body)  # statements at module level, also inside if/for/while/try/with blocks
            while stack:
                node = stack.pop(0)
                if isinstance(node, ast.ClassDef):
                    if node.name == cls.__name__ and (found is None or node.lineno > found.lineno):
                        found = node  # the last definition in the cell is the one that ran last
                    continue
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for field in ("body", "orelse", "finalbody", "handlers"):
                    stack.extend(getattr(node, field, None) or [])
            if found is None:
                continue
            start = min([found.lineno] + [d.lineno for d in found.decorator_list])
            end = getattr(found, "end_lineno", None) or found.lineno
            lines = source.split("\n")[start - 1: end]
            result = (filename, start, textwrap.dedent("\n".join(lines)) + "\n")
            return result
        return None

    def _parse(self, filename: str, source: str) -> Any:
        import ast

        if filename not in self._parsed:
            try:
                self._parsed[filename] = ast.parse(source, filename)
            except SyntaxError:
                self._parsed[filename] = None
        return self._parsed[filename]

    def sources_for(self, filename: str) -> Dict[str, Tuple[str, str, Optional[str]]]:
        """The original source of a notebook cell, so tracebacks in other steps can show its lines."""
        if filename in self.originals:
            from .errors import CELL_INFO

            first, cid = CELL_INFO.get(filename, ("", None))
            return {filename: (self.originals[filename], first, cid)}
        return {}


_CONTEXT: Optional[Context] = None


def set_context(ctx: Context) -> None:
    global _CONTEXT
    _CONTEXT = ctx


def current_context() -> Optional[Context]:
    return _CONTEXT


def _context() -> Context:
    if _CONTEXT is None:  # loading outside a step run (e.g. inspecting an artifact): a private namespace
        set_context(Context({"__name__": "__main__", "__builtins__": __builtins__}))
    assert _CONTEXT is not None
    return _CONTEXT


# --------------------------------------------------------------------------------------------------------------
# Choosing a format.

def _json_exact(value: Any, depth: int = 0) -> bool:
    """True when JSON gives back exactly this value (types included)."""
    if depth > 100:
        return False
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return True
    if t is float:
        return math.isfinite(value)
    if t is list:
        return all(_json_exact(v, depth + 1) for v in value)
    if t is dict:
        return all(type(k) is str and _json_exact(v, depth + 1) for k, v in value.items())
    return False


def _numpy_array(value: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and type(value) is np.ndarray and not value.dtype.hasobject


def _pandas_kind(value: Any) -> Optional[str]:
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    if type(value) is pd.DataFrame:
        return "frame"
    if type(value) is pd.Series:
        return "series"
    return None


def _sklearn_estimator(value: Any) -> bool:
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(value, base.BaseEstimator)


def _clear(directory: str) -> None:
    for entry in os.listdir(directory):
        if entry == META or entry.startswith("data.") or entry.startswith(".tmp-"):
            os.remove(os.path.join(directory, entry))


def save(name: str, value: Any, directory: str) -> Dict[str, Any]:
    """Writes ``value`` into the artifact directory; raises StepError naming the variable when it can't."""
    os.makedirs(directory, exist_ok=True)
    _clear(directory)
    extra: Dict[str, Any] = {}
    try:
        fmt, file = _write(value, directory, extra)
    except StepError:
        raise
    except RecursionError:
        raise _unsaveable(name, value, "it is nested too deeply (or refers to itself through notebook functions)")
    except Exception as err:  # pickle raises TypeError, PicklingError, AttributeError... for what it can't store
        raise _unsaveable(name, value, str(err) or type(err).__name__) from err
    finally:
        for entry in os.listdir(directory):
            if entry.startswith(".tmp-"):
                os.remove(os.path.join(directory, entry))
    meta = {"artifact": ARTIFACT, "name": name, "format": fmt, "file": file, "python_type": type_name(value),
            "python": "%d.%d" % sys.version_info[:2], "bytes": os.path.getsize(os.path.join(directory, file))}
    meta.update(extra)
    tmp = os.path.join(directory, ".tmp-" + META)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    os.replace(tmp, os.path.join(directory, META))
    return meta


def _unsaveable(name: str, value: Any, why: str) -> StepError:
    return StepError(
        "output variable '%s' (a %s) can't be saved for the steps that use it: %s. Keep it inside one step, or "
        "turn it into data (numbers, lists, dicts, arrays, data frames) before the step ends"
        % (name, type_name(value), why), kind="OutputError")


def _commit(directory: str, fmt: str, ext: str, writer: Any) -> Tuple[str, str]:
    tmp = os.path.join(directory, ".tmp-data." + ext)
    writer(tmp)
    final = "data." + ext
    os.replace(tmp, os.path.join(directory, final))
    return fmt, final


def _write(value: Any, directory: str, extra: Dict[str, Any]) -> Tuple[str, str]:
    if _json_exact(value):
        def write_json(path: str) -> None:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(value, fh, allow_nan=False)  # ASCII escapes: lone surrogates too
        return _commit(directory, "json", "json", write_json)
    if _numpy_array(value) and "numpy" not in _disabled():
        np = sys.modules["numpy"]

        def write_npy(path: str) -> None:
            with open(path, "wb") as fh:
                np.save(fh, value, allow_pickle=False)
        return _commit(directory, "npy", "npy", write_npy)
    kind = _pandas_kind(value)
    if kind and _available("pyarrow"):
        frame = value
        if kind == "series":
            if value.name is not None and type(value.name) not in (str, int, float, bool):
                frame = None
            else:
                frame = value.to_frame(name=SERIES_COLUMN)
                extra["series_name"] = value.name
        if frame is not None and all(type(c) is str for c in frame.columns):
            try:
                return _commit(directory, "feather", "arrow", lambda path: _write_feather(frame, path))
            except Exception:
                extra.pop("series_name", None)  # mixed-type object columns etc.: pickle keeps them exactly
        extra.pop("series_name", None)
    from .byvalue import dumps, uses_notebook_code

    data = dumps(value)
    if _sklearn_estimator(value) and _available("joblib"):
        if not uses_notebook_code(value):
            import joblib  # type: ignore

            return _commit(directory, "joblib", "joblib", lambda path: joblib.dump(value, path))

    def write_pickle(path: str) -> None:
        with open(path, "wb") as fh:
            fh.write(data)
    return _commit(directory, "pickle", "pkl", write_pickle)


def _write_feather(frame: Any, path: str) -> None:
    import pyarrow  # type: ignore
    import pyarrow.feather  # type: ignore

    pyarrow.feather.write_feather(pyarrow.Table.from_pandas(frame), path)


def read_meta(directory: str) -> Dict[str, Any]:
    path = os.path.join(directory, META)
    try:
        with open(path, "r", encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise StepError("%s is not a cellpipe artifact (no %s): the step that should have written it did not "
                        "finish" % (directory, META), kind="InputError") from None
    except ValueError as err:
        raise StepError("%s is damaged: %s" % (path, err), kind="InputError") from None
    if meta.get("artifact") != ARTIFACT:
        raise StepError("%s has unknown artifact version %r" % (path, meta.get("artifact")), kind="InputError")
    return meta


def load(name: str, directory: str) -> Any:
    """Reads the value stored in an artifact directory."""
    meta = read_meta(directory)
    fmt = meta.get("format")
    path = os.path.join(directory, str(meta.get("file", "")))
    try:
        if fmt == "json":
            with open(path, "r", encoding="utf-8") as fh:
                return json.load(fh)
        if fmt == "npy":
            import numpy as np  # type: ignore

            return np.load(path, allow_pickle=False)
        if fmt in ("feather", "parquet"):
            if fmt == "feather":
                import pyarrow.feather  # type: ignore

                frame = pyarrow.feather.read_table(path).to_pandas()
            else:
                import pandas as pd  # type: ignore

                frame = pd.read_parquet(path)
            if "series_name" in meta:
                series = frame[SERIES_COLUMN]
                series.name = meta["series_name"]
                return series
            return frame
        if fmt == "joblib":
            import joblib  # type: ignore

            return joblib.load(path)
        if fmt == "pickle":
            import pickle

            from . import byvalue  # noqa: F401 - the pickle refers to its rebuild functions

            with open(path, "rb") as fh:
                return pickle.load(fh)
    except StepError as err:
        raise StepError("input variable '%s' (from %s) can't be loaded: %s" % (name, directory, err.message),
                        kind="InputError") from None
    except ImportError as err:
        raise StepError("input variable '%s' is a %s stored as %s, which needs the module %s; add it to this "
                        "step's requirements" % (name, meta.get("python_type"), fmt, err.name), kind="InputError") from None
    except Exception as err:
        raise StepError("input variable '%s' (a %s, from %s) can't be loaded: %s: %s"
                        % (name, meta.get("python_type"), directory, type(err).__name__, err),
                        kind="InputError") from err
    raise StepError("input variable '%s' in %s has unknown format %r" % (name, directory, fmt), kind="InputError")
