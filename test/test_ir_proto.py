"""Every compiled spec loads into KFP's own protos, strictly (no unknown fields), as `kfp.Client` would load it.

The protos are the real ones from PyPI: `kfp-pipeline-spec` (PipelineSpec, PipelineDeploymentConfig, PlatformSpec) and
`kfp-kubernetes` (KubernetesExecutorConfig, loaded from its generated module without importing the kfp SDK).
"""
import glob
import importlib.util
import json
import os
import subprocess

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(REPO, "..", "shared", "corpus")
FIXTURES = os.path.join(REPO, "test", "fixtures", "notebooks")


def k8s_pb2():
    import kfp.pipeline_spec  # noqa: F401  (the generated module imports it)
    paths = glob.glob(os.path.join(os.path.dirname(os.path.dirname(pipeline_spec_pb2.__file__)), "kubernetes", "kubernetes_executor_config_pb2.py"))
    assert paths, "kfp-kubernetes is not installed (scripts/setup.sh installs it with --no-deps)"
    spec = importlib.util.spec_from_file_location("kubernetes_executor_config_pb2", paths[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_all(paths):
    out = subprocess.run(["node", os.path.join(REPO, "test", "support", "compile_notebooks.mjs"), *paths],
                         check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout)


def notebooks():
    found = sorted(glob.glob(os.path.join(CORPUS, "*", "*.ipynb"))) + sorted(glob.glob(os.path.join(FIXTURES, "*.ipynb")))
    assert found, "no notebooks found"
    return found


@pytest.fixture(scope="module")
def compiled():
    return compile_all(notebooks())


def test_every_valid_notebook_compiles_to_a_spec_kfp_protos_accept(compiled):
    pb = k8s_pb2()
    checked = 0
    for item in compiled:
        if not item["ok"]:
            continue
        docs = list(yaml.safe_load_all(item["yaml"]))
        assert 1 <= len(docs) <= 2, item["notebook"]
        spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())  # strict: unknown field → ParseError
        json_format.ParseDict(docs[0]["deploymentSpec"], pipeline_spec_pb2.PipelineDeploymentConfig())
        assert spec.schema_version == "2.1.0"
        if len(docs) == 2:
            json_format.ParseDict(docs[1], pipeline_spec_pb2.PlatformSpec())
            for label, cfg in docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"].items():
                assert label in docs[0]["deploymentSpec"]["executors"]
                json_format.ParseDict(cfg, pb.KubernetesExecutorConfig())
        # referential integrity, which the protos cannot check
        for name, task in docs[0]["root"]["dag"]["tasks"].items():
            component = docs[0]["components"][task["componentRef"]["name"]]
            assert component["executorLabel"] in docs[0]["deploymentSpec"]["executors"]
            for dep in task.get("dependentTasks", []):
                assert dep in docs[0]["root"]["dag"]["tasks"]
            for art in task.get("inputs", {}).get("artifacts", {}).values():
                producer = docs[0]["root"]["dag"]["tasks"][art["taskOutputArtifact"]["producerTask"]]
                produced = docs[0]["components"][producer["componentRef"]["name"]]["outputDefinitions"]["artifacts"]
                assert art["taskOutputArtifact"]["outputArtifactKey"] in produced
        checked += 1
    print(f"proto validation: {checked} specs accepted")
    assert checked >= 8


def test_output_is_deterministic():
    first = compile_all(notebooks())
    second = compile_all(notebooks())
    assert [i["yaml"] for i in first] == [i["yaml"] for i in second]


def graph_of(compiled, name, variant="inline"):
    return next(i for i in compiled if i["notebook"].endswith(name) and i["variant"] == variant)


def test_candies_sharing_matches_the_corpus_expectations(compiled):
    item = graph_of(compiled, "candies_sharing.ipynb")
    assert item["ok"]
    graph = item["graph"]
    assert [s["name"] for s in graph["steps"]] == ["sack", "kid1", "kid2", "kid3"]
    assert sorted(map(tuple, graph["edges"])) == sorted([("sack", "kid1"), ("kid1", "kid2"), ("kid2", "kid3"), ("kid1", "kid3")])
    assert [(p["name"], p["type"], p["default"]) for p in graph["parameters"]] == [("CANDIES", "int", 20)]
    steps = {s["name"]: s for s in graph["steps"]}
    assert steps["kid3"]["inputs"] == ["kid1", "kid2"]
    assert steps["kid1"]["outputs"] == ["kid1"]
    spec = yaml.safe_load(item["yaml"])
    assert spec["root"]["inputDefinitions"]["parameters"]["CANDIES"]["parameterType"] == "NUMBER_INTEGER"
    assert spec["root"]["dag"]["tasks"]["kid3"]["dependentTasks"] == ["kid1", "kid2"]


def test_parameters_and_metrics_matches_the_corpus_expectations(compiled):
    item = graph_of(compiled, "pipeline_parameters_and_metrics.ipynb")
    assert item["ok"]
    graph = item["graph"]
    assert [s["name"] for s in graph["steps"]] == ["create_matrix", "sum_matrix"]
    assert [p["name"] for p in graph["parameters"]] == ["d1", "d2", "booltest", "strtest"]
    assert [p["type"] for p in graph["parameters"]] == ["int", "int", "bool", "str"]
    assert graph["metrics"] == ["d1", "d2", "sum_result"]
    steps = {s["name"]: s for s in graph["steps"]}
    assert steps["create_matrix"]["limits"] == {"nvidia.com/gpu": "2"}
    spec = yaml.safe_load(item["yaml"])
    resources = spec["deploymentSpec"]["executors"]["exec-create-matrix"]["container"]["resources"]
    assert resources["accelerator"]["resourceCount"] == "2" and resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
    written = sorted(m for s in graph["steps"] for m in s["metrics"])
    assert written == ["d1", "d2", "sum_result"]


def test_all_options_fixture_lands_in_the_spec(compiled):
    item = graph_of(compiled, "all_options.ipynb", "images")
    assert item["ok"], item["diagnostics"]
    docs = list(yaml.safe_load_all(item["yaml"]))
    spec, platform = docs
    assert spec["pipelineInfo"]["name"] == "all-options"
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: v["parameterType"] for k, v in params.items()} == {
        "rate": "NUMBER_DOUBLE", "epochs": "NUMBER_INTEGER", "name": "STRING", "verbose": "BOOLEAN", "layers": "LIST", "config": "STRUCT"}
    assert params["config"]["defaultValue"] == {"seed": 7, "tags": ["x"]}
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["load-data"]["cachingOptions"] == {}
    assert tasks["train"]["retryPolicy"]["maxRetryCount"] == 2
    train = spec["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert train["image"].startswith("127.0.0.1:5000/cellpipe/steps@sha256:")
    assert "/cellpipe/steps/train.json" in train["args"]
    load = spec["deploymentSpec"]["executors"]["exec-load-data"]["container"]["resources"]
    assert load["resourceCpuLimit"] == "500m" and load["cpuLimit"] == 0.5 and load["resourceMemoryLimit"] == "1Gi"
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors["exec-train"]["secretAsEnv"][0]["keyToEnv"] == [{"envVar": "DB_PASSWORD", "secretKey": "password"}]
    assert executors["exec-train"]["activeDeadlineSeconds"] == "600"
    assert executors["exec-load-data"]["podMetadata"] == {"labels": {"app": "cellpipe", "team": "ml"}, "annotations": {"owner": "ana"}}
    assert executors["exec-evaluate"]["pvcMount"][0]["mountPath"] == "/data"
