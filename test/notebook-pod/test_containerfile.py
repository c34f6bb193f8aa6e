"""The README's "In a Kubeflow notebook image" Containerfile is the one scripts/test-notebook-pod.sh builds and runs."""
from pathlib import Path
import re

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_shows_the_containerfile_the_notebook_pod_test_builds():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## In a Kubeflow notebook image", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```dockerfile\n(.*?)```", section, re.S)
    assert blocks == [(REPO / "containers/kubeflow-notebook/Containerfile").read_text()]


def test_the_image_installs_what_the_wheel_depends_on_in_a_layer_before_the_wheel():
    # The JupyterLab layer is cached (buildah's layer cache in the test); a new wheel only adds its own layers.
    text = (REPO / "containers/kubeflow-notebook/Containerfile").read_text()
    deps = re.search(r"^dependencies = \[(.*?)^\]", (REPO / "python/pyproject.toml").read_text(), re.S | re.M).group(1)
    for requirement in re.findall(r'^\s*"([^"]+)"', deps, re.M):
        assert f'"{requirement}"' in text.split("COPY cellpipe-")[0], requirement
