"""Fixtures that run the loop for real on this machine: an MLflow tracking server on a
temporary SQLite database and artifact directory, a local S3 (moto's server), and a recording
HTTP server standing in for the Kubeflow Pipelines and Kubernetes APIs.

Run with the mlops virtualenv: `.venv-mlops/bin/python -m pytest tests/mlops`. In the Pulumi
program's virtualenv, which lacks these dependencies, this directory is not collected.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile

REQUIRED = ("mlflow", "bentoml", "kfp", "moto")
if not all(importlib.util.find_spec(name) for name in REQUIRED):
    collect_ignore_glob = ["test_*.py"]
else:
    # Before anything imports prometheus_client: the service's metrics are process-shared
    # files, as under `bentoml serve`, so /metrics reads them the way it does in production.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="mlops-prom-"))
    # No usage reports from MLflow (client, and the test server, which inherits this) or BentoML.
    os.environ.update(
        MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", BENTOML_DO_NOT_TRACK="true"
    )
    from tests.mlops.fixtures import *  # noqa: F403

    def pytest_configure(config) -> None:
        """Deprecation notices from inside the libraries (BentoML on Pydantic and pathspec,
        kfp's local runner and client, Starlette's test client): not ours to fix."""
        for line in (
            "ignore::DeprecationWarning:_bentoml_sdk.*",
            "ignore::DeprecationWarning:_bentoml_impl.*",
            "ignore::DeprecationWarning:pathspec.*",
            "ignore::RuntimeWarning:kfp.local.*",
            "ignore::UserWarning:kfp.local.*",
            "ignore::FutureWarning:kfp.client.*",
            "ignore:Using `httpx` with `starlette.testclient` is deprecated",
        ):
            config.addinivalue_line("filterwarnings", line)
