"""Pipeline metrics (the ``pipeline-metrics`` cell's names) in KFP's v1 metrics format.

``--metrics FILE`` gets ``{"metrics": [{"name": "sum-result", "numberValue": 12.5, "format": "RAW"}]}`` (the file
KFP's UI reads as ``mlpipeline-metrics``), and ``FILE.values.json`` gets ``{"sum_result": 12.5}`` under the
variables' own names for the run record. KFP metrics are numbers only: a bool counts as 1/0; any other value
(text, NaN, infinity) is kept in the values file as text and left out of the KFP file with a note.
"""
from __future__ import annotations

import json
import math
import os
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs step start-up time
    from typing import Any, Dict, List, Tuple

from .errors import StepError

_MAX = 64


def kfp_name(name: str) -> str:
    """KFP v1 metric names match ``^[a-z]([-a-z0-9]{0,62}[a-z0-9])?$``: lowercase, other characters become ``-``."""
    import re

    text = re.sub(r"[^a-z0-9]+", "-", name.lower())
    text = re.sub(r"^[^a-z]+", "", text)
    text = text[:_MAX].rstrip("-")
    return text or "metric"


def metric_value(value: Any) -> Tuple[Any, bool]:
    """(value for the record, whether it is a KFP number)."""
    import numbers

    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():  # numpy scalars and 0-d arrays
        try:
            value = item()
        except Exception:
            pass
    if isinstance(value, bool):
        return (1 if value else 0), True
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            return str(number), False
        return (int(value) if isinstance(value, numbers.Integral) else number), True
    text = str(value)
    return (text if len(text) <= 1000 else text[:999] + "\u2026"), False


def collect(names: List[str], namespace: Dict[str, Any], step: str) -> Dict[str, Any]:
    missing = [n for n in names if n not in namespace]
    if missing:
        raise StepError("step %s should report the metric%s %s, but no such variable is defined after its cells "
                        "ran; check the pipeline-metrics cell" % (step, "s" if len(missing) > 1 else "",
                                                                 ", ".join(missing)), kind="MetricsError")
    return {n: namespace[n] for n in names}


def write(path: str, values: Dict[str, Any], executor_output: str = "", artifact: str = "mlpipeline_metrics") -> List[str]:
    """Writes both files; returns notes about metrics KFP can't show.

    With ``executor_output`` (KFP v2's ``{{$.outputs.output_file}}``) it also writes an ``ExecutorOutput`` whose
    ``system.Metrics`` artifact carries the numbers as metadata under their own names — what KFP v2's launcher
    merges into the artifact and its UI shows (``Metrics.log_metric`` does the same in the KFP SDK)."""
    notes: List[str] = []
    kfp: List[Dict[str, Any]] = []
    plain: Dict[str, Any] = {}
    used: Dict[str, str] = {}
    for name, value in values.items():
        shown, is_number = metric_value(value)
        plain[name] = shown
        if not is_number:
            notes.append("metric %s is not a number (%s); it is kept in the run record only" % (name, shown[:80]))
            continue
        key = kfp_name(name)
        n = 2
        base = key
        while key in used:
            key = "%s-%d" % (base[: _MAX - 1 - len(str(n))].rstrip("-"), n)
            n += 1
        used[key] = name
        kfp.append({"name": key, "numberValue": shown, "format": "RAW"})
    files = [(path, {"metrics": kfp}), (path + ".values.json", plain)]
    if executor_output:
        numbers = {name: plain[name] for name in values if metric_value(values[name])[1]}
        files.append((executor_output, {"artifacts": {artifact: {"artifacts": [{"name": artifact, "metadata": numbers}]}}}))
    for target, data in files:
        directory = os.path.dirname(os.path.abspath(target))
        os.makedirs(directory, exist_ok=True)
        tmp = target + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, target)
    return notes
