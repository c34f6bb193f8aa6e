"""A step's recorded cell outputs (``--cell-outputs``) against what a real IPython kernel shows for the same cells."""
import json
import os
import sys

import pytest

from test_runtime_support import PYTHON_DIR, program, run_step

CELLS = [
    "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})\nprint('rows:', len(df))\ndf",
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2, 3], [2, 1, 3])\nax.set_title('t');",
    "value = 6 * 7\nvalue  # the cell's result",
    "display('text', [1, 2], {'k': None})\nfrom IPython.display import HTML, Markdown\n"
    "display(HTML('<b>bold</b>'), Markdown('*md*'))",
    "class Chart:\n    def _repr_svg_(self):\n        return '<svg xmlns=\"http://www.w3.org/2000/svg\"/>'\n"
    "    def _repr_json_(self):\n        return {'n': 1}\n    def __repr__(self):\n        return 'Chart()'\n"
    "display(Chart())\nprint('after')\nChart()",
    "import sys\nprint('to stderr', file=sys.stderr)\nnothing = None\nnothing",
    "quiet = 5\nquiet;",
    "plt.plot([1, 2])\nplt.show()\nprint('shown')",
    "def fail(v):\n    raise ValueError('bad value: %d' % v)\nfail(3)",
]


def _kernel_outputs(cells, cwd):
    """Each cell's outputs as a real kernel (ipykernel, inline matplotlib) sends them on iopub."""
    manager = pytest.importorskip("jupyter_client.manager")
    km, kc = manager.start_new_kernel(kernel_name="python3", cwd=str(cwd))
    result = []
    try:
        for source in cells:
            msg_id = kc.execute(source)
            outs = []
            while True:
                msg = kc.get_iopub_msg(timeout=120)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content["execution_state"] == "idle":
                    break
                if kind == "stream":
                    if outs and outs[-1]["output_type"] == "stream" and outs[-1]["name"] == content["name"]:
                        outs[-1]["text"] += content["text"]
                    else:
                        outs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
                elif kind in ("display_data", "execute_result", "error"):
                    outs.append(dict(content, output_type=kind))
            result.append(outs)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return result


def _shape(output):
    """What must agree: the kind of output, its mime types and text (a figure's text names its size)."""
    kind = output["output_type"]
    if kind == "stream":
        return (kind, output["name"], output["text"])
    if kind == "error":
        return (kind, output["ename"], output["evalue"])
    plain = output["data"].get("text/plain", "")
    if plain.startswith("<Figure size"):
        plain = "<Figure ...>"
    return (kind, tuple(sorted(output["data"])), plain)


def _step_outputs(tmp_path, cells, extra_env=None):
    out_file = tmp_path / "cell-outputs.json"
    workdir = tmp_path / "step"
    workdir.mkdir(exist_ok=True)
    prog = program("outputs", [{"index": i, "source": s, "role": "step", "id": "id-%d" % i}
                               for i, s in enumerate(cells)])
    got = run_step(tmp_path, prog, workdir=str(workdir), extra=["--cell-outputs", str(out_file)], env=extra_env)
    with open(str(out_file), encoding="utf-8") as fh:
        return got, json.load(fh)


