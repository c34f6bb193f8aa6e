"""``python3 -m cellpipe_runtime forkserver``: warm starts for local steps.

Every step of a local run is its own process, and cold each one re-imports what the notebook's ``imports`` cells
import (pandas and scikit-learn take seconds). The fork server runs those cells once, in the namespace a step would
run them in, then forks one child per step attempt; the child runs the rest of the step exactly as
``cellpipe_runtime run`` would (``runner.run`` with the warm state), in its own process group, so a step's timeout,
cancel and orphan clean-up signal it as they signal a cold step.

Protocol (newline-delimited JSON over the Unix socket ``--socket``), one step attempt = three connections::

    control  → {"op": "run", "id": ID, "argv": [...], "env": {...}, "cwd": DIR}
    stdout   → {"op": "attach", "id": ID, "stream": "stdout"}      then only the child's stdout flows back
    stderr   → {"op": "attach", "id": ID, "stream": "stderr"}      then only the child's stderr flows back
    control  ← {"pid": N}                 the child runs, as the leader of process group N
    control  ← {"exit": CODE} | {"signal": NUMBER}                 once it has been reaped

Status goes to ``--status-fd`` (one JSON line): ``{"ready": true, ...}``, or ``{"ready": false, "reason": ...}``
when forking would change what the step does — the imports started Python threads, loaded a library that holds
devices or thread pools fork does not copy (torch, tensorflow, jax, grpc ...), or raised (the cold step then reports
the error as usual). The server exits when its stdin closes (the process that started it is gone) or after
``--idle`` seconds without a request or a running child.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Any, Dict, List, Optional

from . import artifacts, ordered, runner
from .errors import cell_label
from .program import Program, load_program

# Libraries whose threads, device handles or connection pools a forked child would share or lose.
FORK_UNSAFE_MODULES = ("torch", "tensorflow", "jax", "cupy", "pycuda", "ray", "grpc", "pyspark")
_SEED_WORDS = ("seed", "default_rng", "RandomState")


class NotWarmable(Exception):
    """The imports cells ran, but forking after them would not be what a cold step does."""


class WarmState:
    """What a child inherits: the namespace the imports cells ran in, their recorded outputs, what they printed."""

    def __init__(self, program: Program, n_cells: int, ns: Dict[str, Any], ctx: Any, recorder: Any, notes: str,
                 stdout: bytes = b"", stderr: bytes = b""):
        self.cells = [(c.index, c.source) for c in program.cells[:n_cells]]
        self.ns = ns
        self.ctx = ctx
        self.recorder = recorder
        self.notes = notes
        self.stdout = stdout
        self.stderr = stderr

    def adopt(self, program: Program) -> int:
        """How many of the program's leading cells already ran; refuses a program whose imports differ (the
        runtime starts one server per set of imports cells, so this is a bug if it happens)."""
        mine = [(c.index, c.source) for c in program.cells[: len(self.cells)]]
        if mine != self.cells:
            raise runner.StepError("the fork server ran other imports cells than step %s has; run it with --cold "
                                   "and report this" % program.step, kind="WarmStartError")
        return len(self.cells)

    def replay(self) -> None:
        """What the imports cells wrote to stdout and stderr (their prints, and what ``!commands`` printed), into
        this step's log, where a cold step would have written it. (The cell outputs have the prints already.)"""
        if self.notes:
            sys.stderr.write(self.notes)
        runner._flush()
        data = self.stdout
        while data:
            data = data[os.write(1, data):]
        ordered.write_stderr(self.stderr)


def _warm_up(program: Program, workdir: str) -> WarmState:
    """Runs the program's cells (all ``imports``) as ``runner.run`` would run them first."""
    from .outputs import Recorder

    os.chdir(workdir)
    sys.path.insert(0, workdir)
    sys.argv = [program.notebook or program.step]
    os.environ.setdefault("MPLBACKEND", "Agg")
    recorder = Recorder(os.devnull, program.step)
    recorder.install()
    module, ns = runner.fresh_namespace()
    ctx = artifacts.Context(ns)
    artifacts.set_context(ctx)
    ns["__cellpipe__"] = runner._LazyShell()
    for cell in program.cells:
        if cell.role != "imports":
            raise NotWarmable("%s is not an imports cell" % cell_label(cell.index))
    # Notes the transformation writes (magics) belong in each step's log: keep them for replay.
    real_err, notes = sys.stderr, _Buffer()
    sys.stderr = notes
    try:
        compiled = runner.compile_cells(program, ctx, split=True)
    finally:
        sys.stderr = real_err
    _watch_opened(True)
    with _Captured() as captured:  # at the descriptors: `!commands` write there, not through sys.stdout
        for k, (cell, code, plain, original) in enumerate(compiled):
            ctx.add_cell(cell.filename, plain, original)
            try:
                going_on = runner._run_cell(cell, code, ns, recorder, k + 1)
            except BaseException as exc:
                raise NotWarmable("%s (\"%s\") raised %s: %s" % (cell_label(cell.index), cell.first_line,
                                                                type(exc).__name__, exc)) from None
            if not going_on:
                raise NotWarmable("%s stops the step (exit())" % cell_label(cell.index))
    _watch_opened(False)
    return WarmState(program, len(program.cells), ns, ctx, recorder, notes.getvalue(), *captured.data)


