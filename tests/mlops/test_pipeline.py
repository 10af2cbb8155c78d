"""The retraining pipeline: compiled with the kfp SDK (steps, order, condition, images, no
caching, secrets, Kueue label), then run for real with kfp's local runner against the local
MLflow server and a fake Kubernetes API."""

from __future__ import annotations

import json

import pytest
import yaml
from mlflow import MlflowClient

from mlops import pipeline, registry, rollout
from tests.mlops.fixtures import MODEL
from tests.mlops.test_rollout import PATH, deployment

IMAGE = "registry.test/mlops-train:1.0"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[dict, dict]:
    path = tmp_path_factory.mktemp("pipeline") / "retrain.yaml"
    pipeline.compile_pipeline(IMAGE, path, queue_name="team-a")
    spec, platform = yaml.safe_load_all(path.read_text())
    return spec, platform


def test_steps_and_their_order(compiled):
    spec, _ = compiled
    root = spec["root"]["dag"]["tasks"]
    assert set(root) == {"train-step", "validate-step", "condition-1"}
    assert "dependentTasks" not in root["train-step"]
    assert root["validate-step"]["dependentTasks"] == ["train-step"]
    gate = root["condition-1"]
    assert sorted(gate["dependentTasks"]) == ["train-step", "validate-step"]
    assert gate["triggerPolicy"]["condition"] == (
        "inputs.parameter_values['pipelinechannel--validate-step-passed'] == true"
    )
    inner = spec["components"]["comp-condition-1"]["dag"]["tasks"]
    assert set(inner) == {"register-step", "promote-step", "rollout-step"}
    assert "dependentTasks" not in inner["register-step"]
    assert inner["promote-step"]["dependentTasks"] == ["register-step"]
    assert inner["rollout-step"]["dependentTasks"] == ["promote-step"]
    names = [t["taskInfo"]["name"] for t in [*root.values(), *inner.values()]]
    assert names == ["gate-passed", "train", "validate", "promote", "register", "roll out"] or (
        sorted(names)
        == sorted(["gate-passed", "train", "validate", "promote", "register", "roll out"])
    )
    # The version that is promoted and rolled out is the one trained.
    for task in ("promote-step", "rollout-step"):
        version = inner[task]["inputs"]["parameters"]["version"]
        assert version == {"componentInputParameter": "pipelinechannel--train-step-Output"}
    assert spec["root"]["inputDefinitions"]["parameters"]["tracking_uri"] == {
        "parameterType": "STRING"
    }


def test_steps_run_in_the_image_with_no_install_and_no_cache(compiled):
    spec, _ = compiled
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 5
    for executor in executors.values():
        container = executor["container"]
        assert container["image"] == IMAGE
        assert "pip install" not in " ".join(container["command"])
        assert container["resources"]["resourceMemoryRequest"]
    tasks = [
        *spec["root"]["dag"]["tasks"].values(),
        *spec["components"]["comp-condition-1"]["dag"]["tasks"].values(),
    ]
    for task in tasks:
        if "cachingOptions" in task:
            assert not task["cachingOptions"].get("enableCache")


def test_secrets_and_queue_label(compiled):
    _, platform = compiled
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == {
        f"exec-{s}-step" for s in ("train", "validate", "register", "promote", "rollout")
    }
    for name, executor in executors.items():
        assert executor["podMetadata"]["labels"] == {pipeline.QUEUE_LABEL: "team-a"}
        if name == "exec-rollout-step":
            assert "secretAsEnv" not in executor  # it talks to Kubernetes only
            continue
        (secret,) = executor["secretAsEnv"]
        assert {(m["secretKey"], m["envVar"]) for m in secret["keyToEnv"]} == {
            ("username", "MLFLOW_TRACKING_USERNAME"),
            ("password", "MLFLOW_TRACKING_PASSWORD"),
        }


def test_no_queue_label_unless_asked(tmp_path):
    path = pipeline.compile_pipeline(IMAGE, tmp_path / "p.yaml")
    _, platform = yaml.safe_load_all(path.read_text())
    for executor in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
        assert "podMetadata" not in executor


def test_steps_run_with_the_local_runner(tracking, fake_api, tmp_path, monkeypatch):
    """Each step's component, as compiled, run by kfp's local runner in a subprocess the way
    the pod runs it (the executor reads its inputs, calls the function, writes its outputs),
    chained as the pipeline chains them. (kfp's local runner cannot evaluate a dsl.If over a
    task output, so the chaining is here; the compiled DAG is checked above.)"""
    from kfp import local

    name = f"{MODEL}-pipeline"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": fake_api.url}}],
                "users": [{"name": "step", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "step"}}],
                "current-context": "fake",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    path = PATH.replace("models", "serving")
    fake_api.route("PATCH", path, deployment(2, 1, 1, 0, 1))
    fake_api.route("GET", path, deployment(2, 2, 1, 1, 1))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    ops = pipeline.components(IMAGE)

    trained = ops["train"](
        tracking_uri=tracking,
        model_name=name,
        dataset="breast_cancer",
        params_json=json.dumps({"C": 0.1}),
        seed=42,
    )
    version = trained.output
    assert version == "1"
    gate = ops["validate"](
        tracking_uri=tracking,
        model_name=name,
        version=version,
        dataset="breast_cancer",
        seed=42,
        metric="accuracy",
        margin=0.0,
    )
    assert gate.outputs["passed"] is True
    ops["register"](tracking_uri=tracking, model_name=name, gate_result=gate.outputs["result"])
    promoted = ops["promote"](tracking_uri=tracking, model_name=name, version=version)
    assert promoted.output == ""  # there was no champion before
    rolled = ops["rollout"](
        namespace="serving",
        deployment="classifier",
        model_name=name,
        version=version,
        timeout_seconds=10.0,
    )
    assert rolled.output == "rolled out"

    client = MlflowClient()
    assert registry.alias_version(client, name, "champion") == "1"
    assert client.get_model_version(name, "1").tags["mlops.gate"] == "passed"
    assert client.get_model_version(name, "1").tags["mlops.source"] == "pipeline"
    assert client.get_run(client.get_model_version(name, "1").run_id).data.params["C"] == "0.1"
    patch = next(r for r in fake_api.requests if r.method == "PATCH")
    assert patch.path == path
    assert patch.body["spec"]["template"]["metadata"]["annotations"] == {
        rollout.ANNOTATION: f"{name}/1"
    }
