"""``python3 -m cellpipe_runtime run``: one pipeline step, start to finish.

bind parameters (declared types) → run the prelude (imports, functions cells) → load inputs → run the step's cells,
all in one fresh ``__main__`` namespace → save outputs → write metrics → exit 0. (Inputs load after the prelude
because unpickling one may need the classes and imports it defines.) ``display(...)`` works as in IPython's text
mode. Any failure: a traceback naming the notebook cell on stderr, the error record (``--error-record``), exit 1.
Command-line misuse exits 2.
"""
from __future__ import annotations

import builtins
import os
import sys
import time
import types
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Dict, List, Optional, Tuple

from . import artifacts, ordered
from .errors import (StepError, cell_label, error_record, format_traceback, register_cell_source, where_raised,
                     write_error_record)
from .program import Program, bind_parameters, load_program, parse_pairs


def _say(text: str) -> None:
    _flush()
    sys.stderr.write("[cellpipe] %s\n" % text)
    sys.stderr.flush()


class _LazyShell:
    """``__cellpipe__`` in the namespace: the magics helper, imported the first time transformed code calls it
    (most steps have no shell lines; functions from upstream steps may, so the name is always there)."""

    def __getattr__(self, name: str) -> Any:
        from .magics import Shell

        shell = Shell()
        self.__dict__.update({k: getattr(shell, k) for k in dir(shell) if not k.startswith("_")})
        return getattr(shell, name)


def _plural(n: int, word: str) -> str:
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0  # type: ignore[assignment]
    return str(n)


USAGE = ("usage: python3 -m cellpipe_runtime run --program PROGRAM [--param NAME=VALUE]... [--input NAME=DIR]...\n"
         "           [--output NAME=DIR]... [--metrics FILE [--kfp-executor-output FILE]] [--error-record FILE]\n"
         "           [--workdir DIR]\n"
         "           [--dump-variables DIR] [--cell-outputs FILE] [--cell-outputs-html FILE]\n"
         "           [--cell-outputs-log stderr]\n"
         "       python3 -m cellpipe_runtime compare EXPECTED DIR [DIR...] [--names a,b]\n"
         "       python3 -m cellpipe_runtime --version\n")
_REPEATED = {"--param": "param", "--input": "input", "--output": "output"}
_SINGLE = {"--program": "program", "--metrics": "metrics", "--error-record": "error_record", "--workdir": "workdir",
           "--dump-variables": "dump_variables", "--kfp-executor-output": "kfp_executor_output",
           "--cell-outputs": "cell_outputs", "--cell-outputs-html": "cell_outputs_html",
           "--cell-outputs-log": "cell_outputs_log"}


class UsageError(Exception):
    pass


def parse_args(argv: List[str]) -> types.SimpleNamespace:
    """The ``run`` options (argparse is not used: it costs more to import than the rest of a trivial step)."""
    args = types.SimpleNamespace(param=[], input=[], output=[], program=None, metrics=None, error_record=None,
                                 workdir=None, dump_variables=None, kfp_executor_output=None,
                                 cell_outputs=None, cell_outputs_html=None, cell_outputs_log=None)
    i = 0
    while i < len(argv):
        option, eq, value = argv[i].partition("=")
        if option not in _REPEATED and option not in _SINGLE:
            raise UsageError("unknown option %r" % argv[i])
        if not eq:
            if i + 1 >= len(argv):
                raise UsageError("%s needs a value" % option)
            i += 1
            value = argv[i]
        if option in _REPEATED:
            getattr(args, _REPEATED[option]).append(value)
        elif getattr(args, _SINGLE[option]) is not None:
            raise UsageError("%s is given twice" % option)
        else:
            setattr(args, _SINGLE[option], value)
        i += 1
    if args.program is None:
        raise UsageError("--program is required")
    return args


