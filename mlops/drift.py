"""Drift check: do the inputs the service saw recently come from the training distribution?

    python -m mlops.drift            # what the CronJob runs; settings from the environment

For each feature, a two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp) of the recent
rows (the object store, mlops.features) against the champion's training rows (logged with its
MLflow run, mlops.train). A feature drifts when both hold:

- its p-value is rejected by the Holm-Bonferroni procedure at MLOPS_DRIFT_ALPHA (default 0.05)
  over all features: testing 30 features at 0.05 each would raise a false alarm on most checks
  (1 - 0.95^30 = 79%); Holm keeps the chance of any false alarm per check at alpha, like
  Bonferroni, and rejects more when several features really moved;
- its KS statistic (the largest gap between the two empirical distribution functions) is at
  least MLOPS_DRIFT_MIN_STATISTIC (default 0.1): with tens of thousands of rows, shifts too
  small to matter are "significant", and retraining for them is waste.

With fewer than MLOPS_DRIFT_MIN_SAMPLES recent rows (default 200) it decides nothing.

The results go to a Prometheus Pushgateway (MLOPS_PUSHGATEWAY_URL; job `mlops-drift`, grouped
by `model`): a CronJob's pod is gone before Prometheus would scrape it. On drift it starts the
retraining pipeline through the Kubeflow Pipelines API (mlops.retrain), unless one is running.

Exit codes: 0 the check ran (drift or not), 1 it could not run, or found drift but could not
start the retraining (its metrics are pushed first).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile
from scipy.stats import ks_2samp

from mlops import config, registry, retrain, train
from mlops.features import FeatureStore

log = logging.getLogger(__name__)
PUSH_JOB = "mlops-drift"


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    statistic: float
    p_value: float
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    n_reference: int
    n_recent: int
    alpha: float
    min_statistic: float
    decided: bool  # False: too few recent rows to say
    features: list[FeatureDrift] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return any(f.drifted for f in self.features)

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Holm-Bonferroni: which hypotheses are rejected, family-wise error rate `alpha`.

    Sorted ascending, p_(k) is compared with alpha / (m - k) (k from 0); rejection stops at the
    first p-value over its bound."""
    m = len(p_values)
    rejected = [False] * m
    for k, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        if p_values[index] > alpha / (m - k):
            break
        rejected[index] = True
    return rejected


def detect(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    alpha: float = 0.05,
    min_statistic: float = 0.1,
    min_samples: int = 200,
) -> DriftReport:
    """Per-feature KS tests of `recent` against `reference` (the reference's columns)."""
    if len(recent) < min_samples:
        return DriftReport(len(reference), len(recent), alpha, min_statistic, decided=False)
    missing = [c for c in reference.columns if c not in recent.columns]
    if missing:
        raise ValueError(f"recent rows lack features {missing}")
    features = list(reference.columns)
    tests = [
        ks_2samp(
            reference[name].to_numpy(dtype=float),
            recent[name].to_numpy(dtype=float),
            nan_policy="omit",
        )
        for name in features
    ]
    rejected = holm([float(t.pvalue) for t in tests], alpha)
    return DriftReport(
        len(reference),
        len(recent),
        alpha,
        min_statistic,
        decided=True,
        features=[
            FeatureDrift(
                name,
                float(t.statistic),
                float(t.pvalue),
                bool(reject and t.statistic >= min_statistic),
            )
            for name, t, reject in zip(features, tests, rejected, strict=True)
        ],
    )


def metrics(
    report: DriftReport,
    model: str,
    version: str,
    retraining: retrain.RetrainOutcome | None,
    with_model_label: bool,
) -> CollectorRegistry:
    """The check's results as Prometheus gauges. Pushed, the `model` label comes from the
    grouping key (a pushed metric must not carry a grouping label itself)."""
    reg = CollectorRegistry()
    model_label = {"model": model} if with_model_label else {}

    def gauge(name: str, doc: str, value: float | None = None, *labels: str) -> Gauge:
        metric = Gauge(name, doc, [*model_label, *labels], registry=reg)
        if value is not None:
            (metric.labels(**model_label) if model_label else metric).set(value)
        return metric

    gauge("mlops_drift_last_run_timestamp_seconds", "When the check last ran.", time.time())
    gauge("mlops_drift_decided", "1 when there were enough recent rows to decide.", report.decided)
    gauge("mlops_drift_detected", "1 when at least one feature drifted.", report.drifted)
    gauge(
        "mlops_drift_reference_version",
        "The model version whose training rows are the reference.",
        float(version),
    )
    gauge(
        "mlops_drift_retraining_started",
        "1 when this check started a retraining run.",
        bool(retraining and retraining.started),
    )
    samples = gauge(
        "mlops_drift_samples", "Rows compared, by set: reference or recent.", None, "set"
    )
    samples.labels(**model_label, set="reference").set(report.n_reference)
    samples.labels(**model_label, set="recent").set(report.n_recent)
    statistic = gauge("mlops_drift_ks_statistic", "KS statistic per feature.", None, "feature")
    p_value = gauge("mlops_drift_p_value", "KS p-value per feature (before Holm).", None, "feature")
    drifted = gauge("mlops_drift_feature_drifted", "1 when the feature drifted.", None, "feature")
    for result in report.features:
        statistic.labels(**model_label, feature=result.feature).set(result.statistic)
        p_value.labels(**model_label, feature=result.feature).set(result.p_value)
        drifted.labels(**model_label, feature=result.feature).set(result.drifted)
    return reg


