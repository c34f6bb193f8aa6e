"""A step's final variables, saved and compared: what the pipeline-vs-notebook equivalence test needs.

``run ... --dump-variables DIR`` saves every variable the step's namespace holds at the end (except modules,
functions, classes, and names starting with ``_``) as an artifact directory ``DIR/<name>/``, plus
``DIR/variables.json``: ``{"step": ..., "saved": [names], "skipped": {name: why}}``.

The whole notebook run top to bottom is just one more program (all code cells, role ``step``) run with the same
option, so both sides are produced by the same code.

``python3 -m cellpipe_runtime compare EXPECTED DIR [DIR...]`` loads the variables of EXPECTED and of the DIRs (a later
DIR wins for a name several hold: give the steps in pipeline order) and compares values: ``==`` for plain values,
element-wise for numpy arrays and pandas objects (NaN equal to NaN), attribute by attribute for instances of classes
without ``__eq__``. It prints one line per difference and a JSON summary line on stdout; exit 0 when every compared name is equal and
none of EXPECTED's is missing from the DIRs (``--names a,b`` limits the comparison to those names).
"""
from __future__ import annotations

import json
import os
import sys
import types
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Dict, List, Optional, Tuple

from . import artifacts
from .errors import StepError

INDEX = "variables.json"


def is_variable(name: str, value: Any) -> bool:
    if name.startswith("_"):
        return False
    return not isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type))


def dump(namespace: Dict[str, Any], directory: str, step: str) -> Dict[str, Any]:
    os.makedirs(directory, exist_ok=True)
    saved: List[str] = []
    skipped: Dict[str, str] = {}
    for name in sorted(namespace):
        value = namespace[name]
        if not is_variable(name, value):
            continue
        try:
            artifacts.save(name, value, os.path.join(directory, name))
            saved.append(name)
        except StepError as err:
            skipped[name] = err.message
    index = {"step": step, "saved": saved, "skipped": skipped}
    with open(os.path.join(directory, INDEX), "w", encoding="utf-8") as fh:
        json.dump(index, fh, indent=1)
    return index


def _read_index(directory: str) -> Dict[str, Any]:
    try:
        with open(os.path.join(directory, INDEX), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as err:
        raise StepError("%s has no readable %s (made by run --dump-variables): %s" % (directory, INDEX, err),
                        kind="UsageError") from None


def equal(a: Any, b: Any, depth: int = 0) -> Tuple[bool, str]:
    """(equal?, why not) — exact equality that also works for arrays, frames and plain objects."""
    if depth > 50:
        return False, "nested too deeply to compare"
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(a, (pd.DataFrame, pd.Series, pd.Index)):
        if type(a) is not type(b):
            return False, "%s vs %s" % (type(a).__name__, type(b).__name__)
        return (True, "") if a.equals(b) else (False, "pandas values differ")
    if np is not None and isinstance(a, np.ndarray):
        if not isinstance(b, np.ndarray) or a.shape != b.shape or a.dtype != b.dtype:
            return False, "array shape/dtype differ: %s %s vs %s %s" % (
                getattr(a, "shape", "?"), getattr(a, "dtype", "?"), getattr(b, "shape", "?"), getattr(b, "dtype", "?"))
        try:
            same = bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        except TypeError:
            same = bool(np.array_equal(a, b))
        return (True, "") if same else (False, "array values differ")
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        if not (type(a).__name__ == type(b).__name__ and type(a).__module__ == type(b).__module__):
            return False, "type %s vs %s" % (artifacts.type_name(a), artifacts.type_name(b))
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return False, "length %d vs %d" % (len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            ok, why = equal(x, y, depth + 1)
            if not ok:
                return False, "[%d]: %s" % (i, why)
        return True, ""
    if isinstance(a, dict):
        if set(a) != set(b):
            return False, "keys differ: %s" % sorted(map(repr, set(a) ^ set(b)))[:5]
        for k in a:
            ok, why = equal(a[k], b[k], depth + 1)
            if not ok:
                return False, "[%r]: %s" % (k, why)
        return True, ""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True, ""  # NaN
    if type(a).__eq__ is object.__eq__ and hasattr(a, "__dict__"):
        return equal(vars(a), vars(b), depth + 1)
    try:
        result = a == b
        if isinstance(result, bool):
            return (True, "") if result else (False, "%s != %s" % (_short(a), _short(b)))
        return (True, "") if bool(result) else (False, "values differ")
    except Exception as err:
        return False, "can't compare: %s" % err


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(expected_dir: str, actual_dirs: List[str], names: Optional[List[str]] = None) -> int:
    expected = _read_index(expected_dir)
    where: Dict[str, str] = {}
    skipped_actual: Dict[str, str] = {}
    for d in actual_dirs:
        index = _read_index(d)
        for n in index["saved"]:
            where[n] = d
            skipped_actual.pop(n, None)
        for n, why in index.get("skipped", {}).items():
            where.pop(n, None)
            skipped_actual[n] = why
    wanted = names if names is not None else sorted(set(expected["saved"]) | set(where))
    summary: Dict[str, Any] = {"equal": [], "different": {}, "missing": [], "extra": [], "not_compared": {}}
    for n in wanted:
        in_expected = n in expected["saved"]
        if not in_expected and n in expected.get("skipped", {}):
            summary["not_compared"][n] = "expected: " + expected["skipped"][n]
            continue
        if n not in where:
            if n in skipped_actual:
                summary["not_compared"][n] = "actual: " + skipped_actual[n]
            elif in_expected:
                summary["missing"].append(n)
            continue
        if not in_expected:
            summary["extra"].append(n)
            continue
        a = artifacts.load(n, os.path.join(expected_dir, n))
        b = artifacts.load(n, os.path.join(where[n], n))
        ok, why = equal(a, b)
        if ok:
            summary["equal"].append(n)
        else:
            summary["different"][n] = why
            print("different: %s: %s" % (n, why))
    for n in summary["missing"]:
        print("missing: %s (the notebook run has it, the pipeline run does not)" % n)
    print(json.dumps(summary))
    return 0 if not summary["different"] and not summary["missing"] else 1


def main(argv: List[str]) -> int:
    names = None
    dirs: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--names"):
            value = arg.partition("=")[2] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
            if "=" not in arg:
                i += 1
            names = [n for n in value.split(",") if n]
        else:
            dirs.append(arg)
        i += 1
    if len(dirs) < 2:
        sys.stderr.write("usage: python3 -m cellpipe_runtime compare EXPECTED DIR [DIR...] [--names a,b]\n")
        return 2
    try:
        return compare(dirs[0], dirs[1:], names)
    except StepError as err:
        sys.stderr.write("cellpipe_runtime compare: %s\n" % err.message)
        return 2
