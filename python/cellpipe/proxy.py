"""cellpipe's backend behind Jupyter's own authentication, through jupyter-server-proxy.

``setup_cellpipe`` is registered as the ``jupyter_serverproxy_servers`` entry point ``cellpipe``, so the
backend is reachable at ``<base_url>cellpipe/…`` and every request to it has passed Jupyter's token/cookie
check first. jupyter-server-proxy starts the backend on the first request, on a Unix socket in a fresh
private temporary folder (``unix_socket: True``): nothing listens on a TCP port, and only the user running
Jupyter can connect to it. The prefix is stripped (``absolute_url: False``), so the backend sees ``/api/…``.

When Node.js or the backend is missing, a tiny stand-in (``python -m cellpipe.unavailable``) is started on
the socket instead; it answers every request with 503 and a JSON error saying what to install, which the
JupyterLab extension shows as it is.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

from .node import SetupError, find_backend, find_node

log = logging.getLogger("cellpipe")

#: Set by the cellpipe server extension when Jupyter loads it (see ``cellpipe._load_jupyter_server_extension``).
_root_dir: Optional[str] = None


def remember_root_dir(root_dir: str) -> None:
    global _root_dir
    _root_dir = os.path.abspath(os.path.expanduser(root_dir))


def jupyter_root_dir() -> str:
    """Jupyter's root directory: notebook paths from the page are relative to it."""
    if _root_dir:
        return _root_dir
    try:
        from jupyter_server.serverapp import ServerApp

        if ServerApp.initialized():
            return os.path.abspath(os.path.expanduser(ServerApp.instance().root_dir))
    except Exception:  # pragma: no cover - jupyter_server always importable where this runs
        pass
    return os.getcwd()


def _escape(value: str) -> str:
    """jupyter-server-proxy runs ``str.format`` over the command and environment: keep braces literal."""
    return value.replace("{", "{{").replace("}", "}}")


def _runtime_path() -> Optional[str]:
    """The folder holding the step runtime package, as this Python imports it."""
    spec = importlib.util.find_spec("cellpipe_runtime")
    if spec is None or not spec.origin:
        return None
    return str(Path(spec.origin).resolve().parent.parent)


def backend_command(unix_socket: str, root_dir: Optional[str] = None) -> List[str]:
    """The command jupyter-server-proxy runs: the Node backend, or the stand-in explaining what is missing."""
    root = root_dir or jupyter_root_dir()
    try:
        node = find_node()
        backend = find_backend()
    except SetupError as err:
        log.error("cellpipe: %s. %s", err, err.hint)
        cmd = [sys.executable, "-m", "cellpipe.unavailable", "--socket", unix_socket,
               "--message", str(err), "--hint", err.hint]
    else:
        log.info("cellpipe: starting the backend with Node.js %s (%s, %s)", node.version, node.path, node.source)
        cmd = [node.path, str(backend), "serve", "--socket", unix_socket, "--root", root]
    return [_escape(part) for part in cmd]


def step_environment(environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """What the backend and the CLI add to their environment: which Python runs the steps (this one, where the user's
    libraries are, unless told otherwise), and where the step runtime installed with this package is."""
    environ = os.environ if environ is None else environ
    env: Dict[str, str] = {}
    if not environ.get("CELLPIPE_PYTHON"):
        env["CELLPIPE_PYTHON"] = sys.executable
    runtime = _runtime_path()
    if runtime and not environ.get("CELLPIPE_RUNTIME_PATH"):
        env["CELLPIPE_RUNTIME_PATH"] = runtime
    return env


def backend_environment() -> Dict[str, str]:
    """Environment additions for the backend jupyter-server-proxy starts."""
    return {k: _escape(v) for k, v in step_environment().items()}


def _command(unix_socket):
    # jupyter-server-proxy passes the arguments a callable names (and requires all of them): only the socket.
    return backend_command(unix_socket)


def setup_cellpipe() -> dict:
    """The jupyter-server-proxy server process definition for the cellpipe backend."""
    return {
        "command": _command,
        "environment": backend_environment,
        "unix_socket": True,
        "absolute_url": False,
        # Node's start-up plus loading the backend on a busy machine; the check is any HTTP answer on the socket.
        "timeout": 60,
        "launcher_entry": {"enabled": False},
        "new_browser_tab": False,
    }
