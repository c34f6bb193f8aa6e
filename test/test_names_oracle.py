"""Contract test: cellpipe's TypeScript name analysis agrees with a Python `ast` oracle on every real cell.

Cells come from the conformance corpus (`<repo>/../shared/corpus`, when present), the project's notebook fixtures
(`test/fixtures/notebooks/*.ipynb`) and hand-written tricky cells (`test/fixtures/python-cells/*.py`, one cell per
file, or several separated by lines reading `# %%`). All of them go through ONE node process
(`test/oracle/dump_names.mjs`, which imports the compiled `lib/core/python/analyze.js`).
"""
from __future__ import annotations

import builtins
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test" / "oracle"))

from names_oracle import analyze  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
DRIVER = REPO / "test" / "oracle" / "dump_names.mjs"


def notebook_cells(path: Path) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        # named as JupyterLab numbers cells (1-based, markdown counted), so a failure points at what the reader sees
        out.append((f"{path.name} cell {i + 1}", "".join(src) if isinstance(src, list) else src))
    return out


def fixture_cells(path: Path) -> list[tuple[str, str]]:
    parts, current, start = [], [], 1
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.strip() == "# %%":
            if any(l.strip() for l in current):
                parts.append((f"{path.name}:{start}", "\n".join(current).strip("\n")))
            current, start = [], n + 1
        else:
            current.append(line)
    if any(l.strip() for l in current):
        parts.append((f"{path.name}:{start}", "\n".join(current).strip("\n")))
    return parts


def collect() -> list[tuple[str, str]]:
    cells: list[tuple[str, str]] = []
    if CORPUS.is_dir():
        for nb in sorted(CORPUS.rglob("*.ipynb")):
            cells += [(f"corpus/{nb.relative_to(CORPUS).parent}/{label}", src) for label, src in notebook_cells(nb)]
    for nb in sorted((REPO / "test" / "fixtures" / "notebooks").glob("*.ipynb")):
        cells += [(f"fixtures/{label}", src) for label, src in notebook_cells(nb)]
    for py in sorted((REPO / "test" / "fixtures" / "python-cells").glob("*.py")):
        cells += fixture_cells(py)
    return cells


def run_typescript(sources: list[str]) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (REPO / "lib" / "core" / "python" / "analyze.js").exists():
        pytest.fail("lib/ is not built: run `npx tsc -b` (scripts/setup.sh does)")
    proc = subprocess.run([node, str(DRIVER)], input=json.dumps(sources), capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def comparable(ts: dict) -> dict:
    return {
        "bound": ts["bound"],
        "reads": ts["reads"],
        "definitions": ts["definitions"],
        "opaque": sorted((o["line"], o["kind"]) for o in ts["opaque"]),
        "magicLines": ts["magicLines"],
        "syntaxError": bool(ts["syntaxErrors"]),
    }


def test_typescript_analysis_agrees_with_the_ast_oracle(record_property):
    cells = collect()
    assert cells, "no cells found"
    out = run_typescript([src for _, src in cells])
    disagreements = []
    for (label, src), ts in zip(cells, out["results"]):
        expected = analyze(src)
        expected["opaque"] = [tuple(o) for o in expected["opaque"]]
        got = comparable(ts)
        if expected["syntaxError"]:
            # Python runs nothing of a cell that does not parse: only the verdict (and the magics) must agree.
            got = {k: (got[k] if k in ("syntaxError", "magicLines") else expected[k]) for k in expected}
        if got != expected:
            diff = {k: {"oracle": expected[k], "typescript": got[k]} for k in expected if expected[k] != got[k]}
            disagreements.append(f"{label}:\n{src}\n--> {json.dumps(diff, default=list)}\n")
    agreed = len(cells) - len(disagreements)
    corpus = sum(1 for label, _ in cells if label.startswith("corpus/"))
    message = f"names oracle: agreed on {agreed}/{len(cells)} cells ({corpus} from the corpus)"
    print(message)
    record_property("names_oracle_agreed", agreed)
    record_property("names_oracle_cells", len(cells))
    sys.stderr.write(message + "\n")
    assert not disagreements, message + "\n\n" + "\n".join(disagreements)


def test_every_builtin_of_this_python_is_known_to_the_typescript_analysis():
    known = set(run_typescript([])["builtins"])
    assert set(dir(builtins)) - known == set()


def test_the_corpus_is_analysed_when_present():
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent")
    assert any(label.startswith("corpus/") for label, _ in collect())
