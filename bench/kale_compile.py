"""Times Kale's own notebook → KFP compile (NotebookProcessor → Compiler → kfp compile_pipeline), warm, in-process.

Run with the Python of a venv that has `kubeflow-kale` (bench/setup-baselines.sh makes one). Prints JSON.
"""
import json
import os
import statistics
import sys
import tempfile
import time


def main(notebook, repeats):
    from kale.common import kfputils
    from kale.compiler import Compiler
    from kale.processors import NotebookProcessor

    work = tempfile.mkdtemp(prefix="kale-bench-")
    nb = os.path.join(work, os.path.basename(notebook))
    # Kale 2.x rejects the metadata older Kale wrote (docker_image, experiment{}) and needs experiment_name:
    # adapt a copy so Kale can compile the same cells (cellpipe reads the original as is).
    with open(notebook) as f:
        content = json.load(f)
    meta = content.setdefault("metadata", {}).setdefault("kubeflow_notebook", {})
    meta["base_image"] = meta.pop("docker_image", "") or ""
    meta.pop("experiment", None)
    meta["experiment_name"] = meta.get("experiment_name") or "bench"
    with open(nb, "w") as f:
        json.dump(content, f)
    os.chdir(work)  # Kale writes its generated DSL under ./.kale
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        processor = NotebookProcessor(nb, {})
        pipeline = processor.run()
        script = Compiler(pipeline, processor.get_imports_and_functions()).compile()
        kfputils.compile_pipeline(script, pipeline.config.pipeline_name)
        times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"first_ms": times[0], "median_ms": statistics.median(times[1:] or times), "repeats": repeats}))


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10)
