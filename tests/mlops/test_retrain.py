"""The Kubeflow Pipelines REST client, against a local HTTP server: the requests it sends, and
that they are the ones the kfp SDK's own client sends for the same operations."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import kfp
import pytest

from mlops import retrain

PIPELINE = {"pipeline_id": "p-123", "display_name": "mlops-retrain"}
VERSION = {"pipeline_id": "p-123", "pipeline_version_id": "v-456"}


def kfp_routes(api, runs=()):
    api.route("GET", "/apis/v2beta1/healthz", {"multi_user": False})
    api.route("GET", "/apis/v2beta1/pipelines", {"pipelines": [PIPELINE], "total_size": 1})
    api.route("GET", "/apis/v2beta1/pipelines/p-123/versions", {"pipeline_versions": [VERSION]})
    api.route("GET", "/apis/v2beta1/runs", {"runs": list(runs)})
    api.route(
        "POST",
        "/apis/v2beta1/runs",
        lambda request: (200, {**request.body, "run_id": "r-789", "state": "PENDING"}),
    )


def test_starts_a_run_of_the_newest_version(fake_api):
    kfp_routes(
        fake_api,
        runs=[{"run_id": "old", "state": "SUCCEEDED", "pipeline_version_reference": VERSION}],
    )
    client = retrain.KfpClient(fake_api.url, token="t0ken")
    outcome = retrain.start_retraining(
        client,
        "mlops-retrain",
        {"model_name": "m", "dataset": "breast_cancer"},
        display_name="retrain m",
        experiment_id="e-1",
        description="drifted features: mean_radius",
    )
    assert outcome == retrain.RetrainOutcome(True, "r-789", "started")

    find, runs, versions, create = fake_api.requests
    assert (find.method, find.path) == ("GET", "/apis/v2beta1/pipelines")
    assert json.loads(parse_qs(find.query)["filter"][0]) == {
        "predicates": [{"operation": 1, "key": "display_name", "stringValue": "mlops-retrain"}]
    }
    assert (versions.method, versions.path) == ("GET", "/apis/v2beta1/pipelines/p-123/versions")
    assert parse_qs(versions.query) == {"page_size": ["1"], "sort_by": ["created_at desc"]}
    assert (runs.method, runs.path) == ("GET", "/apis/v2beta1/runs")
    assert parse_qs(runs.query)["experiment_id"] == ["e-1"]
    assert (create.method, create.path) == ("POST", "/apis/v2beta1/runs")
    assert create.headers["Authorization"] == "Bearer t0ken"
    assert create.headers["Content-Type"] == "application/json"
    assert create.body == {
        "display_name": "retrain m",
        "description": "drifted features: mean_radius",
        "pipeline_version_reference": {"pipeline_id": "p-123", "pipeline_version_id": "v-456"},
        "runtime_config": {"parameters": {"model_name": "m", "dataset": "breast_cancer"}},
        "experiment_id": "e-1",
    }


def test_no_second_run_while_one_is_active(fake_api):
    active = {"run_id": "busy", "state": "RUNNING", "pipeline_version_reference": VERSION}
    other = {
        "run_id": "x",
        "state": "RUNNING",
        "pipeline_version_reference": {"pipeline_id": "p-other"},
    }
    kfp_routes(fake_api, runs=[other, active])
    outcome = retrain.start_retraining(
        retrain.KfpClient(fake_api.url), "mlops-retrain", {}, display_name="retrain"
    )
    assert outcome == retrain.RetrainOutcome(False, "busy", "a run of the pipeline is active")
    assert [r.method for r in fake_api.requests] == ["GET", "GET"]


def test_errors_name_the_request(fake_api):
    fake_api.route("GET", "/apis/v2beta1/pipelines", {"pipelines": []})
    with pytest.raises(retrain.KfpError, match="expected one pipeline named 'nope', found 0"):
        retrain.KfpClient(fake_api.url).pipeline_id("nope")
    fake_api.route("GET", "/apis/v2beta1/pipelines", {"error": "denied"}, status=403)
    with pytest.raises(retrain.KfpError, match="GET /apis/v2beta1/pipelines: HTTP 403"):
        retrain.KfpClient(fake_api.url).pipeline_id("nope")


def test_same_requests_as_the_kfp_sdk(fake_api):
    """The SDK's Client.get_pipeline_id, list_pipeline_versions and run_pipeline against the same
    server: method, path, query and body must match ours."""
    kfp_routes(fake_api)
    sdk = kfp.Client(host=fake_api.url)
    fake_api.requests.clear()
    assert sdk.get_pipeline_id("mlops-retrain") == "p-123"
    sdk.list_pipeline_versions("p-123", page_size=1, sort_by="created_at desc")
    sdk.run_pipeline(
        experiment_id="e-1",
        job_name="retrain m",
        params={"model_name": "m"},
        pipeline_id="p-123",
        version_id="v-456",
    )
    theirs = list(fake_api.requests)
    fake_api.requests.clear()

    ours_client = retrain.KfpClient(fake_api.url)
    assert ours_client.pipeline_id("mlops-retrain") == "p-123"
    ours_client.latest_version_id("p-123")
    ours_client.create_run("retrain m", "p-123", "v-456", {"model_name": "m"}, experiment_id="e-1")
    ours = list(fake_api.requests)

    assert [(r.method, r.path) for r in ours] == [(r.method, r.path) for r in theirs]
    for mine, sdks in zip(ours, theirs, strict=True):
        assert parse_qs(mine.query) == parse_qs(sdks.query)  # blank values (page_token=) aside
    # The SDK sends the fields it sets (no description, pipeline_root unset), we send an
    # empty description: compare the fields both set.
    sdk_body, our_body = theirs[-1].body, ours[-1].body
    assert {k: v for k, v in our_body.items() if k != "description"} == sdk_body
