"""Kale 2.3's own reading of a notebook, as JSON, for src/core/kale-conformance.test.ts to compare cellpipe against.

Usage: <python with kubeflow-kale==2.3.0> kale_graph.py NOTEBOOK.ipynb…
Prints one JSON object, by notebook path as given: {"steps": {name: {"ins": [...], "outs": [...], "labels": {...}, "limits": {...}}}, "edges": [[from, to]],
"parameters": {name: value}, "dsl": {step: {"cache": bool, "env": {NAME: value}}}} — the steps of a referenced notebook flattened as `<unit>-<step>` (cellpipe's naming)
and an edge to or from a sub-pipeline expanded to its steps with no parent / no child inside it — or
{"error": "<Kale's message>"} when Kale refuses the notebook.
"""
import json
import logging
import os
import re
import sys

logging.disable(logging.CRITICAL)


def graph(path):
    from kale.processors import NotebookProcessor
    from kale.step import SubPipeline

    processor = NotebookProcessor(path, {"experiment_name": "conformance"})
    pipeline = processor.run()
    steps, edges, ends = {}, set(), {}
    for unit in pipeline.steps:
        if isinstance(unit, SubPipeline):
            inner = unit.pipeline
            names = {s.name: f"{unit.name}-{s.name}" for s in inner.steps}
            for s in inner.steps:
                steps[names[s.name]] = s
            for a, b in inner.edges():
                edges.add((names[a], names[b]))
            ends[unit.name] = (
                [names[n] for n in inner.nodes if inner.out_degree(n) == 0],
                [names[n] for n in inner.nodes if inner.in_degree(n) == 0],
            )
        else:
            steps[unit.name] = unit
            ends[unit.name] = ([unit.name], [unit.name])
    for a, b in pipeline.edges():
        for sink in ends[a][0]:
            for source in ends[b][1]:
                edges.add((sink, source))
    return {
        "steps": {
            name: {
                "ins": sorted(s.ins),
                "outs": sorted(s.outs),
                "labels": dict(s.config.labels or {}),
                "limits": dict(s.config.limits or {}),
            }
            for name, s in steps.items()
        },
        "edges": sorted([list(e) for e in edges]),
        "parameters": {k: v.param_value for k, v in pipeline.pipeline_parameters.items()},
        **step_config(pipeline, processor),
    }


def step_config(pipeline, processor):
    """What Kale's own compiler writes for each step's caching and environment (its KFP DSL, read back), for a
    notebook that references no other: `{"dsl": {step: {"cache": bool, "env": {NAME: value}}}}`. Kale's compile-time
    checks (two volumes deriving one env var name) refuse the notebook as its compile() does."""
    from kale.compiler import Compiler
    from kale.step import SubPipeline

    if any(isinstance(unit, SubPipeline) for unit in pipeline.steps):
        return {}
    compiler = Compiler(pipeline, "")
    compiler._check_unique_volume_env_vars()
    try:
        dsl = compiler.generate_dsl()
    except Exception as e:  # a notebook Kale reads but cannot render: only the rules that read "dsl" care
        return {"dsl_error": str(e)}
    by_var = {f"{s.name}_task": s.name for s in pipeline.steps}
    out = {name: {"cache": True, "env": {}} for name in by_var.values()}
    for m in re.finditer(r"^\s*(\w+)\.set_caching_options\(enable_caching=(True|False)\)", dsl, re.M):
        if m.group(1) in by_var:
            out[by_var[m.group(1)]]["cache"] = m.group(2) == "True"
    for m in re.finditer(r'^\s*(\w+)\.set_env_variable\(name="([^"]+)", value="([^"]*)"\)', dsl, re.M):
        if m.group(1) in by_var:
            out[by_var[m.group(1)]]["env"][m.group(2)] = m.group(3)
    return {"dsl": out}


if __name__ == "__main__":
    results = {}
    for arg in sys.argv[1:]:
        os.chdir(os.path.dirname(os.path.abspath(arg)))  # Kale writes under ./.kale
        try:
            results[arg] = graph(os.path.abspath(arg))
        except Exception as e:  # Kale refuses the notebook: its message is the result
            results[arg] = {"error": str(e)}
    print(json.dumps(results, sort_keys=True))