def _check_names(program: Program, option: str, given: Dict[str, str], declared: List[str]) -> None:
    missing = [n for n in declared if n not in given]
    if missing:
        raise StepError("step %s needs %s %s=DIR for %s" % (program.step, option, missing[0], ", ".join(missing)),
                        kind="UsageError")
    extra = [n for n in given if n not in declared]
    if extra:
        raise StepError("%s %s: step %s has no such %s (it declares: %s)"
                        % (option, extra[0], program.step, option.lstrip("-"), ", ".join(declared) or "none"),
                        kind="UsageError")


def _display(*objs: Any, **options: Any) -> None:
    """``display(...)`` as IPython shows it in text form: the repr of each object on its own line."""
    for obj in objs:
        print(obj if options.get("raw") and isinstance(obj, str) else repr(obj))


def fresh_namespace() -> Tuple[types.ModuleType, Dict[str, Any]]:
    """A new ``__main__`` module, installed as ``sys.modules['__main__']`` (pickle finds notebook names there)."""
    if not hasattr(builtins, "display"):  # IPython's builtin, common in notebooks: show the value in the log
        builtins.display = _display  # type: ignore[attr-defined]
    module = types.ModuleType("__main__")
    module.__dict__.update({"__builtins__": builtins, "__doc__": None, "__package__": None, "__spec__": None,
                            "__loader__": None})
    sys.modules["__main__"] = module
    return module, module.__dict__


def compile_cells(program: Program, ctx: artifacts.Context, split: bool = False,
                  skip: int = 0) -> List[Tuple[Any, Any, str, str]]:
    """Transforms (magics) and compiles every cell before anything runs: syntax errors fail fast. With ``split``
    (outputs are recorded) a cell's code is (statements, last expression or None), as IPython runs it. ``skip``
    leaves out the program's first cells (a warm start ran them already)."""
    compiled = []
    for cell in program.cells[skip:]:
        if cell.role in ("pipeline-parameters", "skip"):
            _say("%s (%s) is not run: %s" % (cell_label(cell.index), cell.role,
                 "its parameters are bound from --param" if cell.role == "pipeline-parameters" else "tagged skip"))
            continue
        register_cell_source(cell.filename, cell.source, cell.first_line, cell.id)
        plain = cell.source
        if "!" in plain or "%" in plain:  # IPython syntax is possible: turn it into plain Python
            from .magics import transform_cell

            plain, notes = transform_cell(cell.source, cell.index, cell.first_line, cell.id)
            for n in notes:
                _say(str(n))
        try:
            if split:
                from .outputs import split_last_expression

                code = split_last_expression(plain, cell.filename)
            else:
                code = compile(plain, cell.filename, "exec", dont_inherit=True)
        except SyntaxError as err:
            if err.lineno:
                original = cell.source.split("\n")
                if 0 < err.lineno <= len(original):
                    err.text = original[err.lineno - 1] + "\n"
            raise
        compiled.append((cell, code, plain, cell.source))
    return compiled


def _load_inputs(program: Program, inputs: Dict[str, str], ns: Dict[str, Any], loaded: List[str],
                 n_values: int, n_cells: int) -> None:
    for name in program.inputs:
        ns[name] = artifacts.load(name, inputs[name])
        loaded.append(name)
    _say("step %s: %s, %s%s, %s" % (
        program.step, _plural(n_values, "parameter"), _plural(len(loaded), "input"),
        (" (" + ", ".join(loaded) + ")") if loaded else "", _plural(n_cells, "cell")))


def _run_cell(cell: Any, code: Any, ns: Dict[str, Any], recorder: Any = None, count: int = 0) -> bool:
    """Runs one cell; False when it asked to stop the step early (``exit()`` / ``sys.exit(0)``).
    With a recorder, ``code`` is (statements, last expression or None) and what the cell shows is recorded."""
    if recorder is None:
        return _exec_cell(cell, code, ns)[0]
    recorder.begin(cell.index, cell.id, count)
    try:
        statements, expression = code
        if not _exec_cell(cell, statements, ns)[0]:
            return False
        if expression is not None:
            going_on, value = _exec_cell(cell, expression, ns, evaluate=True)
            if not going_on:
                return False
            recorder.result(value, count)
        return True
    except BaseException as exc:
        recorder.error(exc)
        raise
    finally:
        recorder.end()


