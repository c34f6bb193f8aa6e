"""--dump-variables and `compare`: the pipeline's final variables against the notebook run top to bottom."""
import json
import os
import subprocess
import sys

import pytest

from test_runtime_support import PYTHON_DIR, outputs_for, program

pytest.importorskip("numpy")

IMPORTS = (0, "import statistics\nimport numpy as np", "imports")
FUNCS = (1, "def normalise(xs):\n    m = max(xs)\n    return [x / m for x in xs]\nclass Box:\n    def __init__(self, v):\n        self.v = v", "functions")
LOAD = (3, "raw = [3, 1, 4, 1, 5, 9, 2, 6]\nbox = Box(len(raw))\narr = np.array(raw, dtype=float)")
PREP = (4, "norm = normalise(raw)\nmean = statistics.mean(norm)\narr = arr / arr.max()\nnan = float('nan')")


def compare(*dirs, names=None):
    argv = [sys.executable, "-m", "cellpipe_runtime", "compare", *map(str, dirs)]
    if names:
        argv += ["--names", ",".join(names)]
    return subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=PYTHON_DIR))


def _run(tmp_path, prog, extra, params=(), inputs=None, outputs=None):
    path = tmp_path / ("program-%s.json" % prog["step"])
    path.write_text(json.dumps(prog))
    argv = [sys.executable, "-m", "cellpipe_runtime", "run", "--program", str(path), *extra]
    for p in params:
        argv += ["--param", p]
    for n, d in (inputs or {}).items():
        argv += ["--input", "%s=%s" % (n, d)]
    for n, d in (outputs or {}).items():
        argv += ["--output", "%s=%s" % (n, d)]
    return subprocess.run(argv, capture_output=True, text=True, cwd=str(tmp_path),
                          env=dict(os.environ, PYTHONPATH=PYTHON_DIR))


def pipeline(tmp_path, prep=PREP):
    arts = outputs_for(tmp_path, "raw", "arr")
    load = program("load", [IMPORTS, FUNCS, LOAD], parameters={"SCALE": "int"}, outputs=["raw", "arr"])
    r1 = _run(tmp_path, load, ["--dump-variables", str(tmp_path / "d-load")], params=["SCALE=2"], outputs=arts)
    assert r1.returncode == 0, r1.stderr
    prepare = program("prep", [IMPORTS, FUNCS, prep], parameters={"SCALE": "int"}, inputs=["raw", "arr"])
    r2 = _run(tmp_path, prepare, ["--dump-variables", str(tmp_path / "d-prep")], params=["SCALE=2"], inputs=arts)
    assert r2.returncode == 0, r2.stderr
    return [tmp_path / "d-load", tmp_path / "d-prep"]


def notebook(tmp_path):
    whole = program("notebook", [IMPORTS, FUNCS, LOAD, PREP], parameters={"SCALE": "int"})
    r = _run(tmp_path, whole, ["--dump-variables", str(tmp_path / "expected")], params=["SCALE=2"])
    assert r.returncode == 0, r.stderr
    return tmp_path / "expected"


def test_dump_saves_the_final_variables_but_not_code(tmp_path):
    expected = notebook(tmp_path)
    index = json.loads((expected / "variables.json").read_text())
    assert index["step"] == "notebook"
    assert index["saved"] == ["SCALE", "arr", "box", "mean", "nan", "norm", "raw"]  # no np, normalise, Box
    assert index["skipped"] == {}


def test_a_pipeline_leaves_the_same_variables_as_the_notebook(tmp_path):
    expected = notebook(tmp_path)
    result = compare(expected, *pipeline(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["equal"] == ["SCALE", "arr", "box", "mean", "nan", "norm", "raw"]
    assert summary["different"] == {} and summary["missing"] == []


def test_compare_finds_a_different_value_and_says_which(tmp_path):
    expected = notebook(tmp_path)
    changed = (4, PREP[1].replace("arr / arr.max()", "arr / arr.min()"))
    result = compare(expected, *pipeline(tmp_path, changed))
    assert result.returncode == 1
    assert "different: arr: array values differ" in result.stdout
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(summary["different"]) == ["arr"]


def test_compare_reports_a_missing_variable(tmp_path):
    expected = notebook(tmp_path)
    dirs = pipeline(tmp_path)
    result = compare(expected, dirs[0])  # the prep step's variables are not there
    assert result.returncode == 1
    assert "missing: mean" in result.stdout
