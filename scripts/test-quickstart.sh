#!/usr/bin/env bash
# The README's main command, tested as a newcomer runs it: `bash scripts/start.sh` from the checkout, with only a free
# port and a known token given through the variables the README documents (CELLPIPE_PORT, JUPYTER_TOKEN).
# Checks what it prints (headless run succeeded, no stack trace or warning wall, the URL with its token last), opens
# that URL in Debian's Chromium and runs the example from the sidebar (test/e2e/quickstart.spec.ts), then presses
# Ctrl-C as a user would and checks that JupyterLab and everything it started are gone.
# Called by scripts/test.sh (and so by .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$(mktemp -d)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
fail() { echo "test-quickstart: FAIL: $*" >&2; echo "--- start.sh printed:" >&2; sed 's/\x1b\[[0-9;]*m//g' "$out/start.log" >&2; exit 1; }
starter=
cleanup() {
  # Only reached with the starter still running when a check failed: stop it the way the test would have.
  if [ -n "$starter" ] && kill -0 "$starter" 2>/dev/null; then
    kill -INT "$starter" 2>/dev/null
    for _ in $(seq 1 80); do kill -0 "$starter" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$starter" 2>/dev/null
  fi
  # A JupyterLab that outlived a killed start.sh (it runs in a session of its own) goes too.
  pkill -TERM -f -- "--ServerApp.port=$port " 2>/dev/null && sleep 2 && pkill -KILL -f -- "--ServerApp.port=$port " 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT

# Started as a terminal starts a foreground job: in its own process group, with SIGINT at its default (a shell
# starts background jobs with SIGINT ignored, and a script cannot trap a signal ignored at its start), so the
# Ctrl-C below reaches start.sh as a terminal's would.
CELLPIPE_PORT=$port JUPYTER_TOKEN=$token .venv/bin/python -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp("bash", ["bash", "scripts/start.sh"])' >"$out/start.log" 2>&1 </dev/null &
starter=$!
url="http://127.0.0.1:$port/lab/tree/quickstart.ipynb?token=$token"
for _ in $(seq 1 1200); do
  grep -qF "$url" "$out/start.log" && break
  kill -0 "$starter" 2>/dev/null || fail "start.sh exited before JupyterLab was serving"
  sleep 0.5
done
grep -qF "$url" "$out/start.log" || fail "start.sh did not print $url within 10 minutes"
plain=$(sed 's/\x1b\[[0-9;]*m//g' "$out/start.log")
echo "$plain" | grep -qE '^cellpipe: run \S+ succeeded$' || fail "the headless run did not report success"
echo "$plain" | grep -qE '^load +(succeeded|cached)' || fail "the headless run's step table is missing"
# No stack trace, no Node error, no warning wall on the way to the URL.
if echo "$plain" | grep -nE '^\s+at |Error:|Traceback|Dynamic require|WARNING|npm warn|Node\.js v[0-9]'; then
  fail "start.sh printed an error or warning (lines above)"
fi
lines=$(echo "$plain" | grep -c .)
[ "$lines" -le 60 ] || fail "start.sh printed $lines lines before serving (a short progress list is expected)"
last=$(echo "$plain" | grep . | tail -1 | sed 's/^ *//')
[ "$last" = "$url" ] || fail "the last line is '$last', not the URL to open"
echo "test-quickstart: start.sh printed $lines lines, the last one the URL to open"

QUICKSTART_URL=$url npx playwright test -c test/e2e/playwright.config.ts quickstart.spec.ts
rc=$?

# Ctrl-C, as a user stops it: start.sh must stop JupyterLab and everything it started, and exit 0.
lab_pid=$(pgrep -f -- "--ServerApp.port=$port" | head -1)
kill -INT "$starter"
stopped=
for _ in $(seq 1 120); do kill -0 "$starter" 2>/dev/null || { stopped=1; break; }; sleep 0.25; done
[ -n "$stopped" ] || fail "start.sh still runs 30 s after Ctrl-C"
wait "$starter"; code=$?
starter=
[ "$code" = 0 ] || fail "start.sh exited $code after Ctrl-C"
if curl -fsS -o /dev/null "http://127.0.0.1:$port/api/status" 2>/dev/null; then fail "JupyterLab still answers on port $port after Ctrl-C"; fi
if [ -n "$lab_pid" ] && pgrep -g "$lab_pid" >/dev/null; then
  pgrep -a -g "$lab_pid" >&2; fail "processes JupyterLab started are still running after Ctrl-C"
fi
echo "test-quickstart: Ctrl-C stopped JupyterLab and everything it started"
exit $rc
