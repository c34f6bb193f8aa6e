"""Kale 2.3's own reading of a notebook, as JSON, for src/core/kale-conformance.test.ts to compare cellpipe against.

Usage: <python with kubeflow-kale==2.3.0> kale_graph.py NOTEBOOK.ipynb…
Prints one JSON object, by notebook path as given: {"steps": {name: {"ins": [...], "outs": [...], "labels": {...}, "limits": {...}}}, "edges": [[from, to]],
"parameters": {name: value}} — the steps of a referenced notebook flattened as `<unit>-<step>` (cellpipe's naming)
and an edge to or from a sub-pipeline expanded to its steps with no parent / no child inside it — or
{"error": "<Kale's message>"} when Kale refuses the notebook.
"""
import json
import logging
import os
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
    }


if __name__ == "__main__":
    results = {}
    for arg in sys.argv[1:]:
        os.chdir(os.path.dirname(os.path.abspath(arg)))  # Kale writes under ./.kale
        try:
            results[arg] = graph(os.path.abspath(arg))
        except Exception as e:  # Kale refuses the notebook: its message is the result
            results[arg] = {"error": str(e)}
    print(json.dumps(results, sort_keys=True))
