"""Real notebooks from the conformance corpus, their steps run by the runtime from hand-built programs."""
import importlib.util
import json
import os
import re

import pytest

from cellpipe_runtime.errors import cell_filename
from test_runtime_support import CORPUS, outputs_for, program, read_json_artifact, read_meta, run_step

KALE = os.path.join(CORPUS, "kale")
pytestmark = pytest.mark.skipif(not os.path.isdir(KALE), reason="corpus not present (../shared/corpus)")


def notebook_cells(name):
    with open(os.path.join(KALE, name), encoding="utf-8") as fh:
        nb = json.load(fh)
    return {i: "".join(c["source"]) for i, c in enumerate(nb["cells"])}


def candies_programs():
    src = notebook_cells("candies_sharing.ipynb")
    assert src[1] == "import random" and src[2] == "CANDIES = 20"  # the notebook as the test expects it
    prelude = [{"index": 1, "role": "imports", "source": src[1]}, {"index": 3, "role": "functions", "source": src[3]}]

    def step(name, index, inputs=(), outputs=()):
        cells = prelude + [{"index": index, "role": "step", "source": src[index]}]
        return program(name, cells, parameters={"CANDIES": "int"}, inputs=inputs, outputs=outputs,
                       pipeline="candies-sharing")

    return [step("sack", 4), step("kid1", 5, outputs=["kid1"]), step("kid2", 6, ["kid1"], ["kid2"]),
            step("kid3", 7, ["kid1", "kid2"], ["kid3"])]


@pytest.mark.parametrize("candies", [20, 3])
def test_candies_sharing_runs_sack_kid1_kid2_kid3(tmp_path, candies):
    arts = outputs_for(tmp_path, "kid1", "kid2", "kid3")
    got = {}
    for prog in candies_programs():
        result = run_step(tmp_path, prog, params=["CANDIES=%d" % candies],
                          inputs={n: arts[n] for n in prog["inputs"]}, outputs={n: arts[n] for n in prog["outputs"]},
                          workdir=KALE)
        assert result.code == 0, result
        if prog["step"] == "sack":
            assert result.stdout == ("Let's put in a bag %d candies and have three kids get a handful of them each\n"
                                     % candies)
            continue
        value = read_json_artifact(arts[prog["step"]])
        got[prog["step"]] = value
        printed = re.findall(r"I got (\d+) candies!|There are no candies left", result.stdout)
        assert printed == [str(value) if value else ""], result.stdout
    assert 1 <= got["kid1"] <= candies
    assert 0 <= got["kid2"] <= candies - got["kid1"]
    assert got["kid1"] + got["kid2"] + got["kid3"] <= candies


@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy not installed")
def test_parameters_and_metrics_notebook(tmp_path):
    src = notebook_cells("pipeline_parameters_and_metrics.ipynb")
    imports = {"index": 0, "role": "imports", "source": src[0]}
    types = {"d1": "int", "d2": "int", "booltest": "bool", "strtest": "str"}
    arts = outputs_for(tmp_path, "rnd_matrix")
    create = program("create_matrix", [imports, {"index": 2, "role": "step", "source": src[2]}],
                     parameters={"d1": "int", "d2": "int"}, outputs=["rnd_matrix"], pipeline="hp-test")
    made = run_step(tmp_path, create, params=["d1=4", "d2=3"], outputs=arts)
    assert made.code == 0, made
    assert read_meta(arts["rnd_matrix"])["format"] == "npy"
    summing = program("sum_matrix", [imports, {"index": 3, "role": "step", "source": src[3]}],
                      parameters=types, inputs=["rnd_matrix"], metrics=["d1", "d2", "sum_result"], pipeline="hp-test")
    mfile = str(tmp_path / "metrics.json")
    summed = run_step(tmp_path, summing, params=["d1=4", "d2=3", "booltest=True", "strtest=test"], inputs=arts,
                      metrics=mfile)
    assert summed.code == 0, summed
    import numpy as np
    expected = float(np.load(os.path.join(arts["rnd_matrix"], "data.npy")).sum())
    with open(mfile) as fh:
        kfp = json.load(fh)
    assert [m["name"] for m in kfp["metrics"]] == ["d1", "d2", "sum-result"]
    assert kfp["metrics"][0]["numberValue"] == 4 and kfp["metrics"][1]["numberValue"] == 3
    assert kfp["metrics"][2]["numberValue"] == pytest.approx(expected)


def test_every_corpus_code_cell_becomes_plain_python_with_the_same_lines():
    import glob

    from cellpipe_runtime.magics import transform_cell

    checked = 0
    for path in sorted(glob.glob(os.path.join(CORPUS, "*", "*.ipynb"))):
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            plain, _ = transform_cell(source, i)
            assert plain.count("\n") == source.count("\n"), (path, i)
            compile(plain, cell_filename(i), "exec")  # raises SyntaxError with the cell named
            checked += 1
    assert checked >= 20
