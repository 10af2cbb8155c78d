"""Publishing the pipeline: uploads against a fake Kubeflow Pipelines API that keeps what it is
sent (a new pipeline the first time, a version after, none for a spec already newest), the
requests compared with the kfp SDK's own, and the first run started only without a champion."""

from __future__ import annotations

import email.parser
import email.policy
import json
from itertools import count
from pathlib import Path
from urllib.parse import parse_qs

import kfp
import pytest
from mlflow import MlflowClient

from mlops import pipeline, publish, registry, train
from tests.mlops.fixtures import MODEL

IMAGE_A = "registry.test/mlops-train:a"
IMAGE_B = "registry.test/mlops-train:b"


def multipart(request) -> dict[str, tuple[str | None, str, bytes]]:
    """The parts of a multipart/form-data request: name -> (filename, type, content)."""
    raw = request.body.encode() if isinstance(request.body, str) else request.body
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


class FakeKfp:
    """The pipeline and run endpoints of the KFP API, as a store of what was uploaded."""

    def __init__(self, api) -> None:
        self.api = api
        self.pipelines: dict[str, dict] = {}
        self.versions: dict[str, list[dict]] = {}
        self.runs: list[dict] = []
        self.ids = count(1)
        api.route("GET", "/apis/v2beta1/healthz", {"multi_user": False})
        api.route("GET", "/apis/v2beta1/pipelines", self.list_pipelines)
        api.route("POST", "/apis/v2beta1/pipelines/upload", self.upload)
        api.route("POST", "/apis/v2beta1/pipelines/upload_version", self.upload_version)
        api.route("GET", "/apis/v2beta1/runs", lambda _: (200, {"runs": self.runs}))
        api.route("POST", "/apis/v2beta1/runs", self.create_run)

    def _version(self, pipeline_id: str, query: dict, spec: bytes) -> dict:
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": f"v-{next(self.ids)}",
            "name": query["name"][0],
            "display_name": query["name"][0],
            "description": query.get("description", [""])[0],
            "created_at": f"2026-11-29T10:00:{next(self.ids):02d}Z",
            "spec": spec,
        }
        self.versions[pipeline_id].insert(0, version)  # newest first
        pipeline_versions = f"/apis/v2beta1/pipelines/{pipeline_id}/versions"
        self.api.route("GET", pipeline_versions, lambda r, p=pipeline_id: self.list_versions(r, p))
        return version

    def list_pipelines(self, request):
        wanted = json.loads(parse_qs(request.query)["filter"][0])["predicates"][0]["stringValue"]
        found = [p for p in self.pipelines.values() if p["display_name"] == wanted]
        return 200, {"pipelines": found, "total_size": len(found)}

    def upload(self, request):
        query = parse_qs(request.query)
        name = query["name"][0]
        if any(p["name"] == name for p in self.pipelines.values()):
            return 409, {"error": "Failed to create a pipeline and a pipeline version"}
        pipeline_id = f"p-{next(self.ids)}"
        description = query.get("description", [""])[0]
        self.pipelines[pipeline_id] = {
            "pipeline_id": pipeline_id, "name": name, "display_name": name,
            "description": description,
        }  # fmt: skip
        self.versions[pipeline_id] = []
        # The server's first version: the pipeline's name and description.
        self._version(pipeline_id, query, multipart(request)["uploadfile"][2])
        return 200, self.pipelines[pipeline_id]

    def upload_version(self, request):
        query = parse_qs(request.query)
        pipeline_id = query["pipelineid"][0]
        if any(v["name"] == query["name"][0] for v in self.versions[pipeline_id]):
            return 409, {"error": "already exists"}
        version = self._version(pipeline_id, query, multipart(request)["uploadfile"][2])
        return 200, {k: v for k, v in version.items() if k != "spec"}

    def list_versions(self, request, pipeline_id):
        query = parse_qs(request.query)
        size = int(query.get("page_size", ["10"])[0])
        start = int(query.get("page_token", ["0"])[0])
        page = self.versions[pipeline_id][start : start + size]
        token = str(start + size) if start + size < len(self.versions[pipeline_id]) else ""
        body = {"pipeline_versions": [{k: v for k, v in x.items() if k != "spec"} for x in page]}
        return 200, {**body, "next_page_token": token}

    def create_run(self, request):
        run = {**request.body, "run_id": f"r-{next(self.ids)}", "state": "PENDING"}
        self.runs.append(run)
        return 200, run


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("packages")
    return {
        image: pipeline.compile_pipeline(image, root / f"{tag}.yaml")
        for tag, image in (("a", IMAGE_A), ("b", IMAGE_B))
    }


