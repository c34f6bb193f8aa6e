"""Variables travel between steps through artifact directories, each in the format that fits it."""
import importlib.util
import json
import os

import pytest

from test_runtime_support import outputs_for, program, read_meta, run_step

HAS_NUMPY = importlib.util.find_spec("numpy") is not None
HAS_PANDAS = importlib.util.find_spec("pandas") is not None
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


def pipe(tmp_path, up_cells, down_cells, names, env=None, prelude=()):
    """Runs an upstream step that outputs ``names`` and a downstream step that inputs them."""
    arts = outputs_for(tmp_path, *names)
    up = run_step(tmp_path, program("up", list(prelude) + up_cells, outputs=names), outputs=arts, env=env)
    assert up.code == 0, up
    down = run_step(tmp_path, program("down", list(prelude) + down_cells, inputs=names), inputs=arts, env=env)
    return up, down, arts


def test_plain_values_round_trip_as_json_and_the_rest_as_pickle(tmp_path):
    up_code = ("n = 7\nx = 2.5\ns = 'héllo'\nitems = [1, 'two', None, [3.0]]\nconf = {'a': {'b': [True, False]}}\n"
               "t = (1, 2)\nu = {1, 2}\nk = {1: 'int key'}\nbig = 10**40\n")
    names = ["n", "x", "s", "items", "conf", "t", "u", "k", "big"]
    check = ("assert n == 7 and type(n) is int\nassert x == 2.5\nassert s == 'héllo'\n"
             "assert items == [1, 'two', None, [3.0]]\nassert conf == {'a': {'b': [True, False]}}\n"
             "assert t == (1, 2) and type(t) is tuple\nassert u == {1, 2}\nassert k == {1: 'int key'}\n"
             "assert big == 10**40\nprint('all equal')")
    _, down, arts = pipe(tmp_path, [(1, up_code)], [(2, check)], names)
    assert down.code == 0, down
    assert down.stdout == "all equal\n"
    formats = {n: read_meta(arts[n])["format"] for n in names}
    assert formats == {"n": "json", "x": "json", "s": "json", "items": "json", "conf": "json", "t": "pickle",
                       "u": "pickle", "k": "pickle", "big": "json"}
    meta = read_meta(arts["conf"])
    assert meta["name"] == "conf" and meta["python_type"] == "builtins.dict"
    assert meta["bytes"] == os.path.getsize(os.path.join(arts["conf"], meta["file"]))
    with open(os.path.join(arts["items"], "data.json"), encoding="utf-8") as fh:
        assert json.load(fh) == [1, "two", None, [3.0]]  # readable by other programs


@pytest.mark.skipif(not HAS_NUMPY, reason="numpy not installed")
def test_numpy_arrays_travel_as_npy(tmp_path):
    up_code = ("import numpy as np\na = np.arange(12, dtype=np.float32).reshape(3, 4)\n"
               "objs = np.array([{'k': 1}, None], dtype=object)\nscalar = np.int64(5)")
    check = ("import numpy as np\nassert a.dtype == np.float32 and a.shape == (3, 4)\n"
             "assert (a == np.arange(12).reshape(3, 4)).all()\nassert objs[0] == {'k': 1} and objs[1] is None\n"
             "assert scalar == 5 and type(scalar) is np.int64\nprint(a.sum())")
    _, down, arts = pipe(tmp_path, [(1, up_code)], [(2, check)], ["a", "objs", "scalar"])
    assert down.code == 0, down
    assert down.stdout == "66.0\n"
    assert read_meta(arts["a"])["format"] == "npy"
    assert read_meta(arts["objs"])["format"] == "pickle"  # object arrays can't be .npy without pickle


@pytest.mark.skipif(not HAS_PANDAS, reason="pandas not installed")
@pytest.mark.parametrize("pyarrow_allowed", [True, False])
def test_pandas_frames_and_series_round_trip(tmp_path, pyarrow_allowed):
    up_code = ("import pandas as pd\n"
               "df = pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', None], 'c': [0.5, 1.5, 2.5]},"
               " index=pd.Index([10, 20, 30], name='id'))\n"
               "ser = pd.Series([1.0, 2.0], index=['p', 'q'], name='score')\n"
               "odd = pd.DataFrame({0: [1], 'mixed': [object()]})")
    check = ("import pandas as pd\n"
             "expected = pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', None], 'c': [0.5, 1.5, 2.5]},"
             " index=pd.Index([10, 20, 30], name='id'))\n"
             "pd.testing.assert_frame_equal(df, expected)\n"
             "pd.testing.assert_series_equal(ser, pd.Series([1.0, 2.0], index=['p', 'q'], name='score'))\n"
             "assert list(odd.columns) == [0, 'mixed']\nprint('frames equal')")
    env = None if pyarrow_allowed else {"CELLPIPE_NO_SERIALIZERS": "pyarrow"}
    _, down, arts = pipe(tmp_path, [(1, up_code)], [(2, check)], ["df", "ser", "odd"], env=env)
    assert down.code == 0, down
    assert down.stdout == "frames equal\n"
    expected = "feather" if (HAS_PYARROW and pyarrow_allowed) else "pickle"
    assert read_meta(arts["df"])["format"] == expected
    assert read_meta(arts["ser"])["format"] == expected
    assert read_meta(arts["odd"])["format"] == "pickle"  # non-string column names / Python objects


