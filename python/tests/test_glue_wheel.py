"""The cellpipe wheel on its own: labextension and server config as shared data, the jupyter-server-proxy entry
point, the `cellpipe` command, and the backend bundled into one file that serves and runs a notebook, and loads the
Kubernetes client, without the checkout next to it. (scripts/test-wheel.sh installs it into fresh venvs as a user
would; this is the quick check of what is inside.)"""

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
# The shared corpus beside the checkout (CELLPIPE_CORPUS elsewhere, as for scripts/test-e2e.sh).
CORPUS = Path(os.environ.get("CELLPIPE_CORPUS") or REPO.parent / "shared" / "corpus") / "kale"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if not (REPO / "python" / "cellpipe" / "labextension" / "package.json").exists():
        pytest.fail("the labextension is not built: run `bash scripts/build-labextension.sh`")
    # The bundle of the backend as lib/ is now (a few seconds), so the wheel carries the code under test.
    bundle = subprocess.run(["node", str(REPO / "scripts" / "bundle-backend.mjs")], capture_output=True, text=True, timeout=300)
    assert bundle.returncode == 0, bundle.stderr
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
    assert "[console_scripts]" in entry_points and "cellpipe = cellpipe.cli:main" in entry_points
    # The labextension is shipped once, as shared data; the step runtime is in the wheel too.
    assert not (site / "cellpipe" / "labextension").exists()
    assert (site / "cellpipe_runtime" / "__main__.py").exists()
    # The backend is one file and the licences of what it bundles: no node_modules tree.
    assert sorted(p.name for p in (site / "cellpipe" / "backend").iterdir()) == ["THIRD-PARTY-LICENSES.txt", "cellpipe.mjs"]
    assert "@kubernetes/client-node" in (site / "cellpipe" / "backend" / "THIRD-PARTY-LICENSES.txt").read_text()


def test_the_installed_glue_finds_the_backend_inside_the_wheel(wheel):
    _, site = wheel
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLPIPE_")}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", "from cellpipe.node import find_backend; print(find_backend())"],
                         capture_output=True, text=True, env=env, cwd=str(site.parent))
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == site / "cellpipe" / "backend" / "cellpipe.mjs"


def _cellpipe(site, args, tmp_path, **env):
    """The `cellpipe` console script's function, with only the wheel's files importable."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CELLPIPE_")}
    environ.update(PYTHONPATH=str(site), HOME=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", "import sys; from cellpipe.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, env=environ, cwd=str(tmp_path), timeout=120)


def test_the_cellpipe_command_says_the_versions_of_every_part(wheel, tmp_path):
    _, site = wheel
    version = json.loads((REPO / "package.json").read_text())["version"]
    out = _cellpipe(site, ["--version"], tmp_path)
    assert (out.returncode, out.stdout) == (0, f"cellpipe {version}\n"), out.stderr
    # The wheel's own version, the Python package's and the labextension's are the same.
    dist = next(site.glob("cellpipe-*.dist-info")).name
    assert dist == f"cellpipe-{version}.dist-info"
    init = subprocess.run([sys.executable, "-c", "import cellpipe; print(cellpipe.__version__)"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)}, cwd=str(tmp_path))
    assert init.stdout.strip() == version
    labext = next(site.glob("cellpipe-*.data")) / "data" / "share" / "jupyter" / "labextensions" / "cellpipe" / "package.json"
    assert json.loads(labext.read_text())["version"] == version


def test_the_bundled_cli_loads_the_kubernetes_client(wheel, tmp_path):
    _, site = wheel
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: gone, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: not-a-secret}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u, namespace: team}}]\ncurrent-context: gone\n")
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(f"profiles:\n  gone:\n    kubeconfig: {kubeconfig}\n    namespace: team\n")
    out = _cellpipe(site, ["doctor", "--profile", "gone"], tmp_path, CELLPIPE_PROFILES=str(profiles))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "API server" in out.stdout and "127.0.0.1:9" in out.stdout, out.stdout
    assert "ERR_MODULE_NOT_FOUND" not in out.stderr and "    at " not in out.stderr, out.stderr


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
    proc = subprocess.Popen([node, str(site / "cellpipe" / "backend" / "cellpipe.mjs"), "serve",
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
