"""cellpipe inside a real Jupyter server, installed the way a user installs it.

A real ``jupyter server`` (this environment's, 127.0.0.1, a random port, token auth, a base URL as on JupyterHub, a temporary root with a
notebook) must serve the Node backend at ``/cellpipe/`` through jupyter-server-proxy: with Jupyter's token
the API answers; without it Jupyter refuses before the backend sees anything; notebook paths stay inside the
root; Server-Sent Events stream through the proxy; stopping Jupyter stops the backend.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "kale"


def _installed() -> None:
    eps = [ep for ep in entry_points(group="jupyter_serverproxy_servers") if ep.name == "cellpipe"]
    if not eps:
        pytest.fail("cellpipe is not installed in this Python (no jupyter_serverproxy_servers entry point): "
                    "run `bash scripts/setup.sh` (it runs scripts/build-labextension.sh)")
    if not (REPO / "lib" / "cli" / "main.js").exists():
        pytest.fail("the backend is not built: run `npm run build` at the repository root")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Jupyter:
    """A `jupyter server` process and an HTTP client for it."""

    def __init__(self, root: Path, workdir: Path, env_extra: dict | None = None, base_url: str = "/"):
        self.root = root
        self.base_url = base_url
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        env = dict(os.environ)
        env.update({
            # Only this environment's config (sys-prefix: cellpipe + jupyter_server_proxy), not the user's.
            "JUPYTER_CONFIG_DIR": str(workdir / "config"),
            "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
            "CELLPIPE_STORE_FSYNC": "0",
        })
        env.pop("CELLPIPE_STORE", None)
        env.update(env_extra or {})
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "jupyter.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
             "--ServerApp.allow_root=True", f"--ServerApp.base_url={base_url}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"jupyter server exited {self.proc.returncode}:\n{self.logs()}")
            try:
                if self.request("GET", "/api/status")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError(f"jupyter server did not start in 90 s:\n{self.logs()}")

    def url(self, path: str) -> str:
        """`path` (absolute, as with base_url "/") under this server's base_url."""
        return self.base_url.rstrip("/") + path

    def logs(self) -> str:
        if not self.log.closed:
            self.log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(line[:300] for line in lines[-60:])

    def request(self, method: str, path: str, body=None, token: bool = True, headers: dict | None = None,
                timeout: float = 120):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"token {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        conn.request(method, self.url(path), body=payload, headers=h)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res.status, dict(res.getheaders()), data

    def json(self, method: str, path: str, body=None, **kw):
        status, headers, data = self.request(method, path, body, **kw)
        try:
            return status, json.loads(data)
        except ValueError:
            raise AssertionError(f"{method} {path} → {status}, not JSON: {data[:500]!r}\n{self.logs()}")

    def events(self, path: str, timeout: float = 120):
        """Reads a Server-Sent Events stream through Jupyter until the server ends it: [(event, id, data)]."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.request("GET", self.url(path), headers={"Authorization": f"token {self.token}", "Accept": "text/event-stream"})
        res = conn.getresponse()
        assert res.status == 200, (res.status, res.read()[:500])
        assert res.getheader("Content-Type", "").startswith("text/event-stream")
        out, buf = [], b""
        while True:
            chunk = res.read1(65536) if hasattr(res, "read1") else res.read(1)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                frame, buf = buf.split(b"\n\n", 1)
                fields = {}
                for line in frame.decode().split("\n"):
                    if line.startswith(":") or ":" not in line:
                        continue
                    k, v = line.split(":", 1)
                    fields[k] = v[1:] if v.startswith(" ") else v
                if "data" in fields:
                    out.append((fields.get("event", "message"), fields.get("id"), json.loads(fields["data"])))
        conn.close()
        return out

    def backend_pids(self) -> list[int]:
        """Node backend processes started by this Jupyter (children running `cellpipe.js serve`)."""
        out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
        pids = []
        for line in out.splitlines()[1:]:
            pid, ppid, args = line.split(None, 2)
            if int(ppid) == self.proc.pid and "serve" in args and "--socket" in args:
                pids.append(int(pid))
        return pids

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C or a service manager would; idempotent."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if not self.log.closed:
            self.log.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("glue")
    root = base / "root"
    (root / "work").mkdir(parents=True)
    shutil.copy(CORPUS / "candies_sharing.ipynb", root / "work" / "candies.ipynb")
    (base / "outside.ipynb").write_text((CORPUS / "candies_sharing.ipynb").read_text())
    return base, root


@pytest.fixture(scope="module")
def jupyter(workspace):
    _installed()
    base, root = workspace
    # Under a base URL, as in JupyterHub or a Kubeflow notebook server (/notebook/<ns>/<name>/).
    server = Jupyter(root, base, base_url="/user/tester/")
    yield server
    server.stop()


def test_health_through_jupyter_with_the_token(jupyter):
    status, body = jupyter.json("GET", "/cellpipe/api/health")
    assert status == 200, body
    assert body == {"version": json.loads((REPO / "package.json").read_text())["version"]}


def test_without_the_token_jupyter_refuses_before_the_backend(jupyter):
    status, headers, _ = jupyter.request("GET", "/cellpipe/api/health", token=False)
    assert status in (302, 403), status
    if status == 302:
        assert "/login" in headers.get("Location", "")
    status, _, _ = jupyter.request("POST", "/cellpipe/api/compile", {"path": "work/candies.ipynb"}, token=False)
    assert status == 403
    wrong = dict(Authorization="token " + "0" * 32)
    status, _, _ = jupyter.request("POST", "/cellpipe/api/runs", {"path": "work/candies.ipynb"}, token=False,
                                   headers=wrong)
    assert status == 403


def test_compile_through_the_proxy(jupyter):
    status, body = jupyter.json("POST", "/cellpipe/api/compile", {"path": "work/candies.ipynb"})
    assert status == 200, body
    assert body["ok"] is True
    assert [s["name"] for s in body["graph"]["steps"]] == ["sack", "kid1", "kid2", "kid3"]
    assert "pipelineInfo" in body["yaml"]


@pytest.mark.parametrize("path", ["../outside.ipynb", "work/../../outside.ipynb", "/etc/passwd"])
def test_paths_outside_the_jupyter_root_are_refused(jupyter, path):
    status, body = jupyter.json("POST", "/cellpipe/api/compile", {"path": path})
    assert status == 403, body
    assert "refused" in body["error"]["message"]


def test_a_local_run_streams_status_and_logs_through_the_proxy(jupyter):
    status, body = jupyter.json("POST", "/cellpipe/api/runs",
                                {"path": "work/candies.ipynb", "parameters": {"CANDIES": 9}, "target": "local"})
    assert status == 201, body
    run_id = body["runId"]
    events = jupyter.events(f"/cellpipe/api/runs/{run_id}/events")
    runs = [data for event, _, data in events if event == "run"]
    assert runs[-1]["state"] == "succeeded", json.dumps(runs[-1], indent=1)
    assert events[-1][0] == "end"
    lines = jupyter.events(f"/cellpipe/api/runs/{run_id}/logs/sack?follow=1")
    texts = [data["text"] for event, _, data in lines if event == "line"]
    assert any("9 candies" in t for t in texts), texts
    assert [i for event, i, _ in lines if event == "line"] == [str(n) for n in range(len(texts))]
    # The run is stored next to the notebook, inside Jupyter's root.
    assert (jupyter.root / "work" / ".cellpipe" / "runs" / run_id).is_dir()


def test_a_crashed_backend_is_started_again(jupyter):
    assert jupyter.json("GET", "/cellpipe/api/health")[0] == 200
    (pid,) = jupyter.backend_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 60
    status = None
    while time.time() < deadline:
        # jupyter-server-proxy notices the exit and starts a new backend; a request during the restart may fail.
        status = jupyter.request("GET", "/cellpipe/api/health")[0]
        if status == 200:
            break
        time.sleep(0.5)
    assert status == 200, jupyter.logs()
    assert jupyter.backend_pids() not in ([], [pid])
    # Runs made before the crash are still there: they live in the run store, not in the backend process.
    status, body = jupyter.json("GET", "/cellpipe/api/runs?notebook=work/candies.ipynb")
    assert status == 200 and body["runs"], body


def test_stopping_jupyter_stops_the_backend(jupyter):
    # Runs last among the tests of the shared server: it stops it.
    assert jupyter.json("GET", "/cellpipe/api/health")[0] == 200
    pids = jupyter.backend_pids()
    assert len(pids) == 1, pids
    jupyter.stop()
    assert jupyter.proc.returncode is not None
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), "the Node backend outlived Jupyter"


def test_without_node_the_page_gets_a_clear_error(workspace):
    _installed()
    base, root = workspace
    server = Jupyter(root, base / "nonode", {"CELLPIPE_NODE": str(base / "no-such-node")})
    try:
        status, body = server.json("GET", "/cellpipe/api/health")
        assert status == 503, body
        assert "CELLPIPE_NODE" in body["error"]["message"]
        assert body["error"]["hint"]
    finally:
        server.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False