class _Captured:
    """File descriptors 1 and 2 redirected into temporary files while the imports cells run."""

    def __enter__(self) -> "_Captured":
        import tempfile

        runner._flush()
        self.files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
        self.saved = [os.dup(1), os.dup(2)]
        for fd, f in zip((1, 2), self.files):
            os.dup2(f.fileno(), fd)
        self.data = (b"", b"")
        return self

    def __exit__(self, *exc: Any) -> None:
        runner._flush()
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)
        data = []
        for f in self.files:
            f.seek(0)
            data.append(f.read())
            f.close()
        self.data = (data[0], data[1])


_OPENED: Dict[str, bool] = {}
_WATCHING = [False]


def _watch_opened(on: bool) -> None:
    """Notes the files the imports cells open for reading (``pd.read_csv("data.csv")`` in an imports cell): a
    cold step would read them again, so a change to one makes the server stale. (An audit hook can't be removed;
    it does nothing once the imports ran. Files read by native code, pyarrow's for one, are not seen.)"""
    if on and not _OPENED.get("__hook__"):
        def hook(event: str, args: Any) -> None:
            if _WATCHING[0] and event == "open" and args and isinstance(args[0], (str, bytes)):
                mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
                if "r" in mode or "+" in mode:
                    path = os.fsdecode(args[0])
                    _OPENED[os.path.realpath(path)] = True

        sys.addaudithook(hook)
        _OPENED["__hook__"] = True
    _WATCHING[0] = on


class _Buffer:
    def __init__(self) -> None:
        self.parts: List[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.parts)


def fork_hazards() -> Optional[str]:
    """Why a child forked now would not behave as a fresh process, or None."""
    import threading

    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if others:
        return "the imports cells started %d thread%s (%s), which a forked step would not have" % (
            len(others), "" if len(others) == 1 else "s", ", ".join(others[:5]))
    loaded = [m for m in FORK_UNSAFE_MODULES if m in sys.modules]
    if loaded:
        return ("the imports load %s, whose threads or device handles do not survive fork"
                % ", ".join(loaded))
    return None


def watched_files() -> List[List[Any]]:
    """[path, mtime_ns, size] of what a cold step would read afresh but a forked one has in memory: modules imported
    from outside the installed libraries (a ``utils.py`` next to the notebook, an editable install), files the
    imports cells opened for reading, and the site-packages folders themselves (a ``pip install`` changes them).
    The runtime starts a new server when one changed."""
    import site
    import sysconfig

    libraries = set()
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        try:
            libraries.add(os.path.realpath(sysconfig.get_paths()[key]))
        except (KeyError, OSError):
            pass
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        libraries.add(os.path.realpath(prefix))
    site_dirs = list(getattr(site, "getsitepackages", lambda: [])())
    if site.ENABLE_USER_SITE:
        site_dirs.append(site.getusersitepackages())
    mine = os.path.dirname(os.path.realpath(__file__))
    paths = set()
    for module in list(sys.modules.values()):
        f = getattr(module, "__file__", None)
        if not isinstance(f, str):
            continue
        f = os.path.realpath(f)
        if f.startswith(mine + os.sep) or any(f.startswith(lib + os.sep) for lib in libraries):
            continue
        paths.add(f)
    for f in _OPENED:
        if f != "__hook__" and os.path.isfile(f) and not f.startswith(("/proc/", "/dev/", "/sys/")) \
                and not any(f.startswith(lib + os.sep) for lib in libraries):
            paths.add(f)
    out = []
    for path in sorted(paths) + [d for d in site_dirs if os.path.isdir(d)]:
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.append([path, str(st.st_mtime_ns), st.st_size])
    return out


def os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


# --------------------------------------------------------------------------------------------------------------
# Serving.

class _Conn:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.message: Optional[Dict[str, Any]] = None


