"""The fork server (``python -m cellpipe_runtime forkserver``) spoken to over its socket as the local runtime speaks
to it: a step forked from it is its own process group, prints to the connections it was given, and its exit code
or signal comes back on the control connection; imports that would not survive fork are refused with a reason.
(The local runtime's own tests, src/runtimes/local/warm/warm.test.ts, run whole pipelines this way.)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from test_runtime_support import PYTHON_DIR, program

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")


class Server:
    def __init__(self, tmp_path, imports):
        self.dir = tmp_path
        self.socket = str(tmp_path / "s")
        self.imports = imports
        prog = tmp_path / "imports.json"
        prog.write_text(json.dumps(program("(imports)", [(0, imports, "imports")])))
        status_r, status_w = os.pipe()
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cellpipe_runtime", "forkserver", "--imports", str(prog), "--socket", self.socket,
             "--workdir", str(tmp_path), "--idle", "30", "--status-fd", str(status_w)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(status_w,), env=env,
            start_new_session=True)
        os.close(status_w)
        with os.fdopen(status_r) as fh:
            self.status = json.loads(fh.readline())

    def fork(self, code, step="s"):
        prog = self.dir / ("%s.json" % step)
        prog.write_text(json.dumps(program(step, [(0, self.imports, "imports"), (1, code)])))

        def connect(message):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.socket)
            sock.sendall((json.dumps(message) + "\n").encode())
            return sock

        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, CELLPIPE_STEP=step)
        control = connect({"op": "run", "id": step, "argv": ["run", "--program", str(prog)], "env": env,
                           "cwd": str(self.dir)})
        out = connect({"op": "attach", "id": step, "stream": "stdout"})
        err = connect({"op": "attach", "id": step, "stream": "stderr"})
        lines = control.makefile("r")
        pid = json.loads(lines.readline())["pid"]
        return pid, lines, out, err

    def stop(self):
        self.proc.stdin.close()  # what the runtime's exit looks like to the server
        self.proc.wait(timeout=10)


def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks).decode()
        chunks.append(data)


def test_a_forked_step_is_its_own_process_group_and_reports_its_exit(tmp_path):
    server = Server(tmp_path, "import json\nprint('imports ran')")
    assert server.status["ready"] is True, server.status
    pid, control, out, err = server.fork("import os, sys\nprint('group', os.getpgrp() == os.getpid())\n"
                                         "print(json.dumps({'step': os.environ['CELLPIPE_STEP']}))\nsys.exit(3)")
    assert os.getpgid(pid) == pid, "the child leads a process group of its own"
    assert read_all(out).splitlines() == ["imports ran", "group True", '{"step": "s"}']
    assert "called exit(3)" in read_all(err)
    assert json.loads(control.readline()) == {"exit": 1}, "the step runtime's exit code for a failing step"
    server.stop()
    assert server.proc.returncode == 0
    assert not os.path.exists(server.socket), "the server removes its socket"


def test_a_killed_step_reports_its_signal_and_the_server_serves_on(tmp_path):
    server = Server(tmp_path, "import json")
    pid, control, out, err = server.fork("import time\nprint('sleeping', flush=True)\ntime.sleep(60)", step="slow")
    assert out.makefile("r").readline() == "sleeping\n"
    os.killpg(pid, signal.SIGKILL)
    assert json.loads(control.readline()) == {"signal": signal.SIGKILL}
    pid2, control2, out2, _ = server.fork("print('next')", step="next")
    assert pid2 != pid and read_all(out2) == "next\n"
    assert json.loads(control2.readline()) == {"exit": 0}
    server.stop()


def test_imports_that_start_threads_or_raise_are_refused_with_the_reason(tmp_path):
    (tmp_path / "t").mkdir()
    threads = Server(tmp_path / "t",
                     "import threading, time\nthreading.Thread(target=time.sleep, args=(1,), name='watcher').start()")
    assert threads.status == {"ready": False, "reason": "the imports cells started 1 thread (watcher), which a forked "
                                                        "step would not have"}
    threads.proc.wait(timeout=30)
    (tmp_path / "r").mkdir()
    raising = Server(tmp_path / "r", "import json\nraise ImportError('no module named magic')")
    assert raising.status["ready"] is False
    assert raising.status["reason"] == 'cell 1 ("import json") raised ImportError: no module named magic'
    raising.proc.wait(timeout=30)


def test_the_server_exits_when_the_process_that_started_it_is_gone(tmp_path):
    server = Server(tmp_path, "import json")
    started = time.monotonic()
    server.proc.stdin.close()
    assert server.proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 10
