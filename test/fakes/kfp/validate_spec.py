"""Validates pipeline specs uploaded to the fake KFP API server with KFP's real protos (`kfp-pipeline-spec`,
`kfp-kubernetes`), strictly, as `kfp.Client` and the KFP backend parse them.

A long-lived worker: reads one JSON object per line on stdin (`{"id": N, "yaml": "..."}`) and answers one line
per request on stdout (`{"id": N, "ok": true}` or `{"id": N, "ok": false, "error": "..."}`).
"""
import glob
import importlib.util
import json
import os
import sys

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2


def k8s_pb2():
    paths = glob.glob(os.path.join(os.path.dirname(os.path.dirname(pipeline_spec_pb2.__file__)), "kubernetes",
                                   "kubernetes_executor_config_pb2.py"))
    if not paths:
        return None
    spec = importlib.util.spec_from_file_location("kubernetes_executor_config_pb2", paths[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


K8S = k8s_pb2()


def validate(text):
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    if not 1 <= len(docs) <= 2:
        raise ValueError(f"expected one or two YAML documents, got {len(docs)}")
    spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(docs[0].get("deploymentSpec", {}), pipeline_spec_pb2.PipelineDeploymentConfig())
    if spec.schema_version != "2.1.0":
        raise ValueError("KFP only supports schema version 2.1.0")
    if not spec.pipeline_info.name:
        raise ValueError("pipelineInfo.name is empty")
    if not spec.HasField("root"):
        raise ValueError("the spec has no root")
    if len(docs) == 2:
        json_format.ParseDict(docs[1], pipeline_spec_pb2.PlatformSpec())
        executors = docs[1].get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
        for label, cfg in executors.items():
            if label not in docs[0]["deploymentSpec"]["executors"]:
                raise ValueError(f"platform executor {label} has no deploymentSpec executor")
            if K8S is not None:
                json_format.ParseDict(cfg, K8S.KubernetesExecutorConfig())


for line in sys.stdin:
    req = json.loads(line)
    try:
        validate(req["yaml"])
        out = {"id": req["id"], "ok": True}
    except Exception as err:  # noqa: BLE001 — every failure is reported to the caller
        out = {"id": req["id"], "ok": False, "error": f"{type(err).__name__}: {err}"}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