def uploads(api) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in api.requests if r.method == "POST"]


def test_compiling_is_deterministic_so_the_digest_names_the_spec(packages, tmp_path):
    again = pipeline.compile_pipeline(IMAGE_A, tmp_path / "again.yaml")
    assert publish.spec_digest(again) == publish.spec_digest(packages[IMAGE_A])
    assert publish.spec_digest(packages[IMAGE_B]) != publish.spec_digest(packages[IMAGE_A])


def test_a_new_pipeline_the_first_time_then_nothing_for_the_same_spec(fake_api, packages):
    kfp_api = FakeKfp(fake_api)
    client = publish.PipelineUploads(fake_api.url)
    first = publish.publish(client, packages[IMAGE_A], IMAGE_A)
    assert first.uploaded and uploads(fake_api) == ["upload"]
    (stored,) = kfp_api.pipelines.values()
    assert stored["display_name"] == "mlops-retrain"
    assert f"spec sha256:{first.digest}" in stored["description"]
    (version,) = kfp_api.versions[first.pipeline_id]
    assert version["spec"] == packages[IMAGE_A].read_bytes()
    assert (first.version_id, first.version_name) == (
        version["pipeline_version_id"],
        "mlops-retrain",
    )

    fake_api.requests.clear()
    again = publish.publish(client, packages[IMAGE_A], IMAGE_A)
    assert not again.uploaded and uploads(fake_api) == []
    assert (again.pipeline_id, again.version_id) == (first.pipeline_id, first.version_id)
    assert len(kfp_api.versions[first.pipeline_id]) == 1


def test_a_new_image_is_a_new_version_named_after_its_digest(fake_api, packages):
    kfp_api = FakeKfp(fake_api)
    client = publish.PipelineUploads(fake_api.url)
    first = publish.publish(client, packages[IMAGE_A], IMAGE_A)
    second = publish.publish(client, packages[IMAGE_B], IMAGE_B)
    assert second.uploaded and second.pipeline_id == first.pipeline_id
    assert second.version_name == f"mlops-retrain-{second.digest[:12]}"
    newest = kfp_api.versions[first.pipeline_id][0]
    assert newest["pipeline_version_id"] == second.version_id
    assert newest["spec"] == packages[IMAGE_B].read_bytes()
    assert IMAGE_B in newest["description"]
    assert not publish.publish(client, packages[IMAGE_B], IMAGE_B).uploaded

    # Back to image A: its spec is not the newest any more, so it is uploaded again, under a
    # name of its own (version names are unique per pipeline).
    back = publish.publish(client, packages[IMAGE_A], IMAGE_A)
    assert back.uploaded and back.digest == first.digest
    assert back.version_name == f"mlops-retrain-{first.digest[:12]}"
    again = publish.publish(client, packages[IMAGE_B], IMAGE_B)
    assert again.version_name == f"mlops-retrain-{second.digest[:12]}-2"
    assert len(kfp_api.versions[first.pipeline_id]) == 4


def test_version_names_are_read_across_pages(fake_api, packages, monkeypatch):
    kfp_api = FakeKfp(fake_api)
    monkeypatch.setattr(publish, "PAGE_SIZE", 1)
    client = publish.PipelineUploads(fake_api.url)
    for image in (IMAGE_A, IMAGE_B, IMAGE_A):
        publish.publish(client, packages[image], image)
    names = client.version_names(next(iter(kfp_api.pipelines)))
    assert len(names) == 3 and "mlops-retrain" in names