def _exec_cell(cell: Any, code: Any, ns: Dict[str, Any], evaluate: bool = False) -> Tuple[bool, Any]:
    """(False, None) when the code asked to stop the step early, else (True, the expression's value or None)."""
    try:
        if evaluate:
            return True, eval(code, ns)
        exec(code, ns)
    except SystemExit as stop:
        if stop.code in (None, 0):
            _say("%s called exit(%s): the step's remaining cells are not run"
                 % (cell_label(cell.index), "" if stop.code is None else stop.code))
            return False, None
        raise StepError("%s (\"%s\") called exit(%r)" % (cell_label(cell.index), cell.first_line, stop.code),
                        kind="SystemExit", cell=cell.index, line=where_raised(stop)[1],
                        cell_id=cell.id, cell_first_line=cell.first_line) from stop
    return True, None


def run(args: types.SimpleNamespace, warm: Any = None) -> int:
    """One step. ``warm`` (in a child of the fork server, ``forkserver.py``) holds the namespace in which the
    program's leading imports cells already ran, with their recorded outputs; the rest runs as it would cold."""
    started = time.monotonic()
    record_path = os.path.abspath(args.error_record) if args.error_record else None
    metrics_path = os.path.abspath(args.metrics) if args.metrics else None
    executor_output_path = os.path.abspath(args.kfp_executor_output) if args.kfp_executor_output else ""
    dump_path = os.path.abspath(args.dump_variables) if args.dump_variables else None
    cell_outputs_path = os.path.abspath(args.cell_outputs) if args.cell_outputs else None
    html_path = os.path.abspath(args.cell_outputs_html) if args.cell_outputs_html else None
    if args.cell_outputs_log not in (None, "stderr"):
        return _fail(StepError("--cell-outputs-log takes 'stderr', not %r" % args.cell_outputs_log, kind="UsageError"), "?", record_path)
    to_log = args.cell_outputs_log == "stderr"
    recorder = None
    step = "?"
    try:
        program = load_program(args.program)
        step = program.step
        values = bind_parameters(program, args.param)
        inputs = parse_pairs("--input", args.input)
        outputs = parse_pairs("--output", args.output)
        _check_names(program, "--input", inputs, program.inputs)
        _check_names(program, "--output", outputs, program.outputs)
        workdir = os.path.abspath(args.workdir) if args.workdir else os.getcwd()
        try:
            os.chdir(workdir)
        except OSError as err:
            raise StepError("--workdir %s: %s" % (workdir, err.strerror or err), kind="UsageError") from None
        sys.path.insert(0, workdir)  # modules next to the notebook import as they do in Jupyter
        sys.argv = [program.notebook or program.step]
        os.environ.setdefault("MPLBACKEND", "Agg")

        done = 0
        if warm is not None:
            done = warm.adopt(program)
            ns, ctx = warm.ns, warm.ctx
            if cell_outputs_path or html_path or to_log:
                recorder = warm.recorder
                recorder.path, recorder.step = cell_outputs_path, step
                recorder.html_path, recorder.to_log = html_path, to_log
        else:
            if cell_outputs_path or html_path or to_log:
                from .outputs import Recorder

                recorder = Recorder(cell_outputs_path, step)
                recorder.html_path, recorder.to_log = html_path, to_log
                recorder.install()
            module, ns = fresh_namespace()
            ctx = artifacts.Context(ns)
            artifacts.set_context(ctx)
            ns["__cellpipe__"] = _LazyShell()
        # From here on stderr's lines reach the log in the order they were written among stdout's (ordered.py).
        ordered.install()
        compiled = compile_cells(program, ctx, split=recorder is not None, skip=done)
        if warm is not None:
            warm.replay()

        ns.update(values)
        # The prelude (imports, functions) runs first: unpickling an input may need its imports and classes.
        n_prelude = 0
        while n_prelude < len(compiled) and compiled[n_prelude][0].role in ("imports", "functions"):
            n_prelude += 1
        loaded: List[str] = []
        inputs_loaded = False
        for k, (cell, code, plain, original) in enumerate(compiled):
            if k == n_prelude:
                _load_inputs(program, inputs, ns, loaded, len(values), done + len(compiled))
                inputs_loaded = True
            ctx.add_cell(cell.filename, plain, original)
            if not _run_cell(cell, code, ns, recorder, done + k + 1):
                break
        if not inputs_loaded:  # no step cells (or the prelude stopped early): the inputs are still outputs' sources
            _load_inputs(program, inputs, ns, loaded, len(values), done + len(compiled))

        saved = []
        for name in program.outputs:
            if name not in ns:
                raise StepError("step %s should pass the variable '%s' to later steps, but it is not defined after "
                                "the step's cells ran" % (step, name), kind="OutputError")
            meta = artifacts.save(name, ns[name], outputs[name])
            saved.append("%s (%s, %s)" % (name, meta["format"], _size(meta["bytes"])))

        if metrics_path:
            from . import metrics

            for n in metrics.write(metrics_path, metrics.collect(program.metrics, ns, step), executor_output_path):
                _say(n)
        if dump_path:
            from . import variables

            index = variables.dump(ns, dump_path, step)
            for name, why in index["skipped"].items():
                _say("--dump-variables: %s not saved: %s" % (name, why))
        _say("step %s: done in %.2fs%s" % (step, time.monotonic() - started,
                                           ("; saved " + ", ".join(saved)) if saved else ""))
        _flush()
        return 0
    except BaseException as exc:  # the user's code can raise anything, KeyboardInterrupt included
        return _fail(exc, step, record_path)
    finally:
        if recorder is not None:
            _write_outputs(recorder)


