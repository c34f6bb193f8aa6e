"""A step's recorded cell outputs as one self-contained HTML page (``--cell-outputs-html FILE``): what the step's
KFP ``system.HTML`` artifact holds, so the Kubeflow UI's Visualization tab shows what the cells showed.

Rich outputs are shown as Jupyter would pick them (HTML, SVG, PNG/JPEG as data URIs, Markdown and plain text as
preformatted text); streams and tracebacks are escaped text (ANSI colours dropped). No scripts are carried over:
``application/javascript`` outputs are left out, since the page is served by KFP's UI.
Stdlib only.
"""
from __future__ import annotations

import html
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.2em}h2{font-size:.95em;color:#555;margin:1.4em 0 .4em}"
    "pre{background:#f6f6f6;padding:.5em;overflow:auto;white-space:pre-wrap}"
    ".stderr{background:#fdecea}.error{background:#fdecea;border-left:3px solid #c62828}"
    "img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px}"
)


def _text(value: "Any") -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _pre(text: str, cls: str = "") -> str:
    return '<pre%s>%s</pre>' % (' class="%s"' % cls if cls else "", html.escape(_ANSI.sub("", text)))


def _rich(data: "Dict[str, Any]") -> str:
    if "text/html" in data:
        return "<div>%s</div>" % _text(data["text/html"])
    if "image/svg+xml" in data:
        return "<div>%s</div>" % _text(data["image/svg+xml"])
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return '<img alt="%s output" src="data:%s;base64,%s">' % (mime, mime, _text(data[mime]).replace("\n", ""))
    for mime in ("text/markdown", "text/latex", "text/plain"):
        if mime in data:
            return _pre(_text(data[mime]))
    return ""


def _output(o: "Dict[str, Any]") -> str:
    kind = o.get("output_type")
    if kind == "stream":
        return _pre(_text(o.get("text", "")), "stderr" if o.get("name") == "stderr" else "")
    if kind in ("display_data", "execute_result"):
        return _rich(o.get("data", {}))
    if kind == "error":
        tb = "\n".join(o.get("traceback") or []) or "%s: %s" % (o.get("ename"), o.get("evalue"))
        return _pre(tb, "error")
    return ""


def render(doc: "Dict[str, Any]") -> str:
    """The page for a ``cellpipe.cell-outputs/v1`` document (``outputs.Recorder``'s file)."""
    step = str(doc.get("step", "?"))
    parts: "List[str]" = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>%s</title><style>%s</style></head><body>" % (html.escape("cellpipe step %s" % step), _STYLE),
        "<h1>%s</h1>" % html.escape("Step %s: what its cells showed" % step),
    ]
    cells = doc.get("cells", {})
    shown = 0
    for index in sorted(cells, key=int):
        outs = [_output(o) for o in cells[index].get("outputs", [])]
        outs = [x for x in outs if x]
        if not outs:
            continue
        shown += 1
        # Cell numbers as JupyterLab shows them (1-based, markdown cells counted).
        parts.append("<h2>Cell %d</h2>" % (int(index) + 1))
        parts.extend(outs)
    if not shown:
        parts.append("<p>The step's cells showed nothing.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
