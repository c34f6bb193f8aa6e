"""Elyra's side of bench/submit.mjs: export a notebook as a one-node Kubeflow Pipelines pipeline with Elyra 4.1.1.

Runs Elyra's own `elyra-pipeline export` command (click, in this process, so imports are paid once) on a generated
one-node `.pipeline` file and a Kubeflow Pipelines runtime configuration. Elyra packages the notebook into a
dependency archive and compiles the pipeline with the kfp compiler; the archive's upload to object storage (MinIO/S3)
is replaced by a local file copy (`CosClient` patched), so no network is involved on Elyra's side.

Install note: `pip install elyra==4.1.1` (bench/setup-baselines.sh) spent >25 min in pip's resolver here (its
jupyter-ai / python-lsp-server extras). What export needs installs in ~2 min instead:
  pip install --no-deps elyra==4.1.1
  pip install "kfp>=2.0.0,<2.15" kfp-kubernetes click==8.1.8 jinja2 minio nbformat networkx pyyaml jupyter_core \
      jupyter_server traitlets entrypoints deprecation colorama yaspin jsonschema requests "urllib3>=2.5.0" autopep8 \
      watchdog websocket-client jupyter-events jupyter_client nbconvert nbclient papermill rfc3986-validator \
      typing-extensions "black~=26.1"

Usage: python submit_elyra.py NOTEBOOK REPEATS → prints one JSON line {first_ms, median_ms, what}
"""
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

notebook, repeats = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp(prefix="cellpipe-bench-elyra-")
os.environ["JUPYTER_DATA_DIR"] = os.path.join(work, "jupyter-data")
os.environ["JUPYTER_CONFIG_DIR"] = os.path.join(work, "jupyter-config")
runtimes = os.path.join(os.environ["JUPYTER_DATA_DIR"], "metadata", "runtimes")
os.makedirs(runtimes)
# Elyra's component cache watches these folders; they must exist.
os.makedirs(os.path.join(os.environ["JUPYTER_DATA_DIR"], "metadata", "component-catalogs"))
os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(work, "jupyter-runtime")  # watched for component manifests
os.makedirs(os.environ["JUPYTER_RUNTIME_DIR"])
with open(os.path.join(runtimes, "bench_kfp.json"), "w") as f:
    json.dump({
        "display_name": "bench", "schema_name": "kfp",
        "metadata": {
            "api_endpoint": "http://127.0.0.1:9/pipeline", "cos_endpoint": "http://127.0.0.1:9", "cos_bucket": "bench",
            "cos_auth_type": "USER_CREDENTIALS", "cos_username": "minio", "cos_password": "minio123",
            "runtime_type": "KUBEFLOW_PIPELINES", "engine": "Argo", "auth_type": "NO_AUTHENTICATION",
        },
    }, f)
shutil.copy(notebook, os.path.join(work, "notebook.ipynb"))
node = {
    "id": "node-1", "type": "execution_node", "op": "execute-notebook-node",
    "app_data": {
        "component_parameters": {"filename": "notebook.ipynb", "runtime_image": "docker.io/library/python:3.12-slim", "dependencies": [],
                                 "include_subdirectories": False, "outputs": [], "env_vars": []},
        "label": "", "ui_data": {"label": "notebook.ipynb"},
    },
    "inputs": [{"id": "inPort"}], "outputs": [{"id": "outPort"}],
}
pipeline_def = {
    "doc_type": "pipeline", "version": "3.0",
    "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json",
    "id": "bench", "primary_pipeline": "primary",
    "pipelines": [{"id": "primary", "nodes": [node], "app_data": {
        "ui_data": {"comments": []}, "version": 8, "runtime_type": "KUBEFLOW_PIPELINES",
        "properties": {"name": "candies", "runtime": "Kubeflow Pipelines"}}, "runtime_ref": ""}],
    "schemas": [],
}
pipeline_path = os.path.join(work, "candies.pipeline")
with open(pipeline_path, "w") as f:
    json.dump(pipeline_def, f)
os.chdir(work)

t0 = time.perf_counter()
import elyra.pipeline.processor as processor  # noqa: E402
from elyra.cli.pipeline_app import pipeline  # noqa: E402

uploads = os.path.join(work, "object-store")


class LocalCos:
    """Stands in for Elyra's CosClient: the archive goes to a local folder instead of MinIO/S3."""

    def __init__(self, config=None, **_kwargs):
        self.bucket = "bench"

    def upload_file(self, local_file_path, object_name, object_prefix=""):
        dest = os.path.join(uploads, object_prefix, object_name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(local_file_path, dest)
        return os.path.join(object_prefix, object_name)


processor.CosClient = LocalCos


def export_once(i):
    out = os.path.join(work, f"out-{i}.yaml")
    try:
        pipeline.main(["export", pipeline_path, "--runtime-config", "bench_kfp", "--output", out, "--format", "yaml", "--overwrite"],
                      standalone_mode=False)
    except SystemExit as e:  # click exits 0 on success in some versions
        if e.code not in (0, None):
            raise
    if not os.path.exists(out):
        raise RuntimeError("Elyra did not write the exported pipeline")
    archives = [f for _d, _s, fs in os.walk(uploads) for f in fs if f.endswith(".tar.gz")]
    if not archives:
        raise RuntimeError("Elyra did not package the notebook")


devnull = open(os.devnull, "w")
real_stdout = sys.stdout
sys.stdout = devnull if not os.environ.get("ELYRA_BENCH_VERBOSE") else real_stdout
try:
    export_once(0)
    first_ms = (time.perf_counter() - t0) * 1000
    times = []
    for i in range(1, repeats + 1):
        t = time.perf_counter()
        export_once(i)
        times.append((time.perf_counter() - t) * 1000)
finally:
    sys.stdout = real_stdout
shutil.rmtree(work, ignore_errors=True)
print(json.dumps({"first_ms": first_ms, "median_ms": statistics.median(times),
                  "what": "elyra-pipeline export --format yaml, in process; archive + kfp compile, object-store upload replaced by a local copy"}))