class Server:
    def __init__(self, state: WarmState, listener: socket.socket, status: Any, idle: float, reseed: bool):
        self.state = state
        self.listener = listener
        self.status = status
        self.idle = idle
        self.reseed = reseed
        self.reading: Dict[int, _Conn] = {}  # connections whose first line has not arrived
        self.pending: Dict[str, Dict[str, Any]] = {}  # run id -> {"control": _Conn, "stdout": ..., "stderr": ...}
        self.children: Dict[int, socket.socket] = {}  # pid -> control connection
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.last_activity = time.monotonic()
        import random

        # Python reseeds `random` in every forked child; imports that seeded it want their state kept.
        self.random_state = random.getstate()

    def serve(self) -> int:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up byte is written
        # SIGTERM (a newer server replaced this one): take no more steps, but report on the running ones first.
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "draining", True))
        self.draining = False
        while True:
            if self.draining:
                for conn in list(self.reading.values()) + [c for p in self.pending.values() for c in p.values()]:
                    conn.sock.close()
                self.reading.clear()
                self.pending.clear()
                self.listener.close()  # a step asking now is refused at once (and starts elsewhere)
                if not self.children:
                    return 0
            watched = ([] if self.draining else [self.listener.fileno()]) + [self.wake_r, 0] + list(self.reading)
            timeout = None
            if not self.children and not self.pending and not self.reading:
                timeout = max(0.0, self.idle - (time.monotonic() - self.last_activity))
                if timeout == 0.0:
                    return 0
            try:
                ready, _, _ = select.select(watched, [], [], timeout)
            except InterruptedError:
                continue
            for fd in ready:
                if fd == 0:
                    if not os.read(0, 4096):  # the process that started us is gone
                        return 0
                elif fd == self.wake_r:
                    try:
                        os.read(self.wake_r, 4096)
                    except BlockingIOError:
                        pass
                    self._reap()
                elif fd == self.listener.fileno():
                    try:
                        sock, _ = self.listener.accept()
                    except OSError:
                        continue
                    self.reading[sock.fileno()] = _Conn(sock)
                elif fd in self.reading:
                    self._read(self.reading[fd])
            self._reap()

    def _read(self, conn: _Conn) -> None:
        try:
            chunk = conn.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(conn)
            return
        conn.buf += chunk
        if b"\n" not in conn.buf:
            return
        line, _, rest = conn.buf.partition(b"\n")
        del self.reading[conn.sock.fileno()]
        try:
            message = json.loads(line.decode("utf-8"))
            if rest or not isinstance(message, dict) or not isinstance(message.get("id"), str):
                raise ValueError("one JSON object with an id, then nothing")
        except ValueError as err:
            self._reply(conn.sock, {"error": "bad request: %s" % err})
            conn.sock.close()
            return
        self.last_activity = time.monotonic()
        parts = self.pending.setdefault(message["id"], {})
        role = "control" if message.get("op") == "run" else message.get("stream")
        if role not in ("control", "stdout", "stderr") or role in parts:
            self._reply(conn.sock, {"error": "bad request: unexpected %r" % role})
            conn.sock.close()
            return
        conn.message = message
        parts[role] = conn
        if len(parts) == 3:
            del self.pending[message["id"]]
            self._fork(parts)

    def _drop(self, conn: _Conn) -> None:
        self.reading.pop(conn.sock.fileno(), None)
        conn.sock.close()

    @staticmethod
    def _reply(sock: socket.socket, message: Dict[str, Any]) -> None:
        try:
            sock.sendall((json.dumps(message) + "\n").encode("utf-8"))
        except OSError:
            pass

    def _fork(self, parts: Dict[str, _Conn]) -> None:
        control, out, err = parts["control"], parts["stdout"], parts["stderr"]
        request = control.message or {}
        runner._flush()  # nothing buffered here may be written twice
        import warnings

        with warnings.catch_warnings():  # 3.12+ warns of fork with threads: native pools that handle it are fine
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            code = 70
            try:
                code = self._child(request, control.sock, out.sock, err.sock)
            finally:
                os._exit(code)
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first, the group exists before we answer
        except OSError:
            pass  # it exited already, or set it itself
        out.sock.close()
        err.sock.close()
        self.children[pid] = control.sock
        self._reply(control.sock, {"pid": pid})
        self.last_activity = time.monotonic()

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            sock = self.children.pop(pid, None)
            if sock is None:
                continue
            if os.WIFSIGNALED(status):
                self._reply(sock, {"signal": os.WTERMSIG(status)})
            else:
                self._reply(sock, {"exit": os.WEXITSTATUS(status)})
            sock.close()
            self.last_activity = time.monotonic()

    def _child(self, request: Dict[str, Any], control: socket.socket, out: socket.socket,
               err: socket.socket) -> int:
        """In the forked child: become the step's process, as a cold start would have made it, and run it."""
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for c in list(self.reading.values()) + [c for p in self.pending.values() for c in p.values()]:
            c.sock.close()
        for sock in list(self.children.values()) + [self.listener, control]:
            sock.close()
        for fd in (self.wake_r, self.wake_w, self.status.fileno()):
            try:
                os.close(fd)
            except OSError:
                pass
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        out.close()
        err.close()
        env = request.get("env") or {}
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        import tempfile

        tempfile.tempdir = None  # TMPDIR is this step's scratch folder
        os.chdir(request.get("cwd") or os.getcwd())
        if self.reseed:
            _reseed()
        else:
            import random

            random.setstate(self.random_state)
        code = 1
        try:
            code = runner.main(list(request.get("argv") or []), warm=self.state)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        finally:
            _exit_as_python_would()
        return code


