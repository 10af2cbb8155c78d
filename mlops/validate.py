"""The quality gate: a candidate version must beat the champion on the held-out rows.

    python -m mlops.validate --version 7 [--record]

It passes when there is no champion yet, or when
``candidate_score >= champion_score + margin`` for the configured scikit-learn scorer
(`MLOPS_GATE_METRIC`, default accuracy; every scorer is "higher is better") and margin
(`MLOPS_GATE_MARGIN`, default 0.0: at least as good; 0.01: one point better). Both versions are
scored on the same held-out rows (same data set and seed). `--record` writes the verdict on the
version (mlops.registry.record_gate), which promotion requires.

Exit codes, for CI: 0 passed, 1 rejected, 2 the gate could not run (bad settings, MLflow
unreachable, unknown version).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

import mlflow.sklearn
from mlflow import MlflowClient
from sklearn.metrics import get_scorer

from mlops import config, data, registry

EXIT_PASSED, EXIT_REJECTED, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class GateResult:
    passed: bool
    candidate_version: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None
    metric: str
    margin: float

    def summary(self) -> str:
        verdict = "PASSED" if self.passed else "REJECTED"
        if self.champion_version is None:
            return (
                f"{verdict}: version {self.candidate_version} {self.metric}="
                f"{self.candidate_score:.4f}, no champion yet"
            )
        return (
            f"{verdict}: version {self.candidate_version} {self.metric}={self.candidate_score:.4f}"
            f" vs champion version {self.champion_version} {self.champion_score:.4f}"
            f" (needs >= champion + {self.margin})"
        )


def score(model_name: str, version: str, rows: data.Split, metric: str) -> float:
    model = mlflow.sklearn.load_model(f"models:/{model_name}/{version}")
    return float(get_scorer(metric)(model, rows.x_holdout, rows.y_holdout))


def validate(
    model_name: str,
    version: str,
    dataset: str = config.DEFAULT_DATASET,
    metric: str = "accuracy",
    margin: float = 0.0,
    alias: str = config.DEFAULT_ALIAS,
    seed: int = data.DEFAULT_SEED,
    client: MlflowClient | None = None,
) -> GateResult:
    client = client or MlflowClient()
    get_scorer(metric)  # an unknown scorer fails before any model is downloaded
    rows = data.split(dataset, seed)
    candidate = score(model_name, version, rows, metric)
    champion_version = registry.alias_version(client, model_name, alias)
    if champion_version is None:
        return GateResult(True, str(version), candidate, None, None, metric, margin)
    champion = score(model_name, champion_version, rows, metric)
    # Compared with a small tolerance so that margin 0 means "at least as good" despite
    # floating-point noise in the scorer.
    passed = candidate - champion >= margin - 1e-12
    return GateResult(passed, str(version), candidate, champion_version, champion, metric, margin)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops.validate", description=__doc__)
    parser.add_argument("--model-name", default=config.model_name())
    parser.add_argument("--version", required=True)
    parser.add_argument("--alias", default=config.model_alias())
    parser.add_argument("--dataset", default=config.dataset())
    parser.add_argument("--seed", type=int, default=config.env_int("MLOPS_SEED", data.DEFAULT_SEED))
    parser.add_argument("--metric", default=config.env_str("MLOPS_GATE_METRIC", "accuracy"))
    parser.add_argument("--margin", type=float, default=config.env_float("MLOPS_GATE_MARGIN", 0.0))
    parser.add_argument("--record", action="store_true", help="write the verdict on the version")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits 2 on bad usage: the same "could not run" code
        return EXIT_ERROR if stop.code else EXIT_PASSED
    try:
        client = MlflowClient()
        result = validate(
            args.model_name,
            args.version,
            dataset=args.dataset,
            metric=args.metric,
            margin=args.margin,
            alias=args.alias,
            seed=args.seed,
            client=client,
        )
        if args.record:
            registry.record_gate(client, args.model_name, result)
    except Exception as error:  # the gate could not decide: neither pass nor reject
        print(f"error: the gate could not run: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(asdict(result)) if args.json else result.summary())
    return EXIT_PASSED if result.passed else EXIT_REJECTED


if __name__ == "__main__":
    raise SystemExit(main())
