"""Running the cells: IPython syntax, failures that point at the notebook cell, metrics, the working directory."""
import json
import os

import pytest

from cellpipe_runtime.magics import expand, transform_cell
from cellpipe_runtime.errors import StepError
from test_runtime_support import outputs_for, program, read_json_artifact, run_step


# ---- failures name the cell and line --------------------------------------------------------------------------

def test_an_exception_in_the_notebooks_third_cell_says_cell_3_while_the_record_keeps_index_2(tmp_path):
    # The notebook: a markdown title (index 0), the imports (index 1), then the failing cell (index 2), which
    # JupyterLab's status bar calls "Cell 3". People read "cell 3"; the record's machine field is the index.
    cells = [(1, "import math", "imports"), (2, "ratio = math.pi / 0")]
    result = run_step(tmp_path, program("s", cells))
    assert result.code == 1
    record = result.record
    assert (record["cell"], record["line"]) == (2, 1)
    assert 'cell 3 ("ratio = math.pi / 0"), line 1, in <module>' in record["traceback"]
    assert '[cellpipe] step s failed in cell 3 ("ratio = math.pi / 0"), line 1: ZeroDivisionError' in result.stderr
    assert "cell 2" not in result.stderr


def test_a_step_error_about_the_third_cell_says_cell_3_in_its_message(tmp_path):
    result = run_step(tmp_path, program("s", [(2, "x = 1\n%sql SELECT 1")]))
    assert result.code == 1
    assert result.record["cell"] == 2
    assert result.record["message"].startswith('cell 3 ("x = 1"), line 2: ')


def test_python_itself_names_the_cell_as_jupyterlab_does_in_warnings(tmp_path):
    # Python prints the file name a cell is compiled under (warnings, tracebacks the user's code prints).
    result = run_step(tmp_path, program("s", [(2, "import warnings\nwarnings.warn('careful')")]))
    assert result.code == 0, result
    assert "<cell 3>:2: UserWarning: careful" in result.stderr

def test_a_failing_cell_reports_cell_line_and_writes_the_record(tmp_path):
    cells = [{"index": 1, "role": "imports", "source": "import random"},
             {"index": 5, "id": "c5-id", "role": "step",
              "source": "# kid1 gets a handful\nkid1 = get_handful(CANDIES)\nprint('never')"}]
    result = run_step(tmp_path, program("kid1", cells, parameters={"CANDIES": "int"}), params=["CANDIES=20"])
    assert result.code == 1, result
    # index 5 is JupyterLab's cell 6: the traceback says so, the record's machine field keeps the index
    assert 'cell 6 ("# kid1 gets a handful"), line 2, in <module>\n    kid1 = get_handful(CANDIES)\n' in result.stderr
    assert "NameError: name 'get_handful' is not defined" in result.stderr
    assert "runner.py" not in result.stderr  # the runtime's own frames are not shown
    record = result.record
    assert record["type"] == "NameError"
    assert record["message"] == "NameError: name 'get_handful' is not defined"
    assert (record["cell"], record["line"], record["cellId"], record["step"]) == (5, 2, "c5-id", "kid1")
    assert record["cellFirstLine"] == "# kid1 gets a handful"
    assert record["traceback"].startswith("Traceback (most recent call last):\n  cell 6 (")
    assert '[cellpipe] step kid1 failed in cell 6 ("# kid1 gets a handful"), line 2: NameError' in result.stderr


def test_an_error_inside_a_function_from_another_cell_shows_both_cells(tmp_path):
    cells = [(3, "def ratio(a, b):\n    scale = 10\n    return scale * a / b", "functions"),
             (7, "x = 1\ny = ratio(x, 0)")]
    result = run_step(tmp_path, program("s", cells))
    assert result.code == 1
    assert ('cell 8 ("x = 1"), line 2, in <module>\n    y = ratio(x, 0)\n'
            '  cell 4 ("def ratio(a, b):"), line 3, in ratio\n    return scale * a / b\n') in result.stderr
    # the record points at the innermost notebook frame: where it raised; and at the calling line in the step's cell
    assert (result.record["cell"], result.record["line"]) == (3, 3)
    assert result.record["calledFrom"] == [{"cell": 7, "line": 2}]
    # the failure line says it too (on Kubeflow the log is where the page reads it from)
    assert ('[cellpipe] step s failed in cell 4 ("def ratio(a, b):"), line 3, called from cell 8, line 2: '
            'ZeroDivisionError: division by zero') in result.stderr


def test_an_error_where_it_ran_has_no_calling_cells(tmp_path):
    result = run_step(tmp_path, program("s", [(2, "def f():\n    return 1 / 0\nf()")]))
    assert result.code == 1
    assert (result.record["cell"], result.record["line"]) == (2, 2)
    assert "calledFrom" not in result.record


