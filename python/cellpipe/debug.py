"""``cellpipe.load``: a step's inputs (or outputs) from a run, in the kernel, to debug the step interactively.

Reads the run store the CLI writes (``src/runs/store.ts``): ``<store>/runs/<id>/run.jsonl`` is a ``create`` line
then run- and step-level patches, folded here the same way; each step's folder has ``inputs.json`` (input name →
producing step and artifact folder) and ``program.json``. A Kubeflow run's artifacts are in KFP's object store: the
backend's ``cellpipe fetch`` brings a step's into its folder (``fetched/<inputs|outputs>/``, with ``fetched.json``)
first, once. Values are read with the step runtime's own
deserialisers (``cellpipe_runtime.artifacts``), so a value comes back as the next step would have seen it.

Standard library only at import time: the kernel imports this, not the Jupyter server.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any, Dict, List, Optional

__all__ = ["load", "LoadError", "find_store", "read_run", "list_runs"]


class LoadError(Exception):
    """Why a step's variables can't be loaded, said so the user knows what to do."""

    def _render_traceback_(self) -> List[str]:  # IPython shows this instead of a traceback: the message is the point
        return ["cellpipe.LoadError: %s" % self]


def find_store(notebook: Optional[str] = None, store: Optional[str] = None) -> str:
    """The run store as the CLI picks it: ``store``, else ``$CELLPIPE_STORE``, else ``.cellpipe`` next to the
    notebook; without a notebook, in the current directory (a kernel's is its notebook's folder)."""
    if store:
        return os.path.abspath(store)
    if os.environ.get("CELLPIPE_STORE"):
        return os.path.abspath(os.environ["CELLPIPE_STORE"])
    base = os.path.dirname(os.path.abspath(notebook)) if notebook else os.getcwd()
    return os.path.join(base, ".cellpipe")


def _apply(target: Dict[str, Any], event: Dict[str, Any]) -> None:
    target.update(event.get("set") or {})
    for key in event.get("unset") or []:
        target.pop(key, None)


def read_run(store: str, run_id: str) -> Optional[Dict[str, Any]]:
    """The run's record, folded from its ``run.jsonl`` (a torn last line, as after a power cut, is skipped)."""
    path = os.path.join(store, "runs", run_id, "run.jsonl")
    try:
        with open(path, "r", encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except FileNotFoundError:
        return None
    record: Optional[Dict[str, Any]] = None
    for line in lines:
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("t")
        if kind == "create":
            if record is None:
                record = event["record"]
        elif record is None:
            continue
        elif kind == "run":
            _apply(record, event)
        elif kind == "step":
            step = next((s for s in record["steps"] if s["name"] == event["step"]), None)
            if step is None:
                step = {"name": event["step"], "state": "pending", "attempts": 0, "outputs": [], "metrics": {}}
                record["steps"].append(step)
            _apply(step, event)
    return record


def list_runs(store: str) -> List[Dict[str, Any]]:
    """Every run in the store, newest first (as ``cellpipe runs`` lists them)."""
    try:
        names = os.listdir(os.path.join(store, "runs"))
    except FileNotFoundError:
        return []
    runs = [r for r in (read_run(store, n) for n in names) if r is not None]
    runs.sort(key=lambda r: (r.get("createdAt", ""), r["id"]), reverse=True)
    return runs


def _pick_run(store: str, run: str, step: str, notebook: Optional[str]) -> Dict[str, Any]:
    runs = list_runs(store)
    if notebook:
        runs = [r for r in runs if os.path.basename(r.get("notebook", "")) == os.path.basename(notebook)]
    if not runs:
        raise LoadError("no runs in %s%s: run the pipeline first (`cellpipe run NOTEBOOK` or Run in the cellpipe "
                        "sidebar), or pass store=/--store to look elsewhere"
                        % (store, " of %s" % os.path.basename(notebook) if notebook else ""))
    if run == "latest":
        with_step = [r for r in runs if any(s["name"] == step for s in r["steps"])]
        if not with_step:
            names = sorted({s["name"] for r in runs for s in r["steps"]})
            raise LoadError("no run in %s has a step '%s'; the steps are: %s" % (store, step, ", ".join(names)))
        return with_step[0]
    matches = [r for r in runs if r["id"] == run] or [r for r in runs if r["id"].startswith(run)]
    if len(matches) > 1:
        raise LoadError("'%s' matches several runs (%s); give more of the id"
                        % (run, ", ".join(r["id"] for r in matches[:5])))
    if not matches:
        raise LoadError("no run '%s' in %s — runs are kept next to their notebook (<notebook folder>/.cellpipe); "
                        "pass store= (--store) to look elsewhere, `cellpipe runs` lists them" % (run, store))
    return matches[0]


def _step_dir(store: str, run_id: str, step: str) -> str:
    from urllib.parse import quote

    name = quote(step, safe="-_.!~*'()")  # encodeURIComponent, as the store names step folders
    if name.startswith("."):
        name = "%2E" + name[1:]
    return os.path.join(store, "runs", run_id, "steps", name)


def _read_json(path: str) -> Optional[Any]:
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except (FileNotFoundError, ValueError):
        return None


_NEEDS = {"npy": ["numpy"], "parquet": ["pandas", "pyarrow"], "feather": ["pandas", "pyarrow"], "joblib": ["joblib"]}


def _load_value(name: str, directory: str) -> Any:
    from cellpipe_runtime import artifacts
    from cellpipe_runtime.errors import StepError

    try:
        meta = artifacts.read_meta(directory)
        missing = [m for m in _NEEDS.get(str(meta.get("format")), []) if importlib.util.find_spec(m) is None]
        if missing:
            raise LoadError("'%s' (a %s) is stored as %s, which needs %s; install %s in this kernel's environment "
                            "(%s)" % (name, meta.get("python_type"), meta.get("format"), " and ".join(missing),
                                      " and ".join(missing), sys.executable))
        return artifacts.load(name, directory)
    except StepError as err:
        raise LoadError(err.message) from None


def _why_not_run(rec: Dict[str, Any], step: Dict[str, Any]) -> str:
    state = step.get("state")
    if state == "skipped":
        failed = [s["name"] for s in rec["steps"] if s.get("state") in ("failed", "cancelled")]
        return "it was skipped" + (" because step %s failed" % ", ".join("'%s'" % f for f in failed) if failed else "")
    return {"failed": "it failed", "cancelled": "it was cancelled"}.get(str(state), "it is %s" % state)


def load(step: str, run: str = "latest", what: str = "inputs", notebook: Optional[str] = None,
         store: Optional[str] = None, into: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The variables step ``step`` read (``what="inputs"``: the upstream variables and the parameters it uses) or
    wrote (``what="outputs"``) in run ``run`` (an id, a unique prefix of one, or ``latest``: the newest run that has
    this step). With ``into`` (e.g. ``globals()``) they are also bound there. Raises ``LoadError`` saying why when
    something can't be loaded."""
    if what not in ("inputs", "outputs"):
        raise ValueError("what must be 'inputs' or 'outputs', not %r" % (what,))
    store_dir = find_store(notebook, store)
    rec = _pick_run(store_dir, run, step, notebook)
    rstep = next((s for s in rec["steps"] if s["name"] == step), None)
    if rstep is None:
        raise LoadError("run %s has no step '%s'; its steps are: %s"
                        % (rec["id"], step, ", ".join(s["name"] for s in rec["steps"])))
    if rec.get("runtime") == "kubeflow":
        return _load_kubeflow(store_dir, rec, rstep, what, into)
    if rstep.get("reused") and rstep.get("cachedFrom") and rstep["cachedFrom"] != rec["id"]:
        # A partial run took this step's outputs from another run without running it: that run has its inputs.
        return load(step, run=rstep["cachedFrom"], what=what, notebook=notebook, store=store_dir, into=into)
    sdir = _step_dir(store_dir, rec["id"], step)
    program = _read_json(os.path.join(sdir, "program.json")) or {}
    sources: Dict[str, str] = {}
    values: Dict[str, Any] = {}
    if what == "outputs":
        if rstep.get("state") not in ("succeeded", "cached"):
            raise LoadError("step '%s' has no outputs in run %s: %s; load its inputs instead (what='inputs', or "
                            "%%cellpipe load without --outputs) to rerun it" % (step, rec["id"], _why_not_run(rec, rstep)))
        for out in rstep.get("outputs", []):
            sources[out["name"]] = out.get("path") or ""
    else:
        inputs = _read_json(os.path.join(sdir, "inputs.json"))
        if inputs is None:
            if rstep.get("state") in ("pending", "skipped", "cancelled") and not program:
                raise LoadError("step '%s' did not start in run %s: %s, so its inputs were never gathered; load "
                                "the outputs of the steps before it (what='outputs'), or pick another run"
                                % (step, rec["id"], _why_not_run(rec, rstep)))
            raise LoadError("run %s does not say where the inputs of step '%s' came from (made by an older "
                            "cellpipe?); run the pipeline again" % (rec["id"], step))
        for name, src in sorted(inputs.items()):
            sources[name] = src.get("path") or ""
        names = [p["name"] for p in program.get("parameters", [])] if program else list(rec.get("parameters", {}))
        for name in names:
            if name in rec.get("parameters", {}):
                values[name] = rec["parameters"][name]
    loaded = _load_all(sources, into)
    values.update(loaded)
    if into is not None:
        into.update(values)
    return values


def _fetched(store: str, run_id: str, step: str, what: str) -> Optional[Dict[str, Any]]:
    """What ``cellpipe fetch`` put in the run store for the step (a folder that exists is whole: it is renamed into
    place once complete)."""
    directory = os.path.join(_step_dir(store, run_id, step), "fetched", what)
    manifest = _read_json(os.path.join(directory, "fetched.json"))
    if not isinstance(manifest, dict) or manifest.get("format") != "cellpipe.fetched/v1":
        return None
    return {"dir": directory, "manifest": manifest}


def _fetch(store: str, run_id: str, step: str, what: str) -> Dict[str, Any]:
    """Has the backend's ``cellpipe fetch`` bring the step's artifacts from KFP's object store into the run store (an
    argv list: nothing here goes through a shell), unless it did before."""
    done = _fetched(store, run_id, step, what)
    if done is not None:
        return done
    import subprocess

    from .node import SetupError, find_backend, find_node

    try:
        argv = [find_node().path, str(find_backend()), "fetch", run_id, step, "--store", store, "--json"]
    except SetupError as err:
        raise LoadError("run %s ran on Kubeflow: its artifacts are fetched by cellpipe's backend, which cannot start "
                        "here: %s — %s" % (run_id, err, err.hint)) from None
    if what == "outputs":
        argv.append("--outputs")
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise LoadError("fetching the %s of step '%s' of run %s from KFP's object store took longer than %d minutes; "
                        "run `cellpipe fetch %s %s%s` in a terminal to see it through, then load again"
                        % (what, step, run_id, _FETCH_TIMEOUT_S // 60, run_id, step,
                           " --outputs" if what == "outputs" else "")) from None
    if out.returncode != 0:
        said = (out.stderr or out.stdout).strip().replace("cellpipe fetch: ", "", 1)
        raise LoadError(said or "cellpipe fetch failed (exit %d)" % out.returncode)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise LoadError("cellpipe fetch said something that is not its answer: %s" % out.stdout[-300:]) from None


# Fetching is bounded per request by the backend (an unreachable store fails in seconds); this bounds a large one.
_FETCH_TIMEOUT_S = 30 * 60


def _load_kubeflow(store: str, rec: Dict[str, Any], rstep: Dict[str, Any], what: str,
                   into: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """A Kubeflow step's variables: fetched from KFP's object store into the run store, then read as a local run's."""
    step = rstep["name"]
    if what == "outputs" and rstep.get("state") not in ("succeeded", "cached"):
        raise LoadError("step '%s' has no outputs in run %s: %s; load its inputs instead (what='inputs', or "
                        "%%cellpipe load without --outputs) to rerun it" % (step, rec["id"], _why_not_run(rec, rstep)))
    got = _fetch(store, rec["id"], step, what)
    directory, manifest = got["dir"], got["manifest"]
    sources = {name: os.path.join(directory, v.get("path") or name) for name, v in sorted(manifest.get("values", {}).items())}
    values: Dict[str, Any] = dict(manifest.get("parameters") or {}) if what == "inputs" else {}
    values.update(_load_all(sources, into))
    if into is not None:
        into.update(values)
    return values


def _load_all(sources: Dict[str, str], into: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Read every artifact, with functions and classes from the notebook rebuilt against ``into`` (the kernel's
    namespace), as the step runtime rebuilds them against the step's."""
    from cellpipe_runtime import artifacts

    previous = artifacts.current_context()
    namespace = into if into is not None else {"__name__": "__main__", "__builtins__": __builtins__}
    artifacts.set_context(artifacts.Context(namespace))
    problems: List[str] = []
    values: Dict[str, Any] = {}
    try:
        for name, directory in sources.items():
            if not directory or not os.path.isdir(directory):
                problems.append("'%s': its artifact folder %s is gone (the run it came from was deleted?)"
                                % (name, directory or "(none recorded)"))
                continue
            try:
                values[name] = _load_value(name, directory)
            except LoadError as err:
                problems.append(str(err))
    finally:
        artifacts.set_context(previous)  # type: ignore[arg-type]
    if problems:
        raise LoadError("can't load %s:\n  %s" % ("all variables" if len(problems) > 1 else "a variable",
                                                  "\n  ".join(problems)))
    return values
