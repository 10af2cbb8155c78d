"""The drift decision both ways, the multiple-testing correction, and the whole check as the
CronJob runs it: reference from MLflow, recent rows from S3, metrics to a Pushgateway, and a
retraining run started through the Kubeflow Pipelines API."""

from __future__ import annotations

import json
from urllib.parse import unquote

import boto3
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import ks_2samp

from mlops import data, drift, registry, train, validate
from mlops.features import FeatureStore
from tests.mlops.fixtures import MODEL

rng = np.random.default_rng(7)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return data.split("breast_cancer").x_train


def same_distribution(rows: int) -> pd.DataFrame:
    """New rows from the population the training rows came from (resampled from all rows)."""
    x, _ = data.load("breast_cancer")
    return x.sample(rows, replace=True, random_state=11).reset_index(drop=True)


def test_no_drift_on_rows_from_the_training_population(reference):
    report = drift.detect(reference, same_distribution(2000))
    assert report.decided
    assert not report.drifted, report.drifted_features
    assert len(report.features) == 30


def test_drift_on_a_shifted_feature(reference):
    recent = same_distribution(2000)
    recent["mean_radius"] += recent["mean_radius"].std()  # one standard deviation
    report = drift.detect(reference, recent)
    assert report.drifted
    assert report.drifted_features == ["mean_radius"]
    radius = next(f for f in report.features if f.feature == "mean_radius")
    assert radius.statistic > 0.3 and radius.p_value < 1e-10


def test_a_tiny_shift_is_significant_but_not_drift():
    """With large samples a shift of 5% of a standard deviation has a tiny p-value; the
    statistic threshold keeps it from triggering a retraining."""
    reference = pd.DataFrame({"x": rng.normal(size=50_000), "y": rng.normal(size=50_000)})
    recent = pd.DataFrame({"x": rng.normal(0.05, size=100_000), "y": rng.normal(size=100_000)})
    significant = drift.detect(reference, recent, min_statistic=0.0)
    assert significant.drifted_features == ["x"]
    x = significant.features[0]
    assert x.p_value < 1e-6 and x.statistic < 0.05
    assert not drift.detect(reference, recent, min_statistic=0.1).drifted


def test_too_few_rows_decide_nothing(reference):
    report = drift.detect(reference, same_distribution(50), min_samples=200)
    assert not report.decided and not report.drifted and report.features == []


def test_holm_by_hand():
    # sorted: 0.001 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2 stops: the rest are kept
    assert drift.holm([0.03, 0.001, 0.04, 0.01], 0.05) == [False, True, False, True]
    assert drift.holm([0.2, 0.3], 0.05) == [False, False]
    assert drift.holm([0.01, 0.02], 0.05) == [True, True]  # 0.01 <= 0.025, 0.02 <= 0.05


def test_holm_keeps_false_alarms_at_alpha():
    """30 features with no drift, 200 checks: uncorrected tests alarm on most checks, Holm on
    about alpha of them."""
    naive = corrected = 0
    for _ in range(200):
        ref = rng.normal(size=(300, 30))
        new = rng.normal(size=(300, 30))
        p = [ks_2samp(ref[:, i], new[:, i]).pvalue for i in range(30)]
        naive += any(v < 0.05 for v in p)
        corrected += any(drift.holm(p, 0.05))
    assert naive / 200 > 0.5
    assert corrected / 200 <= 0.1


