"""Train a model, log it to MLflow, and register it as a new version of the registered model.

    python -m mlops.train --param C=0.5            # prints the new version number

The run records the parameters, held-out metrics, the model (skops format: loading it runs no
pickle code) and the training features as the drift reference (``reference/features.csv.gz``).
Point it at your own estimator with ``MLOPS_ESTIMATOR=package.module:function``: a function
taking the parameter dict and returning an unfitted scikit-learn estimator.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.sklearn
import sklearn
import skops
from mlflow.models import infer_signature
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlops import config, data

REFERENCE_ARTIFACT = "reference/features.csv.gz"
MODEL_ARTIFACT = "model"
DEFAULT_PARAMS: dict[str, float | int | str] = {"C": 1.0, "max_iter": 2000}


@dataclass(frozen=True)
class TrainResult:
    model_name: str
    version: str
    run_id: str
    metrics: dict[str, float]


def default_estimator(params: dict[str, float | int | str]) -> BaseEstimator:
    """Standardised features and a logistic regression; `C` is the inverse regularisation."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "classify",
                LogisticRegression(C=float(params["C"]), max_iter=int(params["max_iter"])),
            ),
        ]
    )


def build_estimator(params: dict[str, float | int | str], factory: str | None) -> BaseEstimator:
    """The default estimator, or `package.module:function` called with the parameters."""
    if factory is None:
        return default_estimator(params)
    module, _, function = factory.partition(":")
    return getattr(importlib.import_module(module), function)(params)


def train(
    model_name: str,
    dataset: str = config.DEFAULT_DATASET,
    params: dict[str, float | int | str] | None = None,
    seed: int = data.DEFAULT_SEED,
    estimator_factory: str | None = None,
    experiment: str | None = None,
    tags: dict[str, str] | None = None,
) -> TrainResult:
    """Fit on the training rows, score on the held-out rows, log and register; the tracking
    server is the one `MLFLOW_TRACKING_URI` (or `mlflow.set_tracking_uri`) names."""
    # The default estimator's parameters are all logged, defaults included.
    params = {**(DEFAULT_PARAMS if estimator_factory is None else {}), **(params or {})}
    rows = data.split(dataset, seed)
    estimator = build_estimator(params, estimator_factory)
    estimator.fit(rows.x_train, rows.y_train)

    predicted = estimator.predict(rows.x_holdout)
    metrics = {
        "holdout_accuracy": float(accuracy_score(rows.y_holdout, predicted)),
        "holdout_f1_macro": float(f1_score(rows.y_holdout, predicted, average="macro")),
        "train_accuracy": float(accuracy_score(rows.y_train, estimator.predict(rows.x_train))),
    }

    mlflow.set_experiment(experiment or f"mlops-{model_name}")
    with mlflow.start_run(tags=tags) as run:
        mlflow.log_params({**params, "dataset": dataset, "seed": seed})
        mlflow.log_params({"n_train": len(rows.x_train), "n_holdout": len(rows.x_holdout)})
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            reference = Path(tmp) / Path(REFERENCE_ARTIFACT).name
            rows.x_train.to_csv(reference, index=False)
            mlflow.log_artifact(str(reference), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))
        info = mlflow.sklearn.log_model(
            estimator,
            name=MODEL_ARTIFACT,
            registered_model_name=model_name,
            signature=infer_signature(rows.x_holdout, predicted),
            # Stated, not inferred: inference imports the model in a subprocess (seconds).
            pip_requirements=[
                f"scikit-learn=={sklearn.__version__}",
                f"skops=={skops.__version__}",
            ],
        )
    version = str(info.registered_model_version)
    if tags:
        client = mlflow.MlflowClient()
        for key, value in tags.items():
            client.set_model_version_tag(model_name, version, key, value)
    return TrainResult(model_name, version, run.info.run_id, metrics)


def parse_params(pairs: list[str]) -> dict[str, float | int | str]:
    """`C=0.5 max_iter=100 solver=lbfgs` → {'C': 0.5, 'max_iter': 100, 'solver': 'lbfgs'}."""
    params: dict[str, float | int | str] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--param {pair!r}: expected NAME=VALUE")
        for cast in (int, float):
            try:
                params[key] = cast(raw)
                break
            except ValueError:
                continue
        else:
            params[key] = raw
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops.train", description=__doc__)
    parser.add_argument("--model-name", default=config.model_name())
    parser.add_argument("--dataset", default=config.dataset())
    parser.add_argument("--seed", type=int, default=config.env_int("MLOPS_SEED", data.DEFAULT_SEED))
    parser.add_argument("--estimator", default=config.env_str("MLOPS_ESTIMATOR"))
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--output", type=Path, help="write the result as JSON to this file")
    args = parser.parse_args(argv)
    tags = dict(tag.partition("=")[::2] for tag in args.tag)
    # MLflow prints links to the run on stdout; stdout is for the version alone.
    with contextlib.redirect_stdout(sys.stderr):
        result = train(
            args.model_name,
            dataset=args.dataset,
            params=parse_params(args.param),
            seed=args.seed,
            estimator_factory=args.estimator,
            tags=tags or None,
        )
    if args.output:
        args.output.write_text(json.dumps(result.__dict__, indent=2) + "\n")
    print(result.version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