def load_reference(client: MlflowClient, model: str, alias: str) -> tuple[str, pd.DataFrame]:
    """The champion's version and its training rows (logged by mlops.train)."""
    version = registry.alias_version(client, model, alias)
    if version is None:
        raise RuntimeError(f"{model} has no {alias!r} alias: nothing is served, nothing to check")
    run_id = client.get_model_version(model, version).run_id
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=train.REFERENCE_ARTIFACT, dst_path=tmp
        )
        return version, pd.read_csv(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops.drift", description=__doc__)
    parser.add_argument("--model-name", default=config.model_name())
    parser.add_argument("--alias", default=config.model_alias())
    parser.add_argument(
        "--window-hours", type=float, default=config.env_float("MLOPS_DRIFT_WINDOW_HOURS", 24.0)
    )
    parser.add_argument(
        "--max-rows", type=int, default=config.env_int("MLOPS_DRIFT_MAX_ROWS", 100_000)
    )
    parser.add_argument("--alpha", type=float, default=config.env_float("MLOPS_DRIFT_ALPHA", 0.05))
    parser.add_argument(
        "--min-statistic", type=float, default=config.env_float("MLOPS_DRIFT_MIN_STATISTIC", 0.1)
    )
    parser.add_argument(
        "--min-samples", type=int, default=config.env_int("MLOPS_DRIFT_MIN_SAMPLES", 200)
    )
    parser.add_argument("--pushgateway", default=config.env_str("MLOPS_PUSHGATEWAY_URL"))
    parser.add_argument("--metrics-file", type=Path, help="also write the metrics here (.prom)")
    parser.add_argument("--kfp-endpoint", default=config.env_str("MLOPS_KFP_ENDPOINT"))
    parser.add_argument("--pipeline-name", default=config.env_str("MLOPS_KFP_PIPELINE_NAME"))
    parser.add_argument("--experiment-id", default=config.env_str("MLOPS_KFP_EXPERIMENT_ID"))
    parser.add_argument("--kfp-namespace", default=config.env_str("MLOPS_KFP_NAMESPACE"))
    parser.add_argument(
        "--pipeline-params",
        default=config.env_str("MLOPS_KFP_PIPELINE_PARAMS", "{}"),
        help="JSON object of the retraining run's parameters",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        parameters = json.loads(args.pipeline_params)
        if not isinstance(parameters, dict):
            raise ValueError("MLOPS_KFP_PIPELINE_PARAMS must be a JSON object")
        if args.kfp_endpoint and not args.pipeline_name:
            raise config.ConfigError("MLOPS_KFP_PIPELINE_NAME is required with MLOPS_KFP_ENDPOINT")
        store = FeatureStore.from_env()
        if store is None:
            raise config.ConfigError("MLOPS_S3_BUCKET is not set: there are no recorded inputs")
        version, reference = load_reference(MlflowClient(), args.model_name, args.alias)
        now = datetime.now(UTC)
        recent = store.read_recent(
            args.model_name, since=now - timedelta(hours=args.window_hours), max_rows=args.max_rows
        )
        report = detect(reference, recent, args.alpha, args.min_statistic, args.min_samples)

        outcome, retrain_error = None, None
        if report.drifted and args.kfp_endpoint:
            client = retrain.KfpClient.with_token_file(
                args.kfp_endpoint,
                config.env_str("KF_PIPELINES_SA_TOKEN_PATH", retrain.TOKEN_PATH),
                args.kfp_namespace,
            )
            try:
                outcome = retrain.start_retraining(
                    client,
                    args.pipeline_name,
                    parameters,
                    display_name=f"retrain {args.model_name} (drift {now:%Y-%m-%d %H:%M} UTC)",
                    experiment_id=args.experiment_id,
                    description="drifted features: " + ", ".join(report.drifted_features),
                )
            except (retrain.KfpError, OSError) as error:  # the metrics still go out
                retrain_error = error
        elif report.drifted:
            log.warning("drift detected but MLOPS_KFP_ENDPOINT is not set: no retraining started")

        if args.pushgateway:
            push_to_gateway(
                args.pushgateway,
                job=PUSH_JOB,
                grouping_key={"model": args.model_name},
                registry=metrics(report, args.model_name, version, outcome, with_model_label=False),
            )
        if args.metrics_file:
            write_to_textfile(
                str(args.metrics_file),
                metrics(report, args.model_name, version, outcome, with_model_label=True),
            )
        if retrain_error is not None:
            raise RuntimeError(f"drift detected, but no retraining started: {retrain_error}")
    except Exception as error:
        log.error("the drift check could not run: %s", error)
        return 1
    summary = {
        "model": args.model_name,
        "reference_version": version,
        "decided": report.decided,
        "drifted": report.drifted,
        "drifted_features": report.drifted_features,
        "n_reference": report.n_reference,
        "n_recent": report.n_recent,
        "retraining": None if outcome is None else asdict(outcome),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
