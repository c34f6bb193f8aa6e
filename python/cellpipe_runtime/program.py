"""The step program (``cellpipe.step/v1``) and the typed binding of pipeline parameters.

A step program is what the compiler hands to the runtime: the cells to run (prelude then the step's own cells),
the parameters with their declared types, and the names of the step's inputs, outputs and metrics.
"""
from __future__ import annotations

import json
import math
import os
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Dict, List, Optional

from .errors import StepError, cell_filename

FORMAT = "cellpipe.step/v1"
PARAMETER_TYPES = ("int", "float", "str", "bool", "list", "dict")
CELL_ROLES = ("imports", "functions", "pipeline-parameters", "pipeline-metrics", "skip", "step")


class Cell:
    def __init__(self, index: int, role: str, source: str, id: Optional[str] = None):
        self.index = index
        self.role = role
        self.source = source
        self.id = id

    @property
    def filename(self) -> str:
        """The name the cell's code is compiled under; tracebacks are translated back from it."""
        return cell_filename(self.index)

    @property
    def first_line(self) -> str:
        return first_line(self.source)


class Program:
    def __init__(self, pipeline: str, step: str, notebook: str, cells: List[Cell], parameters: Dict[str, str],
                 inputs: List[str], outputs: List[str], metrics: List[str], extra: Optional[Dict[str, Any]] = None):
        self.pipeline = pipeline
        self.step = step
        self.notebook = notebook
        self.cells = cells
        self.parameters = parameters  # name -> declared type, in declaration order
        self.inputs = inputs
        self.outputs = outputs
        self.metrics = metrics
        self.extra = extra or {}


def first_line(source: str, limit: int = 60) -> str:
    """First non-empty line of a cell, shortened: how messages name a cell to a person (as the compiler does)."""
    for line in source.split("\n"):
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "\u2026"
    return ""


def load_program(spec: str) -> Program:
    """Reads ``--program``: a path to a JSON file, or the JSON text itself when it starts with ``{``."""
    text = spec
    where = "the --program JSON text"
    if not spec.lstrip().startswith("{"):
        where = "program file %s" % spec
        try:
            with open(spec, "r", encoding="utf-8") as fh:
                text = fh.read()
        except OSError as err:
            raise StepError("cannot read the step program %s: %s" % (spec, err.strerror or err),
                            kind="ProgramError") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise StepError("%s is not valid JSON: %s" % (where, err), kind="ProgramError") from None
    return parse_program(data, where)


def _fail(where: str, what: str) -> StepError:
    return StepError("%s: %s (expected a %s program as the cellpipe compiler writes it)" % (where, what, FORMAT),
                     kind="ProgramError")


def _names(data: dict, key: str, where: str) -> List[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.isidentifier() for v in value):
        raise _fail(where, "'%s' must be a list of Python variable names" % key)
    return list(value)


def parse_program(data: Any, where: str = "step program") -> Program:
    if not isinstance(data, dict):
        raise _fail(where, "the program must be a JSON object")
    if data.get("format") != FORMAT:
        raise _fail(where, "unsupported format %r" % (data.get("format"),))
    for key in ("pipeline", "step"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise _fail(where, "'%s' must be a non-empty string" % key)
    cells_raw = data.get("cells")
    if not isinstance(cells_raw, list):
        raise _fail(where, "'cells' must be a list")
    cells = []
    for n, c in enumerate(cells_raw):
        if not isinstance(c, dict) or not isinstance(c.get("index"), int) or not isinstance(c.get("source"), str):
            raise _fail(where, "cells[%d] must be an object with an integer 'index' and a string 'source'" % n)
        role = c.get("role", "step")
        if role not in CELL_ROLES:
            raise _fail(where, "cells[%d] has unknown role %r" % (n, role))
        cid = c.get("id")
        cells.append(Cell(index=c["index"], role=role, source=c["source"], id=cid if isinstance(cid, str) else None))
    params_raw = data.get("parameters", [])
    if not isinstance(params_raw, list):
        raise _fail(where, "'parameters' must be a list")
    parameters: Dict[str, str] = {}
    for n, p in enumerate(params_raw):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"].isidentifier():
            raise _fail(where, "parameters[%d] must have a 'name' that is a Python variable name" % n)
        if p.get("type") not in PARAMETER_TYPES:
            raise _fail(where, "parameter %s has type %r; expected one of %s"
                        % (p["name"], p.get("type"), ", ".join(PARAMETER_TYPES)))
        parameters[p["name"]] = p["type"]
    known = {"format", "pipeline", "step", "notebook", "cells", "parameters", "inputs", "outputs", "metrics"}
    return Program(
        pipeline=data["pipeline"],
        step=data["step"],
        notebook=data.get("notebook") if isinstance(data.get("notebook"), str) else "",
        cells=cells,
        parameters=parameters,
        inputs=_names(data, "inputs", where),
        outputs=_names(data, "outputs", where),
        metrics=_names(data, "metrics", where),
        extra={k: v for k, v in data.items() if k not in known},
    )


_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
               "list": "a JSON list", "dict": "a JSON object"}


