"""The prediction service: BentoML, serving `models:/<name>@<alias>` from MLflow.

    MLFLOW_TRACKING_URI=http://mlflow:5000 bentoml serve mlops.service:ModelService --port 3000

At start it resolves the alias to a version and loads that version (so it knows exactly what
it serves); a new champion is picked up by restarting the Deployment, which the pipeline's
roll-out step does (mlops.rollout): new pods load the new version and become ready only then,
old ones keep serving until they are replaced. A failed load fails the pod's start, so a bad
version never takes traffic.

Endpoints (port 3000): POST /predict {"instances": [{"<feature>": <number>, ...}, ...]},
GET /livez, /readyz (ready once the model is loaded), /metrics (Prometheus: BentoML's own
bentoml_service_* series and the mlops_* series below).

Every row it predicts on is recorded for the drift check: to the object store when
MLOPS_S3_BUCKET is set (mlops.features), and as a per-feature summary metric.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

import bentoml
import mlflow.pyfunc
import numpy as np
import pandas as pd
from bentoml.exceptions import InvalidArgument
from mlflow import MlflowClient

from mlops import config, registry
from mlops.features import FeatureRecorder, FeatureStore

log = logging.getLogger(__name__)
MAX_INSTANCES = 1000
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class ServiceMetrics:
    requests: Any  # Counter: mlops_prediction_requests_total{model, version, outcome}
    latency: Any  # Histogram: mlops_prediction_latency_seconds{model, version}
    rows: Any  # Counter: mlops_predicted_rows_total{model, version}
    feature_value: Any  # Summary: mlops_feature_value{model, feature}
    model_info: Any  # Gauge: mlops_model_info{model, version, alias} = 1
    recorded_rows: Any  # Counter: mlops_feature_rows_recorded_total{model, outcome}


@functools.cache
def service_metrics() -> ServiceMetrics:
    """Created once per process, and only when the service starts: BentoML sets
    PROMETHEUS_MULTIPROC_DIR in its worker before that, and prometheus_client reads it when
    first imported, so that the metrics of every worker reach /metrics."""
    import prometheus_client as prom

    return ServiceMetrics(
        requests=prom.Counter(
            "mlops_prediction_requests",
            "Prediction requests by outcome: success, invalid_input (HTTP 400), error (500).",
            ["model", "version", "outcome"],
        ),
        latency=prom.Histogram(
            "mlops_prediction_latency_seconds",
            "Time to validate the input and predict, per request.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
        ),
        rows=prom.Counter(
            "mlops_predicted_rows",
            "Rows predicted (a request holds one or more).",
            ["model", "version"],
        ),
        feature_value=prom.Summary(
            "mlops_feature_value",
            "Input feature values seen (count and sum: the mean over any window).",
            ["model", "feature"],
        ),
        model_info=prom.Gauge(
            "mlops_model_info",
            "The model version this service serves (value 1).",
            ["model", "version", "alias"],
            multiprocess_mode="max",
        ),
        recorded_rows=prom.Counter(
            "mlops_feature_rows_recorded",
            "Feature rows sent to the object store for drift detection, by outcome: written, "
            "failed (kept for the next try), dropped (buffer full).",
            ["model", "outcome"],
        ),
    )


def load_model(model_name: str, alias: str) -> tuple[str, mlflow.pyfunc.PyFuncModel]:
    """Resolve the alias once, then load that exact version."""
    version = registry.alias_version(MlflowClient(), model_name, alias)
    if version is None:
        raise RuntimeError(f"registered model {model_name!r} has no {alias!r} alias yet")
    return version, mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")


@bentoml.service(name="mlops_model", workers=1, traffic={"timeout": 30})
class ModelService:
    def __init__(self) -> None:
        self.model_name = config.model_name()
        self.alias = config.model_alias()
        self.version, self.model = load_model(self.model_name, self.alias)
        schema = self.model.metadata.get_input_schema()
        if schema is None or not schema.has_input_names():
            raise RuntimeError(f"{self.model_name} version {self.version} has no input signature")
        self.features: list[str] = list(schema.input_names())
        self.metrics = service_metrics()
        self.metrics.model_info.labels(self.model_name, self.version, self.alias).set(1)
        self.feature_summaries = [
            self.metrics.feature_value.labels(self.model_name, name) for name in self.features
        ]
        self.recorder = self._recorder()
        log.info("serving %s version %s (%s)", self.model_name, self.version, self.alias)

    def _recorder(self) -> FeatureRecorder | None:
        store = FeatureStore.from_env()
        if store is None:
            log.warning("MLOPS_S3_BUCKET is not set: input features are not recorded for drift")
            return None
        return FeatureRecorder(
            store,
            self.model_name,
            self.features,
            flush_rows=config.env_int("MLOPS_RECORD_FLUSH_ROWS", 1000),
            flush_seconds=config.env_float("MLOPS_RECORD_FLUSH_SECONDS", 60.0),
            on_outcome=lambda outcome, n: self.metrics.recorded_rows.labels(
                self.model_name, outcome
            ).inc(n),
        ).start()

    def __is_ready__(self) -> bool:
        return self.model is not None

    @bentoml.on_shutdown
    def flush_recorded_features(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def _frame(self, instances: list[dict[str, float]]) -> pd.DataFrame:
        if not instances:
            raise InvalidArgument("instances is empty")
        if len(instances) > MAX_INSTANCES:
            raise InvalidArgument(f"at most {MAX_INSTANCES} instances per request")
        expected = set(self.features)
        for index, row in enumerate(instances):
            if row.keys() != expected:
                missing = sorted(expected - row.keys())
                unknown = sorted(row.keys() - expected)
                raise InvalidArgument(
                    f"instances[{index}]: missing features {missing}, unknown features {unknown}"
                )
        frame = pd.DataFrame.from_records(instances, columns=self.features).astype("float64")
        if not np.isfinite(frame.to_numpy()).all():
            raise InvalidArgument("feature values must be finite numbers")
        return frame

    @bentoml.api
    def predict(self, instances: list[dict[str, float]]) -> dict[str, Any]:
        """Predictions for a list of rows, each a mapping of every feature to its value."""
        started = time.perf_counter()
        labels = (self.model_name, self.version)
        try:
            frame = self._frame(instances)
            predictions = np.asarray(self.model.predict(frame))
        except InvalidArgument:
            self.metrics.requests.labels(*labels, "invalid_input").inc()
            raise
        except Exception:
            self.metrics.requests.labels(*labels, "error").inc()
            log.exception("prediction failed")
            raise
        self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
        self.metrics.requests.labels(*labels, "success").inc()
        self.metrics.rows.labels(*labels).inc(len(frame))
        values = frame.to_numpy()
        for summary, column in zip(self.feature_summaries, values.T, strict=True):
            for value in column:
                summary.observe(value)
        if self.recorder is not None:
            self.recorder.record(values)
        return {
            "model": self.model_name,
            "version": self.version,
            "predictions": predictions.tolist(),
        }