def _reseed() -> None:
    """A fresh process seeds its random generators from the OS; forked children would all share the server's."""
    import random

    random.seed()
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed()
        except Exception:
            pass


def _exit_as_python_would() -> None:
    """What interpreter shutdown does before the process ends: wait for threads, run atexit, flush."""
    import atexit
    import threading

    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except Exception:
        pass
    try:
        atexit._run_exitfuncs()
    except Exception:
        pass
    runner._flush()


USAGE = ("usage: python3 -m cellpipe_runtime forkserver --imports PROGRAM --socket PATH --workdir DIR "
         "[--idle SECONDS] [--status-fd FD]\n")


def main(argv: List[str]) -> int:
    options: Dict[str, str] = {}
    i = 0
    while i < len(argv):
        if argv[i] not in ("--imports", "--socket", "--workdir", "--idle", "--status-fd") or i + 1 >= len(argv):
            sys.stderr.write("cellpipe_runtime forkserver: bad option %r\n%s" % (argv[i], USAGE))
            return 2
        options[argv[i][2:]] = argv[i + 1]
        i += 2
    if "imports" not in options or "socket" not in options or "workdir" not in options:
        sys.stderr.write(USAGE)
        return 2
    # Stopped while still importing (a newer server replaced it): end through the clean-up below.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return _serve(options)
    finally:
        _remove_folder(options)


def _terminated(*_: Any) -> None:
    raise SystemExit(0)


def _remove_folder(options: Dict[str, str]) -> None:
    """The socket's private folder (and the imports program in it) go with the server, whoever ends first."""
    folder = os.path.dirname(os.path.abspath(options["socket"]))
    for path in (options["socket"], options["imports"]):
        try:
            if os.path.dirname(os.path.abspath(path)) == folder:
                os.unlink(path)
        except OSError:
            pass
    try:
        os.rmdir(folder)
    except OSError:
        pass


def _serve(options: Dict[str, str]) -> int:
    status = os.fdopen(int(options.get("status-fd", "1")), "w", buffering=1)

    def say(message: Dict[str, Any]) -> None:
        status.write(json.dumps(message) + "\n")
        status.flush()

    if not hasattr(os, "fork"):
        say({"ready": False, "reason": "this platform has no fork()"})
        return 0
    if sys.platform == "darwin":  # why multiprocessing stopped forking there: system frameworks are not fork-safe
        say({"ready": False, "reason": "on macOS, libraries a notebook imports may not survive fork()"})
        return 0
    started = time.monotonic()
    try:
        program = load_program(options["imports"])
        state = _warm_up(program, os.path.abspath(options["workdir"]))
        hazard = fork_hazards()
        if hazard:
            raise NotWarmable(hazard)
    except NotWarmable as why:
        say({"ready": False, "reason": str(why)})
        return 0
    except runner.StepError as err:
        say({"ready": False, "reason": err.message})
        return 0
    except SyntaxError as err:
        say({"ready": False, "reason": "an imports cell has a syntax error: %s" % err})
        return 0
    sources = "\n".join(c.source for c in program.cells)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(options["socket"])
    listener.listen(64)
    server = Server(state, listener, status, float(options.get("idle", "600")),
                    reseed=not any(w in sources for w in _SEED_WORDS))
    say({"ready": True, "pid": os.getpid(), "importSeconds": round(time.monotonic() - started, 3),
         "osThreads": os_threads(), "watch": watched_files()})
    try:
        return server.serve()
    finally:
        listener.close()
