"""Start a retraining run through the Kubeflow Pipelines REST API (v2beta1).

The requests are those of the kfp SDK's `Client.run_pipeline` (kfp 2.17, kfp-server-api
2.17): find the pipeline by display name (`GET /apis/v2beta1/pipelines` with a `display_name`
EQUALS filter), take its newest version (`GET /apis/v2beta1/pipelines/{id}/versions`, sorted
by `created_at desc`), and `POST /apis/v2beta1/runs` with a `pipeline_version_reference` and
a `runtime_config.parameters` map. Plain HTTP rather than the SDK client: the SDK's client
makes more calls on start (configuration, health) and needs more to fake in tests.

Before starting a run it lists recent runs: while one of the same pipeline is still pending
or running, no second one is started (a drift check every hour would otherwise queue a
retraining per hour until the first one finishes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

API = "/apis/v2beta1"
EQUALS = 1  # kfp's filter operation code (kfp.client.client._FILTER_OPERATIONS)
ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "CANCELING", "PAUSED"})
TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"  # the projected token, if mounted


class KfpError(RuntimeError):
    pass


@dataclass(frozen=True)
class RetrainOutcome:
    started: bool
    run_id: str | None
    reason: str


class KfpClient:
    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        namespace: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.namespace = namespace
        self.session = session or requests.Session()
        self.timeout = timeout
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def with_token_file(
        cls, endpoint: str, token_path: str | None = TOKEN_PATH, namespace: str | None = None
    ) -> KfpClient:
        """A client that authenticates with a service-account token when one is mounted (the
        multi-user Kubeflow distribution); standalone Kubeflow Pipelines needs none."""
        path = Path(token_path) if token_path else None
        token = path.read_text().strip() if path and path.is_file() else None
        return cls(endpoint, token=token, namespace=namespace)

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = self.session.request(
            method, f"{self.endpoint}{API}{path}", params=params, json=body, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise KfpError(f"{method} {API}{path}: HTTP {response.status_code}: {response.text}")
        return response.json() if response.content else {}

    def _scoped(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, "namespace": self.namespace} if self.namespace else params

    def pipeline_id(self, name: str) -> str:
        display_name = {
            "predicates": [{"operation": EQUALS, "key": "display_name", "stringValue": name}]
        }
        found = (
            self._call(
                "GET", "/pipelines", params=self._scoped({"filter": json.dumps(display_name)})
            ).get("pipelines")
            or []
        )
        if len(found) != 1:
            raise KfpError(f"expected one pipeline named {name!r}, found {len(found)}")
        return found[0]["pipeline_id"]

    def newest_version(self, pipeline_id: str) -> dict[str, Any] | None:
        found = (
            self._call(
                "GET",
                f"/pipelines/{pipeline_id}/versions",
                params={"page_size": 1, "sort_by": "created_at desc"},
            ).get("pipeline_versions")
            or []
        )
        return found[0] if found else None

    def latest_version_id(self, pipeline_id: str) -> str:
        version = self.newest_version(pipeline_id)
        if version is None:
            raise KfpError(f"pipeline {pipeline_id} has no version")
        return version["pipeline_version_id"]

    def active_runs(
        self, pipeline_id: str, experiment_id: str | None = None
    ) -> list[dict[str, Any]]:
        params = self._scoped({"page_size": 50, "sort_by": "created_at desc"})
        if experiment_id:
            params["experiment_id"] = experiment_id
        runs = self._call("GET", "/runs", params=params).get("runs") or []
        return [
            run
            for run in runs
            if run.get("state") in ACTIVE_STATES
            and (run.get("pipeline_version_reference") or {}).get("pipeline_id") == pipeline_id
        ]

    def create_run(
        self,
        display_name: str,
        pipeline_id: str,
        version_id: str,
        parameters: dict[str, Any],
        experiment_id: str | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        run: dict[str, Any] = {
            "display_name": display_name,
            "description": description,
            "pipeline_version_reference": {
                "pipeline_id": pipeline_id,
                "pipeline_version_id": version_id,
            },
            "runtime_config": {"parameters": parameters},
        }
        if experiment_id:
            run["experiment_id"] = experiment_id
        return self._call("POST", "/runs", body=run)


def start_retraining(
    client: KfpClient,
    pipeline_name: str,
    parameters: dict[str, Any],
    display_name: str,
    experiment_id: str | None = None,
    description: str = "",
) -> RetrainOutcome:
    pipeline_id = client.pipeline_id(pipeline_name)
    active = client.active_runs(pipeline_id, experiment_id)
    if active:
        return RetrainOutcome(False, active[0].get("run_id"), "a run of the pipeline is active")
    version_id = client.latest_version_id(pipeline_id)
    run = client.create_run(
        display_name, pipeline_id, version_id, parameters, experiment_id, description
    )
    return RetrainOutcome(True, run.get("run_id"), "started")
