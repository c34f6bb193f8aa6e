"""The cellpipe wheel on its own: labextension and server config as shared data, the jupyter-server-proxy entry
point, and a Node backend that serves and runs a notebook without the checkout next to it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from test_glue_node import _UnixHTTPConnection

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "kale"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if not (REPO / "python" / "cellpipe" / "labextension" / "package.json").exists():
        pytest.fail("the labextension is not built: run `bash scripts/build-labextension.sh`")
    out = tmp_path_factory.mktemp("wheel")
    env = dict(os.environ, HATCH_JUPYTER_BUILDER_SKIP_NPM="1")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", "-w", str(out),
         str(REPO / "python")], capture_output=True, text=True, env=env, timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (whl,) = out.glob("cellpipe-*.whl")
    site = out / "site"
    with zipfile.ZipFile(whl) as z:
        z.extractall(site)
    return whl, site


def test_the_wheel_ships_the_labextension_the_server_config_and_the_proxy_entry_point(wheel):
    whl, site = wheel
    data = next(site.glob("cellpipe-*.data")) / "data"
    labext = data / "share" / "jupyter" / "labextensions" / "cellpipe"
    assert json.loads((labext / "package.json").read_text())["name"] == "cellpipe"
    assert list((labext / "static").glob("remoteEntry.*.js"))
    assert (labext / "install.json").exists()
    config = json.loads((data / "etc" / "jupyter" / "jupyter_server_config.d" / "cellpipe.json").read_text())
    assert config["ServerApp"]["jpserver_extensions"]["cellpipe"] is True
    entry_points = next(site.glob("cellpipe-*.dist-info")).joinpath("entry_points.txt").read_text()
    assert "[jupyter_serverproxy_servers]" in entry_points and "cellpipe = cellpipe.proxy:setup_cellpipe" in entry_points
    # The labextension is shipped once, as shared data; the step runtime is in the wheel too.
    assert not (site / "cellpipe" / "labextension").exists()
    assert (site / "cellpipe_runtime" / "__main__.py").exists()
    # Browser code and Node-only code stay apart.
    assert not (site / "cellpipe" / "backend" / "node_modules" / "@kubernetes").exists()


def test_the_installed_glue_finds_the_backend_inside_the_wheel(wheel):
    _, site = wheel
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLPIPE_")}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", "from cellpipe.node import find_backend; print(find_backend())"],
                         capture_output=True, text=True, env=env, cwd=str(site.parent))
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == site / "cellpipe" / "backend"


def _request(sock, method, path, body=None):
    conn = _UnixHTTPConnection(sock)
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                 headers={"Content-Type": "application/json"} if body is not None else {})
    res = conn.getresponse()
    data = json.loads(res.read())
    conn.close()
    return res.status, data


def test_the_wheel_backend_serves_and_runs_a_notebook_without_the_checkout(wheel, tmp_path):
    _, site = wheel
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(CORPUS / "candies_sharing.ipynb", root / "candies.ipynb")
    sock = str(tmp_path / "b.sock")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLPIPE_")}
    # What the glue sets: the steps' Python and the step runtime installed with the wheel.
    env.update(CELLPIPE_PYTHON=sys.executable, CELLPIPE_RUNTIME_PATH=str(site), CELLPIPE_STORE_FSYNC="0")
    node = shutil.which("node") or pytest.fail("node is needed for this test")
    proc = subprocess.Popen([node, str(site / "cellpipe" / "backend" / "bin" / "cellpipe.js"), "serve",
                             "--socket", sock, "--root", str(root)],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on unix:" in proc.stdout.readline(), proc.stderr.read() if proc.poll() is not None else ""
        status, body = _request(sock, "POST", "/api/compile", {"path": "candies.ipynb"})
        assert status == 200 and body["ok"], body
        status, body = _request(sock, "POST", "/api/runs", {"path": "candies.ipynb", "parameters": {"CANDIES": 6}})
        assert status == 201, body
        run_id = body["runId"]
        deadline = time.time() + 120
        while time.time() < deadline:
            status, run = _request(sock, "GET", f"/api/runs/{run_id}")
            if run["state"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.3)
        assert run["state"] == "succeeded", json.dumps(run, indent=1)
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