def test_same_upload_requests_as_the_kfp_sdk(fake_api, packages):
    """Client.upload_pipeline and upload_pipeline_version against the same server: method,
    path, query and the multipart file must match ours."""
    FakeKfp(fake_api)
    package, description = packages[IMAGE_A], publish.describe("0" * 64, IMAGE_A)
    sdk = kfp.Client(host=fake_api.url)
    fake_api.requests.clear()
    created = sdk.upload_pipeline(
        str(package), pipeline_name="mlops-retrain", description=description
    )
    sdk.upload_pipeline_version(
        str(package), "v2", pipeline_id=created.pipeline_id, description=description
    )
    theirs = [r for r in fake_api.requests if r.method == "POST"]
    fake_api.requests.clear()

    FakeKfp(fake_api)  # a fresh server
    client = publish.PipelineUploads(fake_api.url)
    ours_created = client.upload_pipeline(package, "mlops-retrain", description)
    client.upload_version(package, ours_created["pipeline_id"], "v2", description)
    ours = [r for r in fake_api.requests if r.method == "POST"]

    assert [(r.method, r.path) for r in ours] == [(r.method, r.path) for r in theirs]
    for mine, sdks in zip(ours, theirs, strict=True):
        assert parse_qs(mine.query) == parse_qs(sdks.query)
        assert multipart(mine) == multipart(sdks)
        assert mine.headers["Accept"] == sdks.headers["Accept"] == "application/json"
    assert set(parse_qs(ours[1].query)) == {"name", "pipelineid", "description"}


def test_the_first_run_starts_only_without_a_champion_and_without_an_active_run(fake_api, packages):
    kfp_api = FakeKfp(fake_api)
    client = publish.PipelineUploads(fake_api.url)
    published = publish.publish(client, packages[IMAGE_A], IMAGE_A)
    params = {"tracking_uri": "http://mlflow", "service_namespace": "t", "service_deployment": "m"}

    assert publish.first_run(client, published, lambda: True, params, "m") == publish.FirstRun(
        False, None, "the model has a champion"
    )
    started = publish.first_run(client, published, lambda: False, params, "m")
    assert started.started and kfp_api.runs[0]["run_id"] == started.run_id
    run = kfp_api.runs[0]
    assert run["pipeline_version_reference"] == {
        "pipeline_id": published.pipeline_id,
        "pipeline_version_id": published.version_id,
    }
    assert run["runtime_config"] == {"parameters": params}
    assert run["display_name"] == "first training of m"
    # A retried Job while that run is pending starts no second one.
    assert publish.first_run(client, published, lambda: False, params, "m") == publish.FirstRun(
        False, started.run_id, "a run of the pipeline is active"
    )
    assert len(kfp_api.runs) == 1


def test_the_command_publishes_once_and_starts_the_first_run_when_mlflow_has_no_champion(
    fake_api, tracking, capsys, monkeypatch
):
    """`python -m mlops.publish` as the platform's Job runs it, against the local MLflow."""
    kfp_api = FakeKfp(fake_api)
    name = f"{MODEL}-publish"
    params = json.dumps({"tracking_uri": tracking, "model_name": name})
    monkeypatch.setenv("MLOPS_KFP_PIPELINE_PARAMS", params)
    argv = ["--image", IMAGE_A, "--endpoint", fake_api.url, "--first-run", "--model-name", name]

    assert publish.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["uploaded"] and summary["first_run"]["started"]
    assert kfp_api.runs[0]["runtime_config"]["parameters"] == json.loads(params)

    # Once the model has a champion, a new image uploads a version and trains nothing.
    version = train.train(name).version
    registry.record_gate(MlflowClient(), name, _passed(name, version))
    registry.promote(MlflowClient(), name, version)
    kfp_api.runs[0]["state"] = "SUCCEEDED"
    capsys.readouterr()  # what training printed
    assert publish.main(["--image", IMAGE_B, *argv[2:]]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["uploaded"] and summary["first_run"] == {
        "started": False, "run_id": None, "reason": "the model has a champion",
    }  # fmt: skip
    assert len(kfp_api.runs) == 1


def test_the_command_fails_when_the_api_never_answers(capsys):
    argv = ["--image", IMAGE_A, "--endpoint", "http://127.0.0.1:9", "--wait-seconds", "0"]
    assert publish.main(argv) == 1
    assert capsys.readouterr().out == ""


def _passed(name: str, version: str):
    from mlops import validate

    return validate.validate(name, version)