def test_an_error_in_a_function_defined_upstream_shows_its_source_downstream(tmp_path):
    arts = outputs_for(tmp_path, "check")
    up = run_step(tmp_path, program("up", [(4, "def check(v):\n    if v < 0:\n        raise ValueError('negative: %d' % v)\n    return v")],
                                    outputs=["check"]), outputs=arts)
    assert up.code == 0, up
    down = run_step(tmp_path, program("down", [(8, "check(1)\ncheck(-2)")], inputs=["check"]), inputs=arts)
    assert down.code == 1
    assert 'cell 5 ("def check(v):"), line 3, in check\n    raise ValueError(\'negative: %d\' % v)\n' in down.stderr
    assert down.record["message"] == "ValueError: negative: -2"


def test_a_syntax_error_is_reported_before_anything_runs(tmp_path):
    cells = [(2, "print('first cell runs?')"), (4, "a = 1\nb = (2,\nc = 3 +")]
    result = run_step(tmp_path, program("s", cells))
    assert result.code == 1
    assert result.stdout == ""  # compiled up front: the first cell never ran
    record = result.record
    assert record["type"] == "SyntaxError" and record["cell"] == 4
    assert 'cell 5 ("a = 1")' in result.stderr


def test_chained_exceptions_are_shown_oldest_first(tmp_path):
    code = "try:\n    {}['k']\nexcept KeyError as e:\n    raise RuntimeError('lookup failed') from e"
    result = run_step(tmp_path, program("s", [(1, code)]))
    assert result.code == 1
    tb = result.record["traceback"]
    assert tb.index("KeyError: 'k'") < tb.index("direct cause") < tb.index("RuntimeError: lookup failed")


def test_exit_zero_ends_the_step_early_and_exit_nonzero_fails_it(tmp_path):
    arts = outputs_for(tmp_path, "v")
    ok = run_step(tmp_path, program("s", [(1, "import sys\nv = 1\nsys.exit(0)"), (2, "v = 2")], outputs=["v"]),
                  outputs=arts)
    assert ok.code == 0, ok
    assert read_json_artifact(arts["v"]) == 1
    bad = run_step(tmp_path, program("s", [(1, "import sys\nsys.exit(3)")]))
    assert bad.code == 1
    assert bad.record["message"] == 'cell 2 ("import sys") called exit(3)'
    assert bad.record["cell"] == 1
    assert bad.record["line"] == 2


# ---- IPython syntax ---------------------------------------------------------------------------------------------

def test_shell_lines_run_with_python_values_expanded(tmp_path):
    code = ("name = 'world'\nn = 3\n!echo hello $name {n * 2} $$HOME_LITERAL {{braces}}\n"
            "!echo shell sees $CELLPIPE_TEST_VAR\n"
            "files = !printf 'a\\nb\\n'\nprint(files, files.s)\n"
            "if n:\n    !echo indented\n!exit 4\nprint('status', _exit_code)")
    result = run_step(tmp_path, program("s", [(1, code)]), env={"CELLPIPE_TEST_VAR": "from-env", "HOME_LITERAL": "literal"})
    assert result.code == 0, result
    assert result.stdout == ("hello world 6 literal {braces}\nshell sees from-env\n['a', 'b'] a b\n"
                             "indented\nstatus 4\n")
    assert "cell 2, line 9: shell command exited with status 4" in result.stderr


def test_writefile_and_bash_cell_magics(tmp_path):
    cells = [(1, "%%writefile data.csv\na,b\n1,2"), (2, "%%writefile -a data.csv\n3,4"),
             (3, "%%bash\nset -e\nwc -l < data.csv\necho \"bash $BASH_VERSION\" | cut -c1-4"),
             (4, "print(open('data.csv').read())")]
    result = run_step(tmp_path, program("s", cells), workdir=str(tmp_path))
    assert result.code == 0, result
    assert result.stdout == "Writing data.csv\nAppending to data.csv\n3\nbash\na,b\n1,2\n3,4\n\n"
    with open(tmp_path / "data.csv") as fh:
        assert fh.read() == "a,b\n1,2\n3,4\n"


def test_a_failing_bash_cell_fails_the_step(tmp_path):
    result = run_step(tmp_path, program("s", [(6, "%%bash\necho partial\nexit 3")]))
    assert result.code == 1
    assert result.stdout == "partial\n"
    assert result.record["cell"] == 6 and result.record["type"] == "CalledProcessError"
    assert "Command '%%bash script of cell 7' returned non-zero exit status 3." in result.record["message"]