def test_the_cronjob_check(tracking, s3_server, fake_api, tmp_path, monkeypatch, capsys):
    name = f"{MODEL}-drift"
    client = MlflowClient()
    result = train.train(name, params={"C": 1.0})
    registry.record_gate(client, name, validate.validate(name, result.version))
    registry.promote(client, name, result.version)

    bucket = "drift-test"
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket)
    for key, val in {
        "MLOPS_MODEL_NAME": name,
        "MLOPS_S3_ENDPOINT_URL": s3_server,
        "MLOPS_S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "MLOPS_PUSHGATEWAY_URL": fake_api.url,
        "MLOPS_KFP_ENDPOINT": fake_api.url,
        "MLOPS_KFP_PIPELINE_NAME": "mlops-retrain",
        "MLOPS_KFP_PIPELINE_PARAMS": json.dumps({"model_name": name}),
        "KF_PIPELINES_SA_TOKEN_PATH": str(tmp_path / "no-token"),
    }.items():
        monkeypatch.setenv(key, val)
    store = FeatureStore.from_env()
    columns = data.split("breast_cancer").features
    pushed = f"/metrics/job/mlops-drift/model/{name}"
    fake_api.route("PUT", pushed, {})
    fake_api.route("GET", "/apis/v2beta1/pipelines", {"pipelines": [{"pipeline_id": "p-1"}]})
    fake_api.route(
        "GET",
        "/apis/v2beta1/pipelines/p-1/versions",
        {"pipeline_versions": [{"pipeline_version_id": "v-2"}]},
    )
    fake_api.route("GET", "/apis/v2beta1/runs", {})
    fake_api.route("POST", "/apis/v2beta1/runs", {"run_id": "r-3"})

    capsys.readouterr()  # MLflow's links to the runs

    # Undrifted inputs: metrics pushed, no run started.
    store.write(name, columns, same_distribution(1000).to_numpy())
    assert drift.main(["--metrics-file", str(tmp_path / "drift.prom")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["decided"] and not summary["drifted"] and summary["retraining"] is None
    assert summary["n_recent"] == 1000 and summary["reference_version"] == result.version
    assert [(r.method, unquote(r.path)) for r in fake_api.requests] == [("PUT", pushed)]
    families = {f.name: f for f in text_string_to_metric_families(fake_api.requests[0].body)}
    assert families["mlops_drift_detected"].samples[0].value == 0
    assert "model" not in families["mlops_drift_detected"].samples[0].labels  # grouping key
    assert len(families["mlops_drift_ks_statistic"].samples) == 30
    written = (tmp_path / "drift.prom").read_text()
    assert f'mlops_drift_detected{{model="{name}"}} 0.0' in written

    # Drifted inputs, newer: a retraining run is started and the metrics say so.
    fake_api.requests.clear()
    shifted = same_distribution(3000)
    shifted["mean_texture"] *= 1.5
    store.write(name, columns, shifted.to_numpy())
    assert drift.main(["--max-rows", "3000"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["drifted"] and summary["drifted_features"] == ["mean_texture"]
    assert summary["retraining"] == {"started": True, "run_id": "r-3", "reason": "started"}
    calls = [(r.method, r.path) for r in fake_api.requests]
    assert calls[:4] == [
        ("GET", "/apis/v2beta1/pipelines"),
        ("GET", "/apis/v2beta1/runs"),
        ("GET", "/apis/v2beta1/pipelines/p-1/versions"),
        ("POST", "/apis/v2beta1/runs"),
    ]
    run = fake_api.requests[3].body
    assert run["pipeline_version_reference"] == {"pipeline_id": "p-1", "pipeline_version_id": "v-2"}
    assert run["runtime_config"] == {"parameters": {"model_name": name}}
    assert run["description"] == "drifted features: mean_texture"
    assert "Authorization" not in fake_api.requests[3].headers  # no token file mounted
    families = {f.name: f for f in text_string_to_metric_families(fake_api.requests[4].body)}
    assert families["mlops_drift_detected"].samples[0].value == 1
    assert families["mlops_drift_retraining_started"].samples[0].value == 1
    texture = [
        s
        for s in families["mlops_drift_feature_drifted"].samples
        if s.labels["feature"] == "mean_texture"
    ]
    assert texture[0].value == 1

    # The KFP API fails: the metrics still reach the Pushgateway, and the Job fails (exit 1).
    fake_api.requests.clear()
    fake_api.route("POST", "/apis/v2beta1/runs", {"error": "unavailable"}, status=503)
    assert drift.main(["--max-rows", "3000"]) == 1
    assert ("PUT", pushed) in [(r.method, unquote(r.path)) for r in fake_api.requests]
    families = {f.name: f for f in text_string_to_metric_families(fake_api.requests[-1].body)}
    assert families["mlops_drift_detected"].samples[0].value == 1
    assert families["mlops_drift_retraining_started"].samples[0].value == 0


def test_the_check_fails_clearly_without_a_bucket(tracking, monkeypatch, caplog):
    monkeypatch.delenv("MLOPS_S3_BUCKET", raising=False)
    assert drift.main([]) == 1
    assert "MLOPS_S3_BUCKET is not set" in caplog.text
