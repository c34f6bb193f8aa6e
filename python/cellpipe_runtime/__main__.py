"""``python3 -m cellpipe_runtime``: see the package docstring."""
import os
import sys


def _import_runner():
    """Imports the runtime with its bytecode cached even where PYTHONDONTWRITEBYTECODE is set (steps start often:
    compiling the runtime each time would cost more than running a small step). The user's setting is restored
    before any notebook code runs; a cache that can't be written is simply not used."""
    if not sys.dont_write_bytecode:
        from cellpipe_runtime.runner import main
        return main
    saved = sys.pycache_prefix
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    sys.dont_write_bytecode = False
    sys.pycache_prefix = saved or os.path.join(home, "cellpipe", "pycache")
    try:
        from cellpipe_runtime import magics, metrics  # noqa: F401 - cached now, cheap to import later
        from cellpipe_runtime.runner import main
        return main
    finally:
        sys.dont_write_bytecode = True
        sys.pycache_prefix = saved


if __name__ == "__main__":
    sys.exit(_import_runner()())