def test_an_unknown_cell_magic_fails_naming_the_cell(tmp_path):
    result = run_step(tmp_path, program("s", [(1, "print('not run')"), (9, "%%timeit\nsum(range(10))")]))
    assert result.code == 1
    record = result.record
    assert record["type"] == "MagicError" and record["cell"] == 9 and record["line"] == 1
    assert record["message"].startswith('cell 10 ("%%timeit"), line 1: the cell magic %%timeit can\'t run')
    assert "%%bash, %%sh, %%writefile" in record["message"]
    assert result.stdout == ""


def test_ipython_only_line_magics_are_skipped_with_a_note(tmp_path):
    code = ("%matplotlib inline\n%load_ext autoreload\n%pip install scikit-learn\nx = 2\n%time y = x * 21\n"
            "%timeit sum(range(3))\nprint(y)")
    result = run_step(tmp_path, program("s", [(2, code)]))
    assert result.code == 0, result
    assert result.stdout == "42\n"
    assert "cell 3, line 1: skipped %matplotlib inline (it has no meaning outside IPython)" in result.stderr
    assert "cell 3, line 3: skipped %pip install scikit-learn — packages belong in the step's requirements" in result.stderr
    assert "cell 3, line 6: skipped %timeit" in result.stderr


def test_an_unknown_line_magic_is_an_error_with_the_line(tmp_path):
    result = run_step(tmp_path, program("s", [(2, "x = 1\n%sql SELECT 1")]))
    assert result.code == 1
    assert (result.record["cell"], result.record["line"]) == (2, 2)
    assert "the line magic %sql needs IPython" in result.record["message"]


def test_the_transform_keeps_line_numbers_and_leaves_python_alone():
    source = ('s = """\n!not a command\n%not a magic\n"""\nx = (1,\n     2)\n!echo {x}\n'
              'if x != (1, 2):\n    y = 5 % 3\nz = "100%"  # !comment\n')
    plain, notes = transform_cell(source, 1)
    assert plain.count("\n") == source.count("\n")
    assert plain.split("\n")[:6] == source.split("\n")[:6]  # inside a string: untouched
    assert plain.split("\n")[6] == "__cellpipe__.system('echo {x}', 1, 7)"
    assert plain.split("\n")[7:] == source.split("\n")[7:]
    assert notes == []
    _, pip_notes = transform_cell("!pip3 install PyGithub > /dev/null 2>&1", 1)
    assert [str(n) for n in pip_notes] == ["cell 2, line 1: `pip3 install` installs packages while the step runs; "
                                           "declare them in the step's requirements instead so its image has them"]
    continued, _ = transform_cell("!echo a \\\n  b\nprint(1)", 1)
    assert continued.split("\n") == ["__cellpipe__.system('echo a b', 1, 1)", "", "print(1)"]
    with pytest.raises(StepError) as err:
        transform_cell("x = 1\n%%bash\necho", 3, "x = 1")
    assert err.value.line == 2


def test_expansion_follows_ipython():
    ns = {"f": "a.txt", "n": 2, "d": {"k": "v"}, "p": type("P", (), {"name": "obj"})()}
    assert expand("cat $f {n+1} {d['k']} {f!r} $p.name", ns) == "cat a.txt 3 v 'a.txt' obj"
    assert expand("echo $$n {{x}} '$f'", ns) == "echo $n {x} '$f'"  # $ inside '...' is for the shell
    # anything that doesn't evaluate leaves the whole line as written, for the shell to expand
    assert expand("echo $f $HOME", ns) == "echo $f $HOME"
    assert expand("awk '{print $1}' {{x}} $f", ns) == "awk '{print $1}' {{x}} $f"


# ---- working directory, namespace, metrics ----------------------------------------------------------------------

def test_relative_paths_resolve_in_the_workdir(tmp_path):
    notebook_dir = tmp_path / "project"
    (notebook_dir / "data").mkdir(parents=True)
    (notebook_dir / "data" / "train.csv").write_text("a,b\n1,2\n")
    (notebook_dir / "helpers.py").write_text("def double(v):\n    return 2 * v\n")
    arts = outputs_for(tmp_path, "rows")
    code = "import helpers\nrows = [line.split(',') for line in open('data/train.csv').read().split()]\nprint(helpers.double(21))"
    result = run_step(tmp_path, program("read", [(1, code)], outputs=["rows"]), outputs=arts,
                      workdir=str(notebook_dir), cwd=str(tmp_path))
    assert result.code == 0, result
    assert result.stdout == "42\n"
    assert read_json_artifact(arts["rows"]) == [["a", "b"], ["1", "2"]]


