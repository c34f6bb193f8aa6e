"""Pickling notebook-defined functions and classes *by value* (see ``artifacts.py`` for the rules).

Imported only when a value needs pickle, so a step that passes plain data never pays for it. The rebuild functions
are referenced by name from the pickles: keep their names stable.
"""
from __future__ import annotations

import importlib
import io
import marshal
import pickle
import sys
import types
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Dict, Optional, Tuple

from .artifacts import _context, current_context
from .errors import CELL_INFO, StepError, register_cell_source

PROTOCOL = 5


# --------------------------------------------------------------------------------------------------------------
# Functions and classes by value.

class _Empty:
    """Marks a closure cell that had no value."""


def _is_notebook_function(fn: types.FunctionType) -> bool:
    ctx = current_context()
    return fn.__module__ == "__main__" or (ctx is not None and fn.__globals__ is ctx.globals)


def _reduce_function(fn: types.FunctionType) -> tuple:
    ctx = _context()
    closure = fn.__closure__ or ()
    values = []
    for c in closure:
        try:
            values.append(c.cell_contents)
        except ValueError:
            values.append(_Empty)
    sources = ctx.sources_for(fn.__code__.co_filename)
    args = (marshal.dumps(fn.__code__), fn.__name__, fn.__qualname__, len(closure),
            "%d.%d" % sys.version_info[:2], sources)
    state = (fn.__defaults__, fn.__kwdefaults__, tuple(values), dict(fn.__dict__) or None, fn.__doc__,
             dict(getattr(fn, "__annotations__", {}) or {}) or None)
    return (_rebuild_function, args, state, None, None, _set_function_state)


def _rebuild_function(code: bytes, name: str, qualname: str, ncells: int, python: str,
                      sources: Dict[str, Tuple[str, str, Optional[str]]]) -> types.FunctionType:
    here = "%d.%d" % sys.version_info[:2]
    if python != here:
        raise StepError("function %s was saved by Python %s and can't be loaded by Python %s; run every step "
                        "with the same Python version (same base image)" % (qualname, python, here),
                        kind="ArtifactError")
    for filename, (source, first, cid) in sources.items():
        if filename not in CELL_INFO:
            register_cell_source(filename, source, first, cid)
    closure = tuple(types.CellType() for _ in range(ncells)) if ncells else None
    fn = types.FunctionType(marshal.loads(code), _context().globals, name, None, closure)
    fn.__qualname__ = qualname
    return fn


def _set_function_state(fn: types.FunctionType, state: tuple) -> None:
    defaults, kwdefaults, values, attrs, doc, annotations = state
    fn.__defaults__ = defaults
    fn.__kwdefaults__ = kwdefaults
    for cell, value in zip(fn.__closure__ or (), values):
        if value is not _Empty:
            cell.cell_contents = value
    if attrs:
        fn.__dict__.update(attrs)
    fn.__doc__ = doc
    if annotations:
        fn.__annotations__ = annotations


def _reduce_class(cls: type) -> tuple:
    if "." in cls.__qualname__:
        raise pickle.PicklingError(
            "class %s is defined inside a function or another class; define it at the top level of a cell "
            "(a functions cell is best) so other steps can rebuild it" % cls.__qualname__)
    ctx = _context()
    found = ctx.class_source(cls)
    if found is None:
        raise pickle.PicklingError(
            "class %s was defined in the notebook, but its class statement isn't in this step's cells; "
            "define it in a functions cell so every step has it" % cls.__name__)
    filename, lineno, text = found
    bases = {b.__name__: b for b in cls.__bases__ if getattr(b, "__module__", None) == "__main__"}
    return (_rebuild_class, (cls.__name__, filename, lineno, text, bases, ctx.sources_for(filename)))


def _rebuild_class(name: str, filename: str, lineno: int, text: str, bases: Dict[str, type],
                   sources: Dict[str, Tuple[str, str, Optional[str]]]) -> type:
    ctx = _context()
    key = (filename, lineno, text)
    if key in ctx._rebuilt:
        return ctx._rebuilt[key]
    g = ctx.globals
    existing = g.get(name)
    if isinstance(existing, type) and existing.__module__ == "__main__" and ctx.class_source(existing) == key:
        ctx._rebuilt[key] = existing
        return existing
    for fname, (source, first, cid) in sources.items():
        if fname not in CELL_INFO:
            register_cell_source(fname, source, first, cid)
    names = set(bases) | {name}
    saved = {k: g[k] for k in names if k in g}
    g.update(bases)
    try:
        exec(compile("\n" * (lineno - 1) + text, filename, "exec"), g)
        cls = g[name]
    finally:
        for k in names:
            if k in saved:
                g[k] = saved[k]
            else:
                g.pop(k, None)
    ctx.class_sources[cls] = key
    ctx._rebuilt[key] = cls
    return cls


def _rebuild_lru_cache(fn: types.FunctionType, maxsize: Optional[int], typed: bool) -> Any:
    import functools

    return functools.lru_cache(maxsize=maxsize, typed=typed)(fn)


class NotebookPickler(pickle.Pickler):
    """Pickles notebook-defined functions and classes by value (everything else as pickle does)."""

    def __init__(self, file: Any):
        super().__init__(file, protocol=PROTOCOL)
        self.by_value = 0

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.ModuleType and obj.__name__ != "__main__":
            # `import pandas as pd` in a step cell makes `pd` an output like any other name: import it again.
            return (importlib.import_module, (obj.__name__,))
        if type(obj).__name__ == "_lru_cache_wrapper" and type(obj.__wrapped__) is types.FunctionType \
                and _is_notebook_function(obj.__wrapped__):
            # @functools.lru_cache / @cache on a notebook function: rebuild the cache around the function.
            params = obj.cache_parameters()
            return (_rebuild_lru_cache, (obj.__wrapped__, params["maxsize"], params["typed"]))
        if type(obj) is types.FunctionType:
            if _is_notebook_function(obj):
                self.by_value += 1
                return _reduce_function(obj)
            return NotImplemented
        if isinstance(obj, type) and getattr(obj, "__module__", None) == "__main__":
            self.by_value += 1
            return _reduce_class(obj)
        return NotImplemented


def dumps(value: Any) -> bytes:
    buf = io.BytesIO()
    NotebookPickler(buf).dump(value)
    return buf.getvalue()


def uses_notebook_code(value: Any) -> bool:
    """Whether pickling ``value`` needs notebook functions or classes by value (other picklers can't do that)."""
    probe = NotebookPickler(io.BytesIO())
    probe.dump(value)
    return probe.by_value > 0
