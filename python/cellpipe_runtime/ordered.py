"""One ordered channel for a step's log: what Python writes to ``sys.stderr`` travels on stdout, marked.

A step's stdout and stderr are two pipes; whoever reads both cannot tell which line was written first when both
have data waiting (a busy reader, a loaded machine), so a step's ``print`` could land in the log after the runtime's
own ``[cellpipe] step …: done`` line written after it. When ``CELLPIPE_ORDERED_LOG=1`` (the local and container
runtimes set it), every line written through ``sys.stderr`` — the runtime's messages, tracebacks, warnings, the
step's own ``print(..., file=sys.stderr)`` — is written to file descriptor 1 instead, each line prefixed with
``MARK``, after whatever ``sys.stdout`` holds: the kernel keeps one pipe's bytes in the order they were written, and
the reader (``src/runtimes/local/ordered-log.ts``) gives each line its stream back. What bypasses Python's streams
(a C library writing to descriptor 2, a child process's stderr) still goes to descriptor 2: its order against the
rest is the reader's best effort, as before.
"""
from __future__ import annotations

import io
import os
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Optional

ENV = "CELLPIPE_ORDERED_LOG"
#: Starts a stderr line on stdout (ASCII record separators: no text a step prints is likely to begin so).
MARK = b"\x1estderr\x1e"


class _MarkedLines(io.RawIOBase):
    """The binary layer of ``sys.stderr`` in ordered mode: each line it gets goes to stdout's binary layer as
    ``MARK + line + "\\n"`` (a piece without a line end is a line of its own, so it cannot swallow the stdout text
    that follows it)."""

    def __init__(self, stdout: Any):
        super().__init__()
        self._stdout = stdout
        self._out = stdout.buffer

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        # What stdout still holds was written first: it goes out first.
        for s in (sys.stdout, self._stdout):
            try:
                s.flush()
            except Exception:
                pass
        # bytes.splitlines splits at \n, \r and \r\n only (str's would split at the marker's \x1e too).
        self._out.write(b"".join(MARK + piece + b"\n" for piece in data.splitlines()))
        self._out.flush()
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def fileno(self) -> int:  # code that writes to stderr's descriptor (faulthandler, subprocess) still can
        return 2

    def isatty(self) -> bool:
        return False


_installed: Optional[_MarkedLines] = None


def install() -> bool:
    """Sends ``sys.stderr``'s lines through stdout, marked, when the runtime asked for it (``CELLPIPE_ORDERED_LOG``).
    A recorder's tee (outputs.py) over ``sys.stderr`` keeps recording: it is pointed at the marked stream."""
    global _installed
    if os.environ.get(ENV) != "1" or _installed is not None:
        return _installed is not None
    from .outputs import _Tee, _TeeBytes

    out = sys.stdout
    if isinstance(getattr(out, "buffer", None), _TeeBytes):
        out = out.buffer._real  # the real stdout under the recorder's tee
    elif isinstance(out, _Tee):
        out = out._real
    if not isinstance(out, io.TextIOWrapper):
        return False  # not a file (a test's StringIO): nothing to order
    raw = _MarkedLines(out)
    marked = io.TextIOWrapper(raw, encoding=out.encoding, errors="backslashreplace", line_buffering=True)
    err = sys.stderr
    try:
        err.flush()
    except Exception:
        pass
    tee = getattr(err, "buffer", None)
    if isinstance(tee, _TeeBytes):
        tee._real, tee._out = marked, raw
    elif isinstance(err, _Tee):
        err._real = marked
    else:
        sys.stderr = marked
    _installed = raw
    return True


def write_stderr(data: bytes) -> None:
    """Bytes meant for descriptor 2 (what the fork server captured there during the imports), in order."""
    if _installed is not None:
        _installed.write(data)
        return
    while data:
        data = data[os.write(2, data):]
