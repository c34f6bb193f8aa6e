"""Writes the benchmark notebooks into a directory: latency.ipynb (200 timed prints) and big.ipynb (300 cells)."""
import json
import sys
from pathlib import Path


def notebook(cells):
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {"tags": tags} if tags else {},
                   "execution_count": None, "outputs": [], "source": src} for i, (tags, src) in enumerate(cells)],
    }


def main(out: Path) -> None:
    latency = [
        (["imports"], "import time"),
        # The page subscribes to a step's log when the step starts; wait a moment so every line is a live one.
        (["step:emit"], "time.sleep(2)\nfor i in range(200):\n    print(f'LAT {i} {time.time() * 1000:.1f}', flush=True)\n    time.sleep(0.02)"),
    ]
    (out / "latency.ipynb").write_text(json.dumps(notebook(latency), indent=1))

    cells = [(["imports"], "import math\nimport random"), (["pipeline-parameters"], "N = 10\nSEED = 1")]
    step = 0
    for i in range(298):
        if i % 10 == 0:
            tags = [f"step:s{step}"] + ([f"prev:s{step - 1}"] if step else [])
            step += 1
        else:
            tags = []
        prev = f"v{i - 1}" if i else "N"
        cells.append((tags, f"v{i} = {prev} + math.sqrt({i}) * SEED\nprint('cell {i}', v{i})"))
    (out / "big.ipynb").write_text(json.dumps(notebook(cells), indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