def test_the_recorded_outputs_are_what_a_real_kernel_shows(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    expected = _kernel_outputs(CELLS, tmp_path)
    got, doc = _step_outputs(tmp_path, CELLS)
    assert got.code == 1, got  # the last cell raises
    assert doc["format"] == "cellpipe.cell-outputs/v1" and doc["step"] == "outputs"
    assert sorted(doc["cells"], key=int) == [str(i) for i in range(len(CELLS))]
    for i, want in enumerate(expected):
        cell = doc["cells"][str(i)]
        assert cell["id"] == "id-%d" % i
        assert [_shape(o) for o in cell["outputs"]] == [_shape(o) for o in want], "cell %d: %r" % (i + 1, CELLS[i])
    # Beyond the shapes: the table's HTML is pandas' own, the plot is a real PNG, the error has a traceback.
    frame = doc["cells"]["0"]["outputs"][1]
    assert frame["data"]["text/html"] == expected[0][1]["data"]["text/html"]
    assert frame["execution_count"] == 1
    import base64

    png = base64.b64decode(doc["cells"]["1"]["outputs"][0]["data"]["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    error = doc["cells"]["8"]["outputs"][-1]
    assert '  cell 9 ("def fail(v):"), line 3, in <module>' in error["traceback"]
    assert error["traceback"][-1] == "ValueError: bad value: 3"


def test_the_live_log_is_unchanged_by_recording(tmp_path):
    cells = ["print('one')\ndisplay([1, 2])\n3 + 4", "import sys\nsys.stderr.write('two\\n');"]
    prog = program("plain", [(i, s) for i, s in enumerate(cells)])
    plain = run_step(tmp_path, prog)
    recorded, doc = _step_outputs(tmp_path, cells)
    assert plain.code == recorded.code == 0
    assert recorded.stdout == plain.stdout == "one\n[1, 2]\n"
    assert recorded.stderr.replace("outputs", "plain").split("done in")[0] == plain.stderr.split("done in")[0]
    assert [o["output_type"] for o in doc["cells"]["0"]["outputs"]] == ["stream", "display_data", "execute_result"]
    assert doc["cells"]["1"]["outputs"] == [{"output_type": "stream", "name": "stderr", "text": "two\n"}]


def test_an_output_over_the_limit_is_cut_with_a_note(tmp_path):
    cells = ["print('x' * (1024 * 1024 + 10))\nprint('after')", "display({'big': 'y' * (1024 * 1024 + 10)})",
             "'small'"]
    got, doc = _step_outputs(tmp_path, cells)
    assert got.code == 0, got
    first = doc["cells"]["0"]["outputs"]
    assert len(first[0]["text"]) == 1024 * 1024
    assert first[1]["name"] == "stderr" and "stdout was cut here" in first[1]["text"]
    assert len(first) == 2  # 'after' is past the cut
    second = doc["cells"]["1"]["outputs"]
    assert len(second) == 1 and "text/plain output of 1.0 MiB was left out" in second[0]["text"]
    assert doc["cells"]["2"]["outputs"][0]["data"] == {"text/plain": "'small'"}


def test_the_steps_outputs_stop_at_the_step_limit_with_a_note():
    sys.path.insert(0, PYTHON_DIR)
    from cellpipe_runtime.outputs import Recorder

    rec = Recorder("unused.json", "s", max_output=100, max_step=250)
    for index in range(4):
        rec.begin(index, None, index + 1)
        rec.display("z" * 80)  # 82 bytes of text/plain each
        rec.end()
    kept = [o for c in sorted(rec.cells) for o in rec.cells[c]["outputs"]]
    assert [o["output_type"] for o in kept] == ["display_data"] * 3 + ["stream"]
    assert "reached the 0.2 KiB limit" in kept[-1]["text"]
    assert rec.cells[3]["outputs"] == [kept[-1]]


def test_a_cell_that_stops_the_step_keeps_its_outputs(tmp_path):
    got, doc = _step_outputs(tmp_path, ["print('first')", "print('bye')\nexit()", "print('never')"])
    assert got.code == 0, got
    assert doc["cells"]["1"]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "bye\n"}]
    assert "2" not in doc["cells"]


def test_the_html_page_of_a_steps_outputs_shows_each_cell_as_its_notebook_numbers_it(tmp_path):
    """``--cell-outputs-html``: the step's KFP system.HTML artifact, a page with what each cell showed."""
    html_file = tmp_path / "page.html"
    cells = [
        "print('rows: 2')",
        "from IPython.display import HTML\ndisplay(HTML('<table><tr><td>92.48</td></tr></table>'))",
        "x = 1\nx + 41",
        "import sys\nprint('<careful> & so on', file=sys.stderr)",
        "raise ValueError('bad value: 3')",
    ]
    prog = program("outputs", [{"index": i + 1, "source": s, "role": "step", "id": "id-%d" % i} for i, s in enumerate(cells)])
    workdir = tmp_path / "step"
    workdir.mkdir()
    got = run_step(tmp_path, prog, workdir=str(workdir), extra=["--cell-outputs-html", str(html_file)])
    assert got.code == 1, got
    page = html_file.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    # Cell numbers as JupyterLab shows them: the program's cells are notebook cells 2..6 (index 1..5).
    assert [n for n in range(1, 8) if "<h2>Cell %d</h2>" % n in page] == [2, 3, 4, 5, 6]
    assert "<pre>rows: 2\n</pre>" in page
    assert "<table><tr><td>92.48</td></tr></table>" in page  # HTML as the cell displayed it
    assert "<pre>42</pre>" in page  # the last expression's value
    assert '<pre class="stderr">&lt;careful&gt; &amp; so on\n</pre>' in page  # text is escaped
    assert 'class="error"' in page and "ValueError: bad value: 3" in page
    assert not (tmp_path / "cell-outputs.json").exists(), "only the page was asked for"


def test_the_outputs_also_go_to_stderr_as_numbered_chunks_that_reassemble_to_the_same_document(tmp_path):
    """``--cell-outputs-log stderr``: how a Kubeflow pod's outputs reach the run store of the cellpipe that reads its log."""
    import base64
    import zlib

    out_file = tmp_path / "cell-outputs.json"
    cells = ["print('x' * 30000)", "from IPython.display import HTML\ndisplay(HTML('<b>%s</b>' % ('y' * 20000)))", "6 * 7"]
    prog = program("chunks", [{"index": i, "source": s, "role": "step", "id": "c%d" % i} for i, s in enumerate(cells)])
    workdir = tmp_path / "step"
    workdir.mkdir()
    got = run_step(tmp_path, prog, workdir=str(workdir), extra=["--cell-outputs", str(out_file), "--cell-outputs-log", "stderr"])
    assert got.code == 0, got
    lines = [l for l in got.stderr.splitlines() if l.startswith("[cellpipe] cell-outputs ")]
    assert lines and all(len(l) < 8100 for l in lines), "short lines, numbered"
    parts = [l[len("[cellpipe] cell-outputs "):].split(" ", 1) for l in lines]
    assert [p[0] for p in parts] == ["%d/%d" % (i + 1, len(parts)) for i in range(len(parts))]
    doc = json.loads(zlib.decompress(base64.b64decode("".join(p[1] for p in parts))))
    assert doc == json.loads(out_file.read_text(encoding="utf-8"))
    assert "cell-outputs" not in got.stdout
    bad = run_step(tmp_path, prog, workdir=str(workdir), extra=["--cell-outputs-log", "stdout"])
    assert bad.code != 0 and "--cell-outputs-log takes 'stderr'" in bad.stderr


_COUNT_CALLS = r'''
import json, sys
from cellpipe_runtime.outputs import Recorder

rec = Recorder(None, "s", max_output=1 << 30, max_step=1 << 30)
calls = []
stream = rec.stream
rec.stream = lambda name, text: (calls.append(len(text)), stream(name, text))
rec.install()
rec.begin(0, None, 1)
for i in range(%(n)d):
    print("line", i)
rec.end()
sys.stdout = sys.__stdout__
outs = rec.cells[0]["outputs"]
from cellpipe_runtime.outputs import _joined
text = _joined(outs[0])["text"]
print(json.dumps({"calls": len(calls), "outputs": len(outs), "ok": text == "".join("line %%d\n" %% i for i in range(%(n)d))}))
'''


def test_printing_a_line_crosses_into_the_recorder_once_not_once_per_piece_print_writes(tmp_path):
    """``print('line', i)`` writes four pieces; the recorder sees each finished line once and keeps the pieces in a
    list, so recording N lines is linear (``text += piece`` per write made 100k prints take minutes)."""
    import subprocess

    n = 20000
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, PYTHONUNBUFFERED="1")
    got = subprocess.run([sys.executable, "-c", _COUNT_CALLS % {"n": n}], capture_output=True, text=True, env=env,
                         cwd=str(tmp_path), timeout=120)
    assert got.returncode == 0, got.stderr
    report = json.loads(got.stdout.strip().splitlines()[-1])
    assert report == {"calls": n, "outputs": 1, "ok": True}
    assert got.stdout.count("\n") == n + 1  # and every line still reached the real stream


