"""What printing costs in a step: a cell that prints N short lines, run as a local step does (``python -m
cellpipe_runtime run --cell-outputs …``, ``PYTHONUNBUFFERED=1``, stdout and stderr read through pipes), against the
same code run by plain Python in the same environment (``python -c``), measured in the same session.

The step records every print into the cell's outputs (``outputs.Recorder``) while it reaches the log; the goal is a
ratio of at most 1.5 (issue 20: it was ~30x at 100k prints, quadratic in the number of prints).

usage: python bench/print_cost.py [--lines N ...] [--repeat R] [--json]
Defaults: --lines 100000 1000000, --repeat 3 (the median is kept). Uses the interpreter it runs under.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.join(os.path.dirname(HERE), "python")


def _code(n: int) -> str:
    return "for i in range(%d):\n    print('line', i)\n" % n


def _timed(argv, env, cwd) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d):\n%s" % (argv[:3], proc.returncode, proc.stderr.decode()[-2000:]))
    return elapsed


def measure(n: int, repeat: int, tmp: str) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=PYTHON_DIR)
    program = {"format": "cellpipe.step/v1", "pipeline": "bench", "step": "printer", "notebook": "bench.ipynb",
               "cells": [{"index": 0, "source": _code(n), "role": "step"}], "parameters": [], "inputs": [],
               "outputs": [], "metrics": []}
    prog_path = os.path.join(tmp, "program.json")
    with open(prog_path, "w", encoding="utf-8") as fh:
        json.dump(program, fh)
    outputs = os.path.join(tmp, "cell-outputs.json")
    plain_argv = [sys.executable, "-c", _code(n)]
    step_argv = [sys.executable, "-m", "cellpipe_runtime", "run", "--program", prog_path, "--cell-outputs", outputs]
    plain, step = [], []
    for _ in range(repeat):  # interleaved: a busy machine slows both alike
        plain.append(_timed(plain_argv, env, tmp))
        step.append(_timed(step_argv, env, tmp))
    with open(outputs, encoding="utf-8") as fh:
        recorded = json.load(fh)["cells"]["0"]["outputs"]
    kept = sum(o["text"].count("\n") for o in recorded if o["output_type"] == "stream" and o["name"] == "stdout")
    p, s = statistics.median(plain), statistics.median(step)
    return {"lines": n, "plain_s": round(p, 3), "step_s": round(s, 3), "ratio": round(s / p, 2),
            "lines_recorded": kept}


def main() -> None:
    argv = sys.argv[1:]
    lines, repeat, as_json = [100000, 1000000], 3, "--json" in argv
    if "--lines" in argv:
        i = argv.index("--lines") + 1
        lines = []
        while i < len(argv) and not argv[i].startswith("--"):
            lines.append(int(argv[i]))
            i += 1
    if "--repeat" in argv:
        repeat = int(argv[argv.index("--repeat") + 1])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in lines:
            r = measure(n, repeat, tmp)
            results.append(r)
            if not as_json:
                print("%8d prints: plain Python %.3fs, cellpipe step %.3fs -> %.2fx (%d lines in the cell outputs)"
                      % (n, r["plain_s"], r["step_s"], r["ratio"], r["lines_recorded"]))
    if as_json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
