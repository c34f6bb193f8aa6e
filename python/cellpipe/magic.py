"""``%load_ext cellpipe`` then ``%cellpipe load STEP [--run RUN] [--outputs]``: ``cellpipe.load`` as a line magic,
binding the variables in the notebook's namespace."""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any, List

from .debug import LoadError, load

USAGE = ("%cellpipe load STEP [--run RUN] [--outputs] [--notebook NOTEBOOK] [--store DIR]\n"
         "  binds the inputs (the upstream variables and parameters it reads) of step STEP in run RUN (an id, a\n"
         "  prefix of one, or latest), or with --outputs the variables it wrote")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel's process
        raise LoadError("%%cellpipe: %s\nusage: %s" % (message, USAGE))


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%cellpipe", add_help=False)
    p.add_argument("command", choices=["load"])
    p.add_argument("step")
    p.add_argument("--run", default="latest")
    p.add_argument("--outputs", action="store_true")
    p.add_argument("--notebook")
    p.add_argument("--store")
    return p


def _describe(values: dict) -> List[str]:
    out = []
    for name, value in values.items():
        t = type(value)
        out.append("%s (%s)" % (name, t.__name__ if t.__module__ == "builtins" else "%s.%s" % (t.__module__, t.__qualname__)))
    return out


# What the last %cellpipe load said: the page reads it back in the execute reply (a user expression), so it does not
# depend on the kernel's output messages reaching the page.
LAST_SAID = ""


def cellpipe_magic(shell: Any, line: str) -> None:
    try:
        argv = shlex.split(line)
    except ValueError as err:
        raise LoadError("%%cellpipe: %s\nusage: %s" % (err, USAGE)) from None
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("usage: " + USAGE)
        return
    args = _parser().parse_args(argv)
    what = "outputs" if args.outputs else "inputs"
    values = load(args.step, run=args.run, what=what, notebook=args.notebook, store=args.store, into=shell.user_ns)
    names = _describe(values)
    global LAST_SAID
    LAST_SAID = "cellpipe: %s of step '%s' loaded: %s" % (what, args.step, ", ".join(names) if names else "none (it has none)")
    print(LAST_SAID)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(lambda line: cellpipe_magic(ipython, line), magic_kind="line", magic_name="cellpipe")
