"""Debugging a failed step in a kernel: a real run of a failing notebook with the CLI, then ``%load_ext cellpipe`` and
``%cellpipe load STEP`` in a real IPython kernel (jupyter_client), where the failing cell raises the same error."""
import json
import os
import shutil
import subprocess
import sys

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, "bin", "cellpipe.js")
FAILING = os.path.join(REPO, "test", "fixtures", "run-notebooks", "failing.ipynb")
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None or not os.path.exists(os.path.join(REPO, "lib", "cli", "main.js")),
                                reason="needs node and the built CLI (npm run build:lib)")


def cellpipe(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "CELLPIPE_STORE"}
    env.update(CELLPIPE_PYTHON=sys.executable, CELLPIPE_STORE_FSYNC="0")
    return subprocess.run([NODE, BIN] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def execute(kc, code):
    """Run ``code`` in the kernel: (reply content, stdout text, stderr text)."""
    msg_id = kc.execute(code)
    out, err = [], []
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (out if content["name"] == "stdout" else err).append(content["text"])
        elif kind == "error":
            err.append("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    return reply["content"], "".join(out), "".join(err)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    ws = str(tmp_path_factory.mktemp("debug"))
    shutil.copy(FAILING, ws)
    r = cellpipe(["run", "failing.ipynb"], ws)
    assert r.returncode == 1, r.stdout + r.stderr
    status = cellpipe(["status", "latest", "--json"], ws)
    record = json.loads(status.stdout)
    divide = next(s for s in record["steps"] if s["name"] == "divide")
    assert divide["state"] == "failed"
    with open(FAILING, encoding="utf-8") as fh:
        cells = json.load(fh)["cells"]
    failing_cell = "".join(cells[divide["error"]["cell"]]["source"])
    return ws, record, divide["error"], failing_cell


@pytest.fixture(scope="module")
def kernel(failed_run):
    ws = failed_run[0]
    env = {k: v for k, v in os.environ.items() if k != "CELLPIPE_STORE"}
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=ws, env=env)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_failing_step_inputs_loaded_in_a_kernel_raise_the_same_error(failed_run, kernel):
    _ws, record, error, failing_cell = failed_run
    reply, out, err = execute(kernel, "%load_ext cellpipe")
    assert reply["status"] == "ok", err
    reply, out, err = execute(kernel, "%cellpipe load divide")
    assert reply["status"] == "ok", err
    assert "inputs of step 'divide' loaded: DIVISOR (int), base (int)" in out
    reply, out, _ = execute(kernel, "print(repr(base), repr(DIVISOR))")
    assert out.strip() == "10 0"  # what the pipeline gave the step: setup's output and the parameter

    reply, _out, err = execute(kernel, failing_cell)
    assert reply["status"] == "error"
    assert reply["ename"] == error["type"] == "ZeroDivisionError"
    assert reply["evalue"] in error["message"]
    # The cell's earlier line ran with the loaded data too, as in the step.
    reply, out, _ = execute(kernel, "print(half)")
    assert out.strip() == "5.0"


def test_the_magic_and_the_api_say_why_a_value_cannot_be_loaded(failed_run, kernel):
    ws, record, _error, _cell = failed_run
    execute(kernel, "%load_ext cellpipe")
    reply, _out, err = execute(kernel, "%cellpipe load divide --outputs --run " + record["id"][:15])
    assert reply["status"] == "error"
    assert "step 'divide' has no outputs in run %s: it failed" % record["id"] in err
    assert "Traceback" not in err, "the message, not a traceback"
    reply, _out, err = execute(kernel, "%cellpipe load after")
    assert reply["status"] == "error"
    assert "step 'after' did not start in run %s: it was skipped because step 'divide' failed" % record["id"] in err
    reply, _out, err = execute(kernel, "%cellpipe load divide --run no-such-run")
    assert "no run 'no-such-run' in %s" % os.path.join(ws, ".cellpipe") in err
    reply, _out, err = execute(kernel, "%cellpipe load nope")
    assert "no run in %s has a step 'nope'; the steps are: after, divide, independent, setup" % os.path.join(ws, ".cellpipe") in err

    # The API, with an explicit notebook (the store next to it) and into=globals().
    reply, out, err = execute(kernel, "import cellpipe\nvals = cellpipe.load('setup', what='outputs', notebook=%r, "
                                      "into=globals())\nprint(sorted(vals), base)" % os.path.join(ws, "failing.ipynb"))
    assert reply["status"] == "ok", err
    assert out.strip() == "['base'] 10"


def test_a_value_whose_library_is_missing_is_explained(tmp_path, monkeypatch):
    """An npy artifact in an environment without numpy: the message names the library and the kernel's Python."""
    np = pytest.importorskip("numpy")
    import cellpipe
    from cellpipe import debug
    from cellpipe_runtime import artifacts

    store = tmp_path / ".cellpipe"
    run_dir = store / "runs" / "r1"
    out = run_dir / "steps" / "make" / "outputs" / "arr"
    artifacts.save("arr", np.arange(3), str(out))
    record = {"id": "r1", "notebook": "nb.ipynb", "createdAt": "2026-01-01T00:00:00Z", "parameters": {},
              "state": "succeeded", "steps": [{"name": "make", "state": "pending", "attempts": 0, "outputs": [],
                                              "metrics": {}}]}
    lines = [{"t": "create", "record": record},
             {"t": "step", "step": "make", "set": {"state": "succeeded", "outputs": [{"name": "arr", "bytes": 1,
                                                                                       "path": str(out)}]}}]
    (run_dir / "run.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines) + '{"t": "run", "se')  # torn
    assert list(cellpipe.load("make", what="outputs", store=str(store))["arr"]) == [0, 1, 2]
    real = debug.importlib.util.find_spec
    monkeypatch.setattr(debug.importlib.util, "find_spec", lambda name, *a: None if name == "numpy" else real(name, *a))
    with pytest.raises(cellpipe.LoadError, match=r"'arr' \(a numpy.ndarray\) is stored as npy, which needs numpy; "
                                                 r"install numpy in this kernel's environment"):
        cellpipe.load("make", what="outputs", store=str(store))


def test_a_step_a_partial_run_reused_is_loaded_from_the_run_that_ran_it(tmp_path):
    """``--only after`` reuses setup and divide from the full run: loading divide's inputs from the partial run (the
    latest) reads them where divide ran, with that run's parameters."""
    ws = str(tmp_path)
    shutil.copy(FAILING, ws)
    full = cellpipe(["run", "failing.ipynb", "--param", "DIVISOR=2"], ws)
    assert full.returncode == 0, full.stdout + full.stderr
    first = json.loads(cellpipe(["status", "latest", "--json"], ws).stdout)
    partial = cellpipe(["run", "failing.ipynb", "--param", "DIVISOR=2", "--only", "after"], ws)
    assert partial.returncode == 0, partial.stdout + partial.stderr
    second = json.loads(cellpipe(["status", "latest", "--json"], ws).stdout)
    divide = next(s for s in second["steps"] if s["name"] == "divide")
    assert divide["reused"] and divide["cachedFrom"] == first["id"]

    import cellpipe as api
    values = api.load("divide", run=second["id"], store=os.path.join(ws, ".cellpipe"))
    assert values == {"base": 10, "DIVISOR": 2}


def _kubeflow_run(store, steps, profile="team-a"):
    """A Kubeflow run record as the backend keeps it (debug.ipynb's steps)."""
    run_dir = store / "runs" / "kf1"
    run_dir.mkdir(parents=True)
    record = {"id": "kf1", "notebook": "debug.ipynb", "createdAt": "2026-01-01T00:00:00Z", "parameters": {"DIVISOR": 4},
              "runtime": "kubeflow", "profile": profile, "state": "failed",
              "external": {"kfpRunId": "9b2f4c1e-7d0a-4e55-8f3c-2a6b1d0e5f77", "pipelineId": "p", "pipelineVersionId": "v",
                           "pipelineName": "debug", "namespace": "team-a"},
              "steps": [{"name": n, "state": st, "attempts": 1, "outputs": [], "metrics": {}} for n, st in steps]}
    (run_dir / "run.jsonl").write_text(json.dumps({"t": "create", "record": record}) + "\n")
    return run_dir


def _fetched(run_dir, step, what, values, parameters):
    """What ``cellpipe fetch`` leaves in the run store: each variable's artifact folder as the step runtime wrote it in
    the pod (KFP's launcher uploaded it file by file), and fetched.json."""
    from cellpipe_runtime import artifacts

    folder = run_dir / "steps" / step / "fetched" / what
    for name, value in values.items():
        artifacts.save(name, value, str(folder / name))
    manifest = {"format": "cellpipe.fetched/v1", "run": "kf1", "step": step, "what": what, "kfpRunId": "k",
                "values": {n: {"path": n, "step": "load", "source": "v2/artifacts/debug/k/load/u/%s/" % n, "bytes": 1}
                           for n in values},
                "parameters": parameters, "fetchedAt": "2026-01-01T00:00:00Z"}
    (folder / "fetched.json").write_text(json.dumps(manifest))


def test_a_kubeflow_steps_inputs_and_outputs_load_from_what_cellpipe_fetch_put_in_the_run_store(tmp_path):
    """The debug loop on Kubeflow: divide failed; its inputs (load's outputs, fetched from KFP's object store) and the
    parameter it read come into the kernel as the pod saw them; load's outputs too. The backend's ``cellpipe fetch``
    answers with the same folder (what was fetched once is read without the cluster)."""
    import cellpipe as api

    store = tmp_path / ".cellpipe"
    run_dir = _kubeflow_run(store, [("load", "succeeded"), ("divide", "failed"), ("report", "skipped")])
    _fetched(run_dir, "divide", "inputs", {"total": 10, "unit": "kg"}, {"DIVISOR": 4})
    _fetched(run_dir, "load", "outputs", {"total": 10, "unit": "kg"}, {})
    ns = {}
    assert api.load("divide", run="kf1", store=str(store), into=ns) == {"total": 10, "unit": "kg", "DIVISOR": 4}
    assert ns["total"] == 10 and ns["DIVISOR"] == 4
    assert api.load("load", run="kf1", what="outputs", store=str(store)) == {"total": 10, "unit": "kg"}

    r = cellpipe(["fetch", "kf1", "divide", "--json", "--store", str(store)], str(tmp_path))
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["dir"] == str(run_dir / "steps" / "divide" / "fetched" / "inputs")
    assert answer["manifest"]["parameters"] == {"DIVISOR": 4}
    r = cellpipe(["fetch", "kf1", "divide", "--store", str(store)], str(tmp_path))
    assert "inputs of step 'divide' of run kf1 (fetched before) into" in r.stdout
    assert "total: 1 B from step 'load'" in r.stdout

    with pytest.raises(api.LoadError, match=r"step 'divide' has no outputs in run kf1: it failed"):
        api.load("divide", run="kf1", what="outputs", store=str(store))


def test_a_kubeflow_step_not_fetched_yet_is_fetched_by_the_backend_which_says_what_to_do(tmp_path):
    """Nothing fetched: ``load`` runs the real ``cellpipe fetch`` (node, the checkout's CLI, an argv list); a profile
    without kfp.objectStore is the backend's answer, naming the profiles file and what to add."""
    import cellpipe as api

    store = tmp_path / ".cellpipe"
    _kubeflow_run(store, [("load", "succeeded"), ("divide", "failed")])
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("profiles:\n  team-a:\n    namespace: team-a\n    kfp:\n      host: http://127.0.0.1:9\n")
    old = os.environ.get("CELLPIPE_PROFILES")
    os.environ["CELLPIPE_PROFILES"] = str(profiles)
    try:
        with pytest.raises(api.LoadError) as err:
            api.load("divide", run="kf1", store=str(store))
    finally:
        if old is None:
            del os.environ["CELLPIPE_PROFILES"]
        else:
            os.environ["CELLPIPE_PROFILES"] = old
    said = str(err.value)
    assert "profile 'team-a' does not say where that store is (no 'kfp.objectStore')" in said, said
    assert "add it to profile 'team-a' in %s" % profiles in said
    assert not (store / "runs" / "kf1" / "steps" / "divide" / "fetched" / "inputs").exists()

def test_the_magic_loads_a_kubeflow_steps_inputs_into_the_kernel(kernel, tmp_path):
    """What the sidebar's Load inputs into kernel runs, for a step that failed on Kubeflow."""
    store = tmp_path / ".cellpipe"
    run_dir = _kubeflow_run(store, [("load", "succeeded"), ("divide", "failed")])
    _fetched(run_dir, "divide", "inputs", {"total": 10, "unit": "kg"}, {"DIVISOR": 4})
    execute(kernel, "%load_ext cellpipe")
    reply, out, err = execute(kernel, "%%cellpipe load divide --run kf1 --store %s" % store)
    assert reply["status"] == "ok", err
    assert "inputs of step 'divide' loaded: DIVISOR (int), total (int), unit (str)" in out, out
    reply, out, _ = execute(kernel, "print(total, unit, DIVISOR)")
    assert out.strip() == "10 kg 4"
