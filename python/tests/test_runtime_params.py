"""Pipeline parameters reach the step's code with their declared types; a bad value is a clear error."""
import pytest

from test_runtime_support import outputs_for, program, read_json_artifact, run_step

TYPES = {"n": "int", "rate": "float", "label": "str", "flag": "bool", "sizes": "list", "opts": "dict"}
REPORT = "seen = {k: [type(v).__name__, v] for k, v in dict(n=n, rate=rate, label=label, flag=flag, sizes=sizes, opts=opts).items()}"


def run_params(tmp_path, params):
    prog = program("typed", [(4, REPORT)], parameters=TYPES, outputs=["seen"])
    out = outputs_for(tmp_path, "seen")
    return run_step(tmp_path, prog, params=params, outputs=out), out["seen"]


def test_every_parameter_type_is_bound_with_its_declared_type(tmp_path):
    result, seen_dir = run_params(tmp_path, [
        "n=3", "rate=0.25", "label=hello world = yes", "flag=true", "sizes=[1, 2, 3]", 'opts={"a": {"b": [1]}}'])
    assert result.code == 0, result
    assert read_json_artifact(seen_dir) == {
        "n": ["int", 3], "rate": ["float", 0.25], "label": ["str", "hello world = yes"], "flag": ["bool", True],
        "sizes": ["list", [1, 2, 3]], "opts": ["dict", {"a": {"b": [1]}}]}


def test_values_as_kfp_renders_them_are_accepted(tmp_path):
    # KFP passes numbers as doubles ("3" or "3.0"), Python-style booleans appear in hand-written values.
    result, seen_dir = run_params(tmp_path, ["n=3.0", "rate=1", "label=", "flag=False", "sizes=[]", "opts={}"])
    assert result.code == 0, result
    seen = read_json_artifact(seen_dir)
    assert seen["n"] == ["int", 3]
    assert seen["rate"] == ["float", 1.0]
    assert seen["label"] == ["str", ""]
    assert seen["flag"] == ["bool", False]


@pytest.mark.parametrize("bad, name, words", [
    ("n=abc", "n", "declared as int"),
    ("n=3.5", "n", "not a whole number"),
    ("rate=fast", "rate", "declared as float"),
    ("flag=yes", "flag", "true or false"),
    ("sizes={\"a\": 1}", "sizes", "not a list"),
    ("opts=not json", "opts", "not valid JSON"),
])
def test_a_bad_value_fails_naming_the_parameter(tmp_path, bad, name, words):
    good = {"n": "n=1", "rate": "rate=1.5", "label": "label=x", "flag": "flag=true", "sizes": "sizes=[]",
            "opts": "opts={}"}
    good[name] = bad
    result, _ = run_params(tmp_path, list(good.values()))
    assert result.code == 1, result
    record = result.record
    assert record["type"] == "ParameterError"
    assert record["message"].startswith("parameter %s is declared as" % name)
    assert words in record["message"]
    assert "--param %s=" % name in record["message"]  # says what to pass instead
    assert record["message"] in result.stderr


def test_a_missing_or_unknown_parameter_is_an_error(tmp_path):
    prog = program("p", [(1, "print(n)")], parameters={"n": "int"})
    missing = run_step(tmp_path, prog)
    assert missing.code == 1
    assert "needs a value for parameter n" in missing.record["message"]
    unknown = run_step(tmp_path, prog, params=["n=1", "m=2"])
    assert unknown.code == 1
    assert "has no parameter 'm'" in unknown.record["message"]


def test_parameters_are_visible_to_prelude_cells(tmp_path):
    prog = program("p", [(0, "import math", "imports"), (2, "def scaled(x):\n    return x * FACTOR", "functions"),
                         (5, "out = scaled(2)")], parameters={"FACTOR": "float"}, outputs=["out"])
    out = outputs_for(tmp_path, "out")
    result = run_step(tmp_path, prog, params=["FACTOR=1.5"], outputs=out)
    assert result.code == 0, result
    assert read_json_artifact(out["out"]) == 3.0


def test_the_program_can_be_passed_as_json_text(tmp_path):
    prog = program("inline", [(1, "print('from', __name__)")])
    result = run_step(tmp_path, prog, program_as_text=True)
    assert result.code == 0, result
    assert result.stdout == "from __main__\n"