def test_a_printing_step_costs_about_what_plain_python_does(tmp_path):
    """100k prints in a step against the same loop in plain Python with the step's environment, measured here: the
    bound is generous (3x; bench/print_cost.py measures ~1x) so a busy machine can't fail it, but quadratic
    recording (~30x) can't pass it."""
    import subprocess
    import time

    code = "for i in range(100000):\n    print('line', i)\n"
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, PYTHONUNBUFFERED="1")

    def plain():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, check=True, timeout=300)
        return time.perf_counter() - t

    def step():
        t = time.perf_counter()
        got, doc = _step_outputs(tmp_path, [code], extra_env={"PYTHONUNBUFFERED": "1"})
        elapsed = time.perf_counter() - t
        assert got.code == 0 and got.stdout.count("\n") == 100000, got.stderr[-2000:]
        assert doc["cells"]["0"]["outputs"][0]["text"].startswith("line 0\nline 1\n")
        return elapsed

    times = [(plain(), step()) for _ in range(2)]
    baseline, cost = min(t[0] for t in times), min(t[1] for t in times)
    assert cost < 3 * baseline + 0.5, "a printing step took %.2fs, plain Python %.2fs" % (cost, baseline)


def test_lines_from_stdout_and_stderr_keep_their_order_in_the_cell(tmp_path):
    cells = ["import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\nprint('no newline', end='')\n"
             "display(1)\nprint('d')"]
    got, doc = _step_outputs(tmp_path, cells)
    assert got.code == 0, got
    outs = [(o["output_type"], o.get("name"), o.get("text")) for o in doc["cells"]["0"]["outputs"]]
    assert outs == [("stream", "stdout", "a\n"), ("stream", "stderr", "b\n"), ("stream", "stdout", "c\nno newline"),
                    ("display_data", None, None), ("stream", "stdout", "d\n")]
    assert got.stdout == "a\nc\nno newline1\nd\n"
