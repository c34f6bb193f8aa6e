"""cellpipe's step runtime: the one entry point every pipeline step runs through, locally and in containers.

    python3 -m cellpipe_runtime run --program PROGRAM [--param NAME=VALUE]... [--input NAME=DIR]...
            [--output NAME=DIR]... [--metrics FILE] [--error-record FILE] [--workdir DIR]
    python3 -m cellpipe_runtime --version

Standard library only (Python >= 3.9); numpy, pandas, pyarrow and joblib are used when a value needs them.

* ``PROGRAM`` — the step program (``StepProgram`` in ``src/core/model.ts``), a JSON file or the JSON text itself.
* ``--param`` values are text as KFP passes them (str raw; int/float decimal; bool true/false; list/dict JSON) and are
  converted to the declared type (``program.py``).
* Artifact directories of ``--input``/``--output``: see ``artifacts.py`` (``DIR/cellpipe.json`` + ``DIR/data.<ext>``).
* Metrics: see ``metrics.py`` (KFP v1 metrics JSON + ``FILE.values.json``).
* IPython syntax (``!cmd``, line and cell magics): see ``magics.py``.
* Failures: see ``errors.py`` (traceback naming ``cell N ("first line"), line L``, N as JupyterLab numbers cells;
  the error record JSON, whose ``cell`` is the 0-based index).
"""
import os

__version__ = "0.1.0"


def version() -> str:
    """``0.1.0+<hash of this package's sources>``: changes whenever the runtime's code does (cache keys use it)."""
    import hashlib

    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            digest.update(name.encode() + b"\0")
            with open(os.path.join(here, name), "rb") as fh:
                digest.update(fh.read())
    return "%s+%s" % (__version__, digest.hexdigest()[:12])