@pytest.mark.skipif(not (HAS_PANDAS and HAS_PYARROW), reason="pandas and pyarrow needed")
def test_frames_keep_their_dtypes_and_index_through_feather(tmp_path):
    make = ("import pandas as pd\n"
            "def frame():\n"
            "    return pd.DataFrame({'cat': pd.Categorical(['a', 'b', 'a']), 'n': pd.array([1, None, 3], dtype='Int64'),\n"
            "                         't': pd.date_range('2024-01-01', periods=3, tz='Europe/Paris'),\n"
            "                         'd': pd.to_timedelta([1, 2, 3], unit='s'), 's': ['x', None, 'z']},\n"
            "                        index=pd.MultiIndex.from_product([[1], ['p', 'q', 'r']], names=['g', 'k']))\n")
    check = "pd.testing.assert_frame_equal(df, frame(), check_exact=True)\nprint('same frame')"
    _, down, arts = pipe(tmp_path, [(1, make + "df = frame()")], [(2, make + check)], ["df"])
    assert down.code == 0, down
    assert down.stdout == "same frame\n"
    assert read_meta(arts["df"])["format"] == "feather"


def test_parquet_artifacts_of_earlier_versions_still_load(tmp_path):
    pytest.importorskip("pyarrow")
    import json

    import pandas as pd
    from cellpipe_runtime.artifacts import load

    d = tmp_path / "old"
    d.mkdir()
    pd.DataFrame({"a": [1, 2]}).to_parquet(d / "data.parquet")
    (d / "cellpipe.json").write_text(json.dumps({"artifact": "cellpipe.artifact/v1", "name": "df", "format": "parquet",
                                                 "file": "data.parquet", "python_type": "pandas.DataFrame"}))
    assert load("df", str(d))["a"].tolist() == [1, 2]


def test_functions_defined_upstream_can_be_called_downstream(tmp_path):
    up_code = ("import math\n"
               "def area(r, scale=1):\n    '''circle area'''\n    return scale * math.pi * r ** 2\n"
               "def make_adder(k):\n    def add(x):\n        return x + k\n    return add\n"
               "add3 = make_adder(3)\n"
               "def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n"
               "square = lambda v: v * v\n"
               "table = {'sq': square, 'fns': [area]}\n"
               "import functools\n@functools.lru_cache(maxsize=8)\ndef twice(v):\n    return 2 * v\n")
    # `math` comes from the downstream step's own imports cell: functions run against the loading step's globals.
    prelude = [(0, "import math", "imports")]
    check = ("assert round(area(1), 5) == 3.14159 and area(1, scale=2) == 2 * area(1)\n"
             "assert area.__doc__ == 'circle area' and area.__name__ == 'area'\n"
             "assert add3(4) == 7\nassert fact(5) == 120\nassert table['sq'](9) == 81\n"
             "assert table['fns'][0] is not None\nassert twice(4) == 8 and twice.cache_info().maxsize == 8\n"
             "print('functions work')")
    _, down, arts = pipe(tmp_path, [(3, up_code)], [(4, check)],
                         ["area", "add3", "fact", "table", "twice"], prelude=prelude)
    assert down.code == 0, down
    assert down.stdout == "functions work\n"
    assert read_meta(arts["area"])["format"] == "pickle"


