"""Prediction latency of the BentoML service, through its ASGI app and a test client.

A local MLflow server (temporary SQLite database and artifact directory) gets a trained and
promoted model; the service loads it as in a pod, then answers a fixed number of requests:
one row per request, then 100 rows per request. Times are wall-clock per request, measured
around the client call (the whole HTTP stack in process: routing, validation, the model,
metrics), after a warm-up. Feature recording to S3 is off (it is an append to a buffer on the
request path; the upload happens in a background thread).

    .venv-mlops/bin/python benchmarks/serving.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# As under `bentoml serve`: metrics in process-shared files (set before prometheus_client loads).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-prom-"))
os.environ.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", BENTOML_DO_NOT_TRACK="true")
os.environ.pop("MLOPS_S3_BUCKET", None)

import mlflow
from mlflow import MlflowClient
from starlette.testclient import TestClient

from mlops import data, registry, train, validate
from tests.mlops.fixtures import start_mlflow_server, stop_group

MODEL = "bench-classifier"
WARMUP = 100


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(client: TestClient, body: dict, count: int) -> list[float]:
    for _ in range(WARMUP):
        assert client.post("/predict", json=body).status_code == 200
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post("/predict", json=body)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, uri = start_mlflow_server(Path(tmp))
        try:
            os.environ["MLFLOW_TRACKING_URI"] = uri
            os.environ["MLOPS_MODEL_NAME"] = MODEL
            mlflow.set_tracking_uri(uri)
            result = train.train(MODEL, params={"C": 1.0})
            client = MlflowClient()
            registry.record_gate(client, MODEL, validate.validate(MODEL, result.version))
            registry.promote(client, MODEL, result.version)

            from mlops.service import ModelService

            holdout = data.split("breast_cancer").x_holdout
            one = {"instances": holdout.head(1).to_dict(orient="records")}
            hundred = {
                "instances": holdout.sample(100, replace=True, random_state=0).to_dict(
                    orient="records"
                )
            }
            with TestClient(ModelService.to_asgi()) as service:
                rows = [
                    ("1 row", measure(service, one, args.requests)),
                    ("100 rows", measure(service, hundred, args.requests // 4)),
                ]
        finally:
            stop_group(server)

    print(f"BentoML service /predict through the ASGI test client, {WARMUP} warm-up requests each")
    print(
        f"(scikit-learn logistic regression on 30 features, MLflow pyfunc, Python {sys.version.split()[0]})"
    )
    print(
        f"{'request':<10} {'requests':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'req/s':>7}"
    )
    for label, times in rows:
        print(
            f"{label:<10} {len(times):>8} {percentile(times, 50) * 1e3:>8.2f} "
            f"{percentile(times, 90) * 1e3:>8.2f} {percentile(times, 99) * 1e3:>8.2f} "
            f"{statistics.fmean(times) * 1e3:>8.2f} {len(times) / sum(times):>7.0f}"
        )


if __name__ == "__main__":
    main()