def convert_parameter(name: str, ptype: str, text: str) -> Any:
    """Converts a ``--param`` value from its text form (as KFP passes it) to the declared Python type."""

    def bad(why: str = "") -> StepError:
        shown = text if len(text) <= 80 else text[:77] + "..."
        return StepError(
            "parameter %s is declared as %s (%s) but got %r%s; pass e.g. --param %s=%s"
            % (name, ptype, _TYPE_WORDS[ptype], shown, (": " + why) if why else "", name, _EXAMPLES[ptype]),
            kind="ParameterError")

    if ptype == "str":
        return text
    stripped = text.strip()
    if ptype == "bool":
        low = stripped.lower()
        if low == "true":
            return True
        if low == "false":
            return False
        raise bad()
    if ptype == "int":
        try:
            return int(stripped, 10)
        except ValueError:
            pass
        try:
            number = float(stripped)
        except ValueError:
            raise bad() from None
        # KFP renders numbers as doubles; accept 3.0 / 1e3 for an int, never 3.5.
        if math.isfinite(number) and number.is_integer() and stripped.lower() not in ("nan", "inf"):
            return int(number)
        raise bad("not a whole number")
    if ptype == "float":
        try:
            return float(stripped)
        except ValueError:
            raise bad() from None
    # list / dict: JSON text
    try:
        value = json.loads(stripped)
    except ValueError as err:
        raise bad("not valid JSON (%s)" % err) from None
    want = list if ptype == "list" else dict
    if not isinstance(value, want):
        raise bad("JSON %s, not %s" % (type(value).__name__, "a list" if ptype == "list" else "an object"))
    return value


_EXAMPLES = {"int": "3", "float": "0.5", "str": "text", "bool": "true", "list": "'[1, 2]'", "dict": "'{\"k\": 1}'"}


def bind_parameters(program: Program, pairs: List[str]) -> Dict[str, Any]:
    """Turns ``NAME=VALUE`` pairs into typed values; every declared parameter must get exactly one value."""
    values: Dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise StepError("--param %r must look like NAME=VALUE" % pair, kind="ParameterError")
        if name not in program.parameters:
            declared = ", ".join(program.parameters) or "none"
            raise StepError("step %s has no parameter %r (declared parameters: %s)" % (program.step, name, declared),
                            kind="ParameterError")
        if name in values:
            raise StepError("parameter %s is given twice" % name, kind="ParameterError")
        values[name] = convert_parameter(name, program.parameters[name], text)
    missing = [n for n in program.parameters if n not in values]
    if missing:
        raise StepError("step %s needs a value for parameter%s %s; pass --param %s=VALUE"
                        % (program.step, "s" if len(missing) > 1 else "", ", ".join(missing), missing[0]),
                        kind="ParameterError")
    return values


def parse_pairs(option: str, pairs: List[str]) -> Dict[str, str]:
    """``--input NAME=DIR`` / ``--output NAME=DIR`` pairs as a dict (directories made absolute)."""
    out: Dict[str, str] = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name.isidentifier() or not path:
            raise StepError("%s %r must look like NAME=DIR with NAME a Python variable name" % (option, pair),
                            kind="UsageError")
        if name in out:
            raise StepError("%s %s is given twice" % (option, name), kind="UsageError")
        out[name] = os.path.abspath(path)
    return out