def _write_outputs(recorder: Any) -> None:
    try:
        recorder.write()
    except OSError as err:
        sys.stderr.write("[cellpipe] could not write the cell outputs %s: %s\n" % (recorder.path, err))


def _flush() -> None:
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass


def _fail(exc: BaseException, step: str, record_path: Optional[str]) -> int:
    _flush()
    record = error_record(exc, step)
    where = ""
    if record.get("cell") is not None:
        where = ' in %s ("%s")' % (cell_label(record["cell"]), record.get("cellFirstLine", ""))
        if record.get("line") is not None:
            where += ", line %s" % record["line"]
        # A function of another cell raised: where the step's own code called it (a pod's log is all Kubeflow keeps).
        call = (record.get("calledFrom") or [None])[0]
        if call is not None:
            where += ", called from %s, line %s" % (cell_label(call["cell"]), call["line"])
    if isinstance(exc, StepError):
        if record.get("traceback"):
            sys.stderr.write(record["traceback"])
        sys.stderr.write("[cellpipe] step %s failed%s: %s\n" % (step, where, exc.message))
    else:
        sys.stderr.write(record.get("traceback") or format_traceback(exc))
        sys.stderr.write("[cellpipe] step %s failed%s: %s\n" % (step, where, record["message"]))
    _flush()
    if record_path:
        try:
            write_error_record(record_path, record)
        except OSError as err:
            sys.stderr.write("[cellpipe] could not write the error record %s: %s\n" % (record_path, err))
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


def main(argv: Optional[List[str]] = None, warm: Any = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
        except Exception:
            pass
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from . import version

    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(USAGE)
        return 0 if argv else 2
    if argv[0] in ("--version", "-V", "version"):
        sys.stdout.write(version() + "\n")
        return 0
    if argv[0] == "compare":
        from . import variables

        return variables.main(argv[1:])
    if argv[0] == "forkserver":
        from . import forkserver

        return forkserver.main(argv[1:])
    if argv[0] != "run":
        sys.stderr.write("cellpipe_runtime: unknown command %r\n%s" % (argv[0], USAGE))
        return 2
    if any(a in ("-h", "--help") for a in argv[1:]):
        sys.stdout.write(USAGE)
        return 0
    try:
        args = parse_args(argv[1:])
    except UsageError as err:
        sys.stderr.write("cellpipe_runtime run: %s\n%s" % (err, USAGE))
        return 2
    return run(args, warm)
