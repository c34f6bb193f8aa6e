"""Stand-in for the backend when it cannot start (no Node.js, backend not built).

Listens on the Unix socket jupyter-server-proxy gave the backend and answers every request with
503 and ``{"error": {"message", "hint"}}``, so the JupyterLab extension shows the user what to install
instead of a bare proxy error. Standard library only.

    python -m cellpipe.unavailable --socket PATH --message TEXT [--hint TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socketserver
import sys
from http.server import BaseHTTPRequestHandler


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def make_handler(message: str, hint: str):
    body = json.dumps({"error": {"message": message, "hint": hint}}).encode()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(503)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

        def address_string(self) -> str:  # Unix sockets have no client address
            return "unix"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
            pass

    return Handler


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cellpipe.unavailable")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--message", required=True)
    parser.add_argument("--hint", default="")
    args = parser.parse_args(argv)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    server = _Server(args.socket, make_handler(args.message, args.hint))
    os.chmod(args.socket, 0o600)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"cellpipe backend unavailable: {args.message}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        if os.path.exists(args.socket):
            os.unlink(args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
