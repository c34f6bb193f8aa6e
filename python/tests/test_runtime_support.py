"""Helpers for the step runtime tests: build a step program, run it as a real subprocess, read what it wrote.

(No tests here; the test_runtime_*.py files import it.)
"""
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(PYTHON_DIR)
CORPUS = os.path.normpath(os.path.join(REPO, "..", "shared", "corpus"))


def program(step: str, cells: List[Any], parameters: Optional[Dict[str, str]] = None, inputs=(), outputs=(),
            metrics=(), pipeline: str = "test-pipeline") -> Dict[str, Any]:
    """cells: (index, source) or (index, source, role) or dicts."""
    out = []
    for c in cells:
        if isinstance(c, dict):
            out.append(c)
        else:
            out.append({"index": c[0], "source": c[1], "role": c[2] if len(c) > 2 else "step"})
    return {"format": "cellpipe.step/v1", "pipeline": pipeline, "step": step, "notebook": "test.ipynb",
            "cells": out, "parameters": [{"name": k, "type": v} for k, v in (parameters or {}).items()],
            "inputs": list(inputs), "outputs": list(outputs), "metrics": list(metrics)}


class Result:
    def __init__(self, proc: subprocess.CompletedProcess, record_path: str):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.record_path = record_path

    @property
    def record(self) -> Dict[str, Any]:
        with open(self.record_path, encoding="utf-8") as fh:
            return json.load(fh)

    def __repr__(self) -> str:
        return "exit %s\n--- stdout\n%s--- stderr\n%s" % (self.code, self.stdout, self.stderr)


def run_step(tmp, prog: Dict[str, Any], params=(), inputs: Optional[Dict[str, str]] = None,
             outputs: Optional[Dict[str, str]] = None, metrics: Optional[str] = None, workdir: Optional[str] = None,
             env: Optional[Dict[str, str]] = None, program_as_text: bool = False, cwd: Optional[str] = None,
             timeout: float = 120, extra: Sequence[str] = ()) -> Result:
    """Runs ``python -m cellpipe_runtime run`` in a subprocess, as the local runtime does."""
    tmp = str(tmp)
    if program_as_text:
        prog_arg = json.dumps(prog)
    else:
        prog_arg = os.path.join(tmp, "program-%s.json" % prog["step"])
        with open(prog_arg, "w", encoding="utf-8") as fh:
            json.dump(prog, fh)
    record = os.path.join(tmp, "error-%s.json" % prog["step"])
    if os.path.exists(record):
        os.remove(record)
    argv = [sys.executable, "-m", "cellpipe_runtime", "run", "--program", prog_arg, "--error-record", record]
    for p in params:
        argv += ["--param", p]
    for name, d in (inputs or {}).items():
        argv += ["--input", "%s=%s" % (name, d)]
    for name, d in (outputs or {}).items():
        argv += ["--output", "%s=%s" % (name, d)]
    if metrics:
        argv += ["--metrics", metrics]
    if workdir:
        argv += ["--workdir", workdir]
    argv += list(extra)
    e = dict(os.environ)
    e["PYTHONPATH"] = PYTHON_DIR
    e.pop("CELLPIPE_NO_SERIALIZERS", None)
    e.update(env or {})
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd or tmp, env=e, timeout=timeout)
    return Result(proc, record)


def outputs_for(tmp, *names: str) -> Dict[str, str]:
    return {n: os.path.join(str(tmp), "artifacts", n) for n in names}


def read_meta(directory: str) -> Dict[str, Any]:
    with open(os.path.join(directory, "cellpipe.json"), encoding="utf-8") as fh:
        return json.load(fh)


def read_json_artifact(directory: str) -> Any:
    meta = read_meta(directory)
    assert meta["format"] == "json", meta
    with open(os.path.join(directory, meta["file"]), encoding="utf-8") as fh:
        return json.load(fh)