def test_classes_defined_in_the_notebook_travel_with_their_instances(tmp_path):
    functions = (2, "from dataclasses import dataclass\n@dataclass\nclass Point:\n    x: int\n    y: int\n"
                    "    def norm1(self):\n        return abs(self.x) + abs(self.y)\n", "functions")
    up_code = ("class Counter:\n    def __init__(self):\n        self.n = 0\n"
               "    def bump(self):\n        self.n += 1\n        return self\n"
               "class Special(Counter):\n    kind = 'special'\n"
               "c = Special().bump().bump()\np = Point(3, -4)\n")
    check = ("assert c.n == 2 and c.kind == 'special' and c.bump().n == 3\n"
             "assert isinstance(p, Point) and p.norm1() == 7\n"  # same class object as this step's functions cell
             "assert 'Counter' not in globals() and 'Special' not in globals()\n"
             "print(type(c).__name__, type(c).__mro__[1].__name__)")
    _, down, _ = pipe(tmp_path, [(5, up_code)], [(6, check)], ["c", "p"], prelude=[functions])
    assert down.code == 0, down
    assert down.stdout == "Special Counter\n"


@pytest.mark.parametrize("code, name, type_name", [
    ("f = open(__file__ if '__file__' in globals() else 'data.txt', 'w')", "f", "_io.TextIOWrapper"),
    ("g = (i for i in range(3))", "g", "builtins.generator"),
    ("def make():\n    class Local:\n        pass\n    return Local()\nobj = make()", "obj", "__main__.make.<locals>.Local"),
])
def test_an_output_that_cant_be_saved_names_the_variable_and_its_type(tmp_path, code, name, type_name):
    arts = outputs_for(tmp_path, name)
    result = run_step(tmp_path, program("maker", [(3, code)], outputs=[name]), outputs=arts)
    assert result.code == 1, result
    record = result.record
    assert record["type"] == "OutputError"
    assert record["message"].startswith("output variable '%s' (a %s) can't be saved" % (name, type_name))
    assert "cannot pickle" in record["message"] or "define it at the top level of a cell" in record["message"]
    assert record["message"] in result.stderr
    assert not os.path.exists(os.path.join(arts[name], "cellpipe.json"))


def test_an_output_that_is_never_bound_is_an_error(tmp_path):
    arts = outputs_for(tmp_path, "model")
    result = run_step(tmp_path, program("train", [(3, "x = 1")], outputs=["model"]), outputs=arts)
    assert result.code == 1
    assert "should pass the variable 'model'" in result.record["message"]


def test_a_missing_input_artifact_says_which_input(tmp_path):
    result = run_step(tmp_path, program("down", [(3, "print(x)")], inputs=["x"]),
                      inputs={"x": str(tmp_path / "nowhere")})
    assert result.code == 1
    assert "is not a cellpipe artifact" in result.record["message"]
    assert str(tmp_path / "nowhere") in result.record["message"]


def test_a_rerun_replaces_the_previous_artifact(tmp_path):
    arts = outputs_for(tmp_path, "v")
    assert run_step(tmp_path, program("s", [(1, "v = (1, 2)")], outputs=["v"]), outputs=arts).code == 0
    assert read_meta(arts["v"])["format"] == "pickle"
    assert run_step(tmp_path, program("s", [(1, "v = [1, 2]")], outputs=["v"]), outputs=arts).code == 0
    assert read_meta(arts["v"])["format"] == "json"
    assert sorted(os.listdir(arts["v"])) == ["cellpipe.json", "data.json"]


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None or importlib.util.find_spec("joblib") is None,
                    reason="scikit-learn / joblib not installed")
def test_scikit_learn_estimators_travel_with_joblib_unless_they_hold_notebook_code(tmp_path):
    up_code = ("from sklearn.linear_model import LinearRegression\nfrom sklearn.preprocessing import FunctionTransformer\n"
               "model = LinearRegression().fit([[0], [1], [2]], [1, 3, 5])\n"
               "def plus_one(X):\n    return X + 1\nshift = FunctionTransformer(plus_one)\n")
    check = ("import numpy as np\nassert abs(model.predict([[10]])[0] - 21) < 1e-9\n"
             "assert (shift.fit_transform(np.array([[1.0]])) == 2.0).all()\nprint('models work')")
    _, down, arts = pipe(tmp_path, [(1, up_code)], [(2, check)], ["model", "shift"])
    assert down.code == 0, down
    assert read_meta(arts["model"])["format"] == "joblib"
    assert read_meta(arts["shift"])["format"] == "pickle"  # plus_one must travel by value


def test_modules_imported_in_a_step_travel_by_name(tmp_path):
    up_code = "import json as js\nimport os.path\ndef clean(s):\n    return js.dumps(s.strip())"
    check = "print(js.loads('[1]'), os.path.basename('/a/b'), clean(' x '))"
    _, down, arts = pipe(tmp_path, [(1, up_code)], [(2, check)], ["js", "os", "clean"])
    assert down.code == 0, down
    assert down.stdout == '[1] b "x"\n'
    assert read_meta(arts["js"])["python_type"] == "builtins.module"
