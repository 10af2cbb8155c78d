"""The retraining pipeline (Kubeflow Pipelines v2): train → validate → register → promote →
roll out, the last three only when the gate passes.

    python -m mlops.pipeline --image ghcr.io/OWNER/ml-platform/mlops-train:TAG \
        --output mlops-retrain.yaml [--queue-name QUEUE]

Each step is a lightweight component running one function of this package in the training
image (mlops/docker/train.Dockerfile), which has kfp installed: the steps install nothing at
start. Caching is off: the same inputs must still train a new version (the data may have
changed behind the same data set name). MLflow credentials come from the Kubernetes Secret
named by the `mlflow_secret` parameter (keys `username`, `password`; optional). With
`--queue-name`, every step's pod carries the Kueue queue label.
"""

# No `from __future__ import annotations`: kfp reads the step functions' annotations as types.
import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from kfp import compiler, dsl, kubernetes

PIPELINE_NAME = "mlops-retrain"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def train_step(
    tracking_uri: str, model_name: str, dataset: str, params_json: str, seed: int
) -> str:
    import json
    import os

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from mlops import train

    result = train.train(
        model_name,
        dataset=dataset,
        params=json.loads(params_json),
        seed=seed,
        tags={"mlops.source": "pipeline"},
    )
    print(f"trained {model_name} version {result.version}: {result.metrics}")
    return result.version


def validate_step(
    tracking_uri: str,
    model_name: str,
    version: str,
    dataset: str,
    seed: int,
    metric: str,
    margin: float,
) -> NamedTuple("GateOutputs", [("passed", bool), ("result", str)]):
    import json
    import os
    from collections import namedtuple
    from dataclasses import asdict

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from mlops import validate

    result = validate.validate(
        model_name, version, dataset=dataset, metric=metric, margin=margin, seed=seed
    )
    print(result.summary())
    return namedtuple("GateOutputs", ["passed", "result"])(
        result.passed, json.dumps(asdict(result))
    )


def register_step(tracking_uri: str, model_name: str, gate_result: str) -> None:
    import json
    import os

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from mlflow import MlflowClient

    from mlops import registry, validate

    result = validate.GateResult(**json.loads(gate_result))
    registry.record_gate(MlflowClient(), model_name, result)


def promote_step(tracking_uri: str, model_name: str, version: str) -> str:
    import os

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from mlflow import MlflowClient

    from mlops import registry

    previous = registry.promote(MlflowClient(), model_name, version)
    print(f"{model_name}@champion: {previous or 'none'} -> {version}")
    return previous or ""


def rollout_step(
    namespace: str, deployment: str, model_name: str, version: str, timeout_seconds: float
) -> str:
    from mlops import rollout

    return rollout.roll_out(
        rollout.apps_api(), namespace, deployment, model_name, version, timeout=timeout_seconds
    )


def components(image: str) -> dict[str, Any]:
    """The steps as kfp components running in `image`, by name."""
    steps = {
        "train": train_step,
        "validate": validate_step,
        "register": register_step,
        "promote": promote_step,
        "rollout": rollout_step,
    }
    return {
        name: dsl.component(func, base_image=image, install_kfp_package=False)
        for name, func in steps.items()
    }


def build(image: str, queue_name: str | None = None) -> Callable[..., Any]:
    """The pipeline function, its steps running in `image`."""
    ops = components(image)
    train_op, validate_op, register_op, promote_op, rollout_op = (
        ops[name] for name in ("train", "validate", "register", "promote", "rollout")
    )

    def configure(task: dsl.PipelineTask, mlflow_secret: Any, memory: str = "1Gi") -> None:
        task.set_caching_options(False)
        task.set_cpu_request("500m").set_cpu_limit("2")
        task.set_memory_request(memory).set_memory_limit(memory)
        if mlflow_secret is not None:
            kubernetes.use_secret_as_env(
                task,
                secret_name=mlflow_secret,
                secret_key_to_env={
                    "username": "MLFLOW_TRACKING_USERNAME",
                    "password": "MLFLOW_TRACKING_PASSWORD",
                },
                optional=True,
            )
        if queue_name:
            kubernetes.add_pod_label(task, QUEUE_LABEL, queue_name)

    @dsl.pipeline(name=PIPELINE_NAME, description=__doc__.split("\n\n")[0])
    def retrain(
        tracking_uri: str,
        service_namespace: str,
        service_deployment: str,
        model_name: str = "breast-cancer-classifier",
        dataset: str = "breast_cancer",
        params_json: str = '{"C": 1.0}',
        seed: int = 42,
        gate_metric: str = "accuracy",
        gate_margin: float = 0.0,
        mlflow_secret: str = "mlflow-credentials",
        rollout_timeout_seconds: float = 600.0,
    ) -> None:
        trained = train_op(
            tracking_uri=tracking_uri,
            model_name=model_name,
            dataset=dataset,
            params_json=params_json,
            seed=seed,
        ).set_display_name("train")
        configure(trained, mlflow_secret, memory="2Gi")
        gate = validate_op(
            tracking_uri=tracking_uri,
            model_name=model_name,
            version=trained.output,
            dataset=dataset,
            seed=seed,
            metric=gate_metric,
            margin=gate_margin,
        ).set_display_name("validate")
        configure(gate, mlflow_secret, memory="2Gi")
        with dsl.If(gate.outputs["passed"] == True, name="gate-passed"):  # noqa: E712 - kfp condition
            registered = register_op(
                tracking_uri=tracking_uri,
                model_name=model_name,
                gate_result=gate.outputs["result"],
            ).set_display_name("register")
            configure(registered, mlflow_secret)
            promoted = (
                promote_op(tracking_uri=tracking_uri, model_name=model_name, version=trained.output)
                .set_display_name("promote")
                .after(registered)
            )
            configure(promoted, mlflow_secret)
            rolled = (
                rollout_op(
                    namespace=service_namespace,
                    deployment=service_deployment,
                    model_name=model_name,
                    version=trained.output,
                    timeout_seconds=rollout_timeout_seconds,
                )
                .set_display_name("roll out")
                .after(promoted)
            )
            configure(rolled, None, memory="512Mi")

    return retrain


def compile_pipeline(image: str, output: Path, queue_name: str | None = None) -> Path:
    compiler.Compiler().compile(build(image, queue_name), str(output))
    return output


def main(argv: list[str] | None = None) -> int:
    from mlops import config

    parser = argparse.ArgumentParser(prog="python -m mlops.pipeline", description=__doc__)
    image = config.env_str("MLOPS_TRAIN_IMAGE")
    parser.add_argument("--image", default=image, required=image is None)
    parser.add_argument("--output", type=Path, default=Path(f"{PIPELINE_NAME}.yaml"))
    parser.add_argument("--queue-name", default=config.env_str("MLOPS_QUEUE_NAME"))
    args = parser.parse_args(argv)
    print(compile_pipeline(args.image, args.output, args.queue_name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
