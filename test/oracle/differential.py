"""Differential check of the TypeScript name analysis against the oracle on any Python files (not part of the suite).

    python test/oracle/differential.py '/usr/lib/python3*/json/*.py' ['…more globs']

Each file is analysed as one cell by both sides (one node process); prints every disagreement and `N/M agree`.
Used during development on the standard library and site-packages (see the report in the commit history).
"""
from __future__ import annotations

import glob
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from names_oracle import analyze  # noqa: E402

DRIVER = Path(__file__).resolve().parent / "dump_names.mjs"


def main(patterns: list[str]) -> int:
    files = sorted({f for p in patterns for f in glob.glob(p, recursive=True)})
    sources, names = [], []
    for f in files:
        try:
            sources.append(Path(f).read_text(encoding="utf-8"))
            names.append(f)
        except (UnicodeDecodeError, OSError):
            continue
    out = subprocess.run(["node", str(DRIVER)], input=json.dumps(sources), capture_output=True, text=True, check=True)
    results = json.loads(out.stdout)["results"]
    bad = 0
    for name, src, ts in zip(names, sources, results):
        want = analyze(src)
        got = {"bound": ts["bound"], "reads": ts["reads"], "definitions": ts["definitions"],
               "opaque": sorted((o["line"], o["kind"]) for o in ts["opaque"]), "magicLines": ts["magicLines"],
               "syntaxError": bool(ts["syntaxErrors"])}
        want["opaque"] = [tuple(o) for o in want["opaque"]]
        keys = ("syntaxError",) if want["syntaxError"] else tuple(want)
        diff = {k: (want[k], got[k]) for k in keys if want[k] != got[k]}
        if diff:
            bad += 1
            if "syntaxError" in diff:
                print(f"{name}: syntax error oracle={want['syntaxError']} typescript={ts['syntaxErrors'][:2]}")
            else:
                print(f"{name}: {json.dumps(diff, default=list)[:600]}")
    print(f"{len(sources) - bad}/{len(sources)} agree")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