def test_the_namespace_is_a_fresh_main_module(tmp_path):
    code = ("import sys\nprint(__name__, sys.modules['__main__'].__dict__ is globals())\n"
            "print(sorted(k for k in globals() if not k.startswith('__')))")
    result = run_step(tmp_path, program("s", [(1, code)], parameters={"p": "int"}), params=["p=1"])
    assert result.code == 0, result
    assert result.stdout == "__main__ True\n['p', 'sys']\n"


def test_metrics_are_written_in_kfp_format_and_as_plain_values(tmp_path):
    code = ("from fractions import Fraction\nsum_result = Fraction(25, 2)\nd1 = 5\nAccuracy_Top1 = 0.75\nok = True\n"
            "note = 'text'\nratio = float('nan')")
    names = ["sum_result", "d1", "Accuracy_Top1", "ok", "note", "ratio"]
    mfile = str(tmp_path / "out" / "metrics.json")
    result = run_step(tmp_path, program("m", [(1, code)], metrics=names), metrics=mfile)
    assert result.code == 0, result
    with open(mfile) as fh:
        assert json.load(fh) == {"metrics": [
            {"name": "sum-result", "numberValue": 12.5, "format": "RAW"},
            {"name": "d1", "numberValue": 5, "format": "RAW"},
            {"name": "accuracy-top1", "numberValue": 0.75, "format": "RAW"},
            {"name": "ok", "numberValue": 1, "format": "RAW"}]}
    with open(mfile + ".values.json") as fh:
        assert json.load(fh) == {"sum_result": 12.5, "d1": 5, "Accuracy_Top1": 0.75, "ok": 1, "note": "text",
                                 "ratio": "nan"}
    assert "metric note is not a number" in result.stderr


def test_kfp_v2_gets_the_numbers_as_metadata_of_its_metrics_artifact(tmp_path):
    # What the spec passes as --kfp-executor-output is KFP v2's {{$.outputs.output_file}}: an ExecutorOutput whose
    # artifact metadata the launcher merges into the system.Metrics artifact (the numbers the v2 UI shows).
    code = "loss = 0.25\nepochs = 3\nnote = 'text'"
    out = tmp_path / "kfp" / "executor_output.json"
    result = run_step(tmp_path, program("m", [(1, code)], metrics=["loss", "epochs", "note"]),
                      metrics=str(tmp_path / "m.json"), extra=["--kfp-executor-output", str(out)])
    assert result.code == 0, result
    with open(out) as fh:
        written = json.load(fh)
    assert written == {"artifacts": {"mlpipeline_metrics": {"artifacts": [
        {"name": "mlpipeline_metrics", "metadata": {"loss": 0.25, "epochs": 3}}]}}}
    # The launcher reads it as KFP's ExecutorOutput proto; strict parsing refuses any field it does not have.
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    parsed = json_format.ParseDict(written, pipeline_spec_pb2.ExecutorOutput())
    assert parsed.artifacts["mlpipeline_metrics"].artifacts[0].metadata["loss"] == 0.25


def test_a_metric_that_is_not_defined_is_an_error(tmp_path):
    result = run_step(tmp_path, program("m", [(1, "x = 1")], metrics=["loss"]), metrics=str(tmp_path / "m.json"))
    assert result.code == 1
    assert "metric loss" in result.record["message"]


def test_version_identifies_the_runtime_code():
    import subprocess
    import sys

    from test_runtime_support import PYTHON_DIR
    out = subprocess.run([sys.executable, "-m", "cellpipe_runtime", "--version"], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=PYTHON_DIR), check=True).stdout.strip()
    import cellpipe_runtime
    assert out == cellpipe_runtime.version()
    assert out.startswith(cellpipe_runtime.__version__ + "+") and len(out.split("+")[1]) == 12


def test_output_streams_while_the_step_runs(tmp_path):
    """The local runtime shows log lines as they come: stdout must not wait for the process to end."""
    import subprocess
    import sys
    import time

    from test_runtime_support import PYTHON_DIR
    prog = json.dumps(program("slow", [(1, "import time\nprint('first', flush=False)\ntime.sleep(30)\nprint('late')")]))
    proc = subprocess.Popen([sys.executable, "-m", "cellpipe_runtime", "run", "--program", prog],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=str(tmp_path),
                            env=dict(os.environ, PYTHONPATH=PYTHON_DIR))
    try:
        started = time.monotonic()
        assert proc.stdout.readline() == "first\n"
        assert proc.poll() is None  # still sleeping: the line arrived before the step ended
        assert time.monotonic() - started < 25
    finally:
        proc.kill()
        proc.wait()
