"""The BentoML service through its ASGI app: model loading, predictions, probes, metrics,
and the feature rows it records to the object store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import bentoml
import boto3
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from mlops import data, registry, train, validate
from mlops.features import FeatureStore
from tests.mlops.fixtures import MODEL

NAME = f"{MODEL}-service"
BUCKET = "mlops-test"


@pytest.fixture(scope="module")
def champion(tracking) -> str:
    client = MlflowClient()
    result = train.train(NAME, params={"C": 1.0})
    registry.record_gate(client, NAME, validate.validate(NAME, result.version))
    registry.promote(client, NAME, result.version)
    return result.version


@pytest.fixture(scope="module")
def s3_env(s3_server) -> Iterator[dict[str, str]]:
    env = {
        "MLOPS_S3_ENDPOINT_URL": s3_server,
        "MLOPS_S3_BUCKET": BUCKET,
        "MLOPS_S3_PREFIX": "inputs",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
    boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield env


@pytest.fixture(scope="module")
def service(champion, s3_env) -> Iterator[TestClient]:
    patch = pytest.MonkeyPatch()
    patch.setenv("MLOPS_MODEL_NAME", NAME)
    patch.setenv("MLOPS_RECORD_FLUSH_SECONDS", "3600")  # flushed by the test, or at shutdown
    for key, value in s3_env.items():
        patch.setenv(key, value)
    from mlops.service import ModelService

    with TestClient(ModelService.to_asgi()) as client:
        yield client
    patch.undo()


def rows(count: int) -> list[dict[str, float]]:
    holdout = data.split("breast_cancer").x_holdout
    return holdout.head(count).to_dict(orient="records")


def metric_samples(client: TestClient) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "pid"}
            samples[(sample.name, frozenset(labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_probes(service):
    assert service.get("/livez").status_code == 200
    assert service.get("/readyz").status_code == 200


def test_predicts_with_the_champion(service, champion):
    instances = rows(20)
    response = service.post("/predict", json={"instances": instances})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == NAME and body["version"] == champion
    model = mlflow.sklearn.load_model(f"models:/{NAME}/{champion}")
    expected = model.predict(pd.DataFrame.from_records(instances)).tolist()
    assert body["predictions"] == expected
    # The champion is a good model: it gets these held-out rows (nearly) right.
    truth = data.split("breast_cancer").y_holdout.head(20).tolist()
    assert sum(p == t for p, t in zip(body["predictions"], truth, strict=True)) >= 19


def test_metrics_count_requests_latency_errors_and_features(service, champion):
    before = metric_samples(service)
    labels = {"model": NAME, "version": champion}
    instances = rows(5)
    assert service.post("/predict", json={"instances": instances}).status_code == 200
    assert service.post("/predict", json={"instances": instances[:2]}).status_code == 200
    broken = [{k: v for k, v in instances[0].items() if k != "mean_radius"}]
    bad = service.post("/predict", json={"instances": broken})
    assert bad.status_code == 400
    assert "mean_radius" in bad.text
    assert service.post("/predict", json={"instances": []}).status_code == 400
    after = metric_samples(service)

    def delta(name: str, **extra: str) -> float:
        return value(after, name, **extra) - value(before, name, **extra)

    assert delta("mlops_prediction_requests_total", **labels, outcome="success") == 2
    assert delta("mlops_prediction_requests_total", **labels, outcome="invalid_input") == 2
    assert delta("mlops_predicted_rows_total", **labels) == 7
    assert delta("mlops_prediction_latency_seconds_count", **labels) == 2
    assert delta("mlops_prediction_latency_seconds_bucket", **labels, le="+Inf") == 2
    assert delta("mlops_prediction_latency_seconds_sum", **labels) > 0
    assert value(after, "mlops_model_info", model=NAME, version=champion, alias="champion") == 1
    # The per-feature summary: 7 values of mean_radius, their sum.
    assert delta("mlops_feature_value_count", model=NAME, feature="mean_radius") == 7
    expected = sum(r["mean_radius"] for r in instances) + sum(
        r["mean_radius"] for r in instances[:2]
    )
    assert delta("mlops_feature_value_sum", model=NAME, feature="mean_radius") == pytest.approx(
        expected
    )
    # BentoML's own HTTP metrics are there too, with the status codes.
    assert any(
        name == "bentoml_service_request_total" and ("http_response_code", "400") in key
        for name, key in after
    )


def test_records_features_to_the_object_store(service):
    """The rows a replica predicts on reach the bucket when it flushes (every
    MLOPS_RECORD_FLUSH_SECONDS, on a full buffer, at shutdown), and the drift job's reader gets
    them back intact."""
    instances = rows(30)
    started = datetime.now(UTC) - timedelta(seconds=1)
    store = FeatureStore.from_env()
    assert store is not None
    recorder = bentoml.get_current_service().recorder
    recorder.flush()  # what earlier tests sent
    stored = len(store.read_recent(NAME, since=started))
    assert service.post("/predict", json={"instances": instances[:10]}).status_code == 200
    assert service.post("/predict", json={"instances": instances[10:]}).status_code == 200
    assert len(store.read_recent(NAME, since=started)) == stored  # still buffered
    assert recorder.flush() == 30
    assert len(store.read_recent(NAME, since=started)) == stored + 30
    recent = store.read_recent(NAME, since=started, max_rows=30)  # the newest object
    assert list(recent.columns) == data.split("breast_cancer").features
    # One object: rows in the order they were sent, values exact.
    np.testing.assert_array_equal(recent.to_numpy(), pd.DataFrame.from_records(instances))
    samples = metric_samples(service)
    assert value(samples, "mlops_feature_rows_recorded_total", model=NAME, outcome="written") >= 30


def test_exported_metrics_are_the_documented_ones(service):
    """docs/mlops.md's service metrics table lists exactly the mlops_* families /metrics has,
    and BentoML's families it names are there."""
    from tests.mlops.test_contract import documented_metrics

    service.post("/predict", json={"instances": rows(1)})
    families = {f.name for f in text_string_to_metric_families(service.get("/metrics").text)}
    # (mlops_drift_* series here come from drift tests in this process: the multiprocess
    # files are shared, as they are not between the service and the drift job's pod.)
    service_families = {f for f in families if f.startswith("mlops_") and "drift" not in f}
    assert service_families == documented_metrics("mlops_(?!drift_)")
    assert documented_metrics("bentoml_") <= families
