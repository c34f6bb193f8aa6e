"""cellpipe's Jupyter side: the prebuilt JupyterLab extension and the server glue.

- ``_jupyter_labextension_paths``: where the prebuilt labextension is (also installed as shared data).
- The server extension (enabled by ``jupyter-config/server-config/cellpipe.json``) records Jupyter's root
  directory for the backend and says in the Jupyter log whether Node.js and the backend were found.
- ``cellpipe.proxy.setup_cellpipe`` (entry point ``jupyter_serverproxy_servers``) has jupyter-server-proxy
  start the Node backend on demand, on a Unix socket, at ``<base_url>cellpipe/``.
- In a kernel: ``cellpipe.load(step, run="latest", what="inputs")`` (``debug.py``) and the ``%cellpipe load`` magic
  (``%load_ext cellpipe``, ``magic.py``) bring a step's variables from a run into the notebook. Nothing here
  imports Jupyter server modules at import time: kernels import this package too.
"""

from __future__ import annotations

from .debug import LoadError, load

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    from .magic import load_ipython_extension as register

    register(ipython)


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "cellpipe"}]


def _jupyter_server_extension_points():
    return [{"module": "cellpipe"}]


def _load_jupyter_server_extension(serverapp):
    from .node import SetupError, find_backend, find_node
    from .proxy import remember_root_dir

    remember_root_dir(serverapp.root_dir)
    log = serverapp.log
    try:
        node = find_node()
        backend = find_backend()
    except SetupError as err:
        log.warning("cellpipe: %s. %s", err, err.hint)
    else:
        log.info("cellpipe: backend %s, Node.js %s (%s)", backend, node.version, node.source)
    enabled = getattr(serverapp, "jpserver_extensions", {}) or {}
    if not enabled.get("jupyter_server_proxy", False):
        log.warning(
            "cellpipe: jupyter_server_proxy is not enabled in this server, so the cellpipe backend is unreachable; "
            "enable it with `jupyter server extension enable jupyter_server_proxy`"
        )


# Older Jupyter servers look for the underscore-less name.
load_jupyter_server_extension = _load_jupyter_server_extension
