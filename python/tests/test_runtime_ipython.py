"""IPython itself as the oracle: cells with shell lines and magics print the same in a step as in IPython."""
import json
import os
import subprocess
import sys

import pytest

from test_runtime_support import program, run_step

pytest.importorskip("IPython")

CELLS = [
    "name = 'world'\nn = 3\n!echo hello $name {n * 2} {{literal}} '$$HOME'",
    "files = !printf 'b\\na\\n'\nprint(sorted(files), files.s, files.n.count('\\n'))",
    "for i in range(2):\n    !echo loop {i} $i",
    "%%writefile notes.txt\nfirst line\nsecond {n}",
    "%%writefile -a notes.txt\nappended",
    "%%bash\necho from bash\ncat notes.txt",
    "def shout(word):\n    out = !echo {word.upper()}\n    return out[0]\nprint(shout('quiet'))",
    "!echo $UNDEFINED_PY_NAME_BUT_SHELL_VAR; echo next",
    "x = !echo {1 +}\nprint(x)",
    "%env GREETING=hi there\n!echo $GREETING\n%set_env OTHER 2\nimport os\nprint(os.environ['OTHER'])",
    "items = ['x', 'y']\n!echo {items!r} {len(items)} $items",
    "ls_out = !ls\nprint(sorted(ls_out))",
    "display('text', [1, 2], {'k': None})\nclass Shown:\n    def __repr__(self):\n        return '<Shown>'\ndisplay(Shown())",
]

IPYTHON_RUNNER = r"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
for source in json.load(open(sys.argv[1])):
    result = shell.run_cell(source, store_history=False)
    sys.stdout.flush()
    if not result.success:
        raise SystemExit("cell failed in IPython: %r" % (source,))
"""


def test_shell_lines_and_magics_print_what_ipython_prints(tmp_path):
    ipy_dir = tmp_path / "ipython"
    step_dir = tmp_path / "step"
    ipy_dir.mkdir()
    step_dir.mkdir()
    cells_file = tmp_path / "cells.json"
    cells_file.write_text(json.dumps(CELLS))
    runner = tmp_path / "ipy_runner.py"
    runner.write_text(IPYTHON_RUNNER)
    env = dict(os.environ, UNDEFINED_PY_NAME_BUT_SHELL_VAR="shell-value", SHELL="/bin/sh")
    expected = subprocess.run([sys.executable, str(runner), str(cells_file)], capture_output=True, text=True,
                              cwd=str(ipy_dir), env=env, timeout=120)
    assert expected.returncode == 0, expected.stderr

    prog = program("ipython-equivalent", [(i, src) for i, src in enumerate(CELLS)])
    got = run_step(tmp_path, prog, workdir=str(step_dir), env={"UNDEFINED_PY_NAME_BUT_SHELL_VAR": "shell-value"})
    assert got.code == 0, got
    assert got.stdout == expected.stdout
    assert (step_dir / "notes.txt").read_text() == (ipy_dir / "notes.txt").read_text()
