"""Upload the retraining pipeline to Kubeflow Pipelines, once per compiled spec, and start its
first run when the model has no champion yet.

    python -m mlops.publish --image ghcr.io/OWNER/ml-platform/mlops-train:TAG \\
        --endpoint http://ml-pipeline.kubeflow.svc:8888 [--first-run]

It compiles the pipeline for the training image (mlops.pipeline) and uploads it under the
display name `mlops-retrain`: a new pipeline the first time, a new version of it afterwards.
The requests are the kfp SDK's (kfp 2.17, kfp-server-api 2.17): `Client.upload_pipeline`
(`POST /apis/v2beta1/pipelines/upload?name=...&description=...`, the compiled file as the
multipart field `uploadfile`) and `Client.upload_pipeline_version`
(`POST /apis/v2beta1/pipelines/upload_version?name=...&pipelineid=...&description=...`).

Idempotent: every version's description names the SHA-256 of its compiled file, and when the
newest version already has this spec's digest nothing is uploaded (the drift job always runs
the newest version, so "newest" is what matters: an image rolled back to an earlier one is
uploaded again). A new version is named `mlops-retrain-<first 12 hex digits of the digest>`
(`-2`, `-3`... when that name is taken by an older upload of the same spec). The server gives
the first version the pipeline's own name and description (kubeflow/pipelines@2.17.0:
backend/src/apiserver/server/pipeline_upload_server.go, uploadPipeline), so the pipeline's
description also names the first spec's digest.

With `--first-run` it then starts a run of the newest version, with the parameters of
`MLOPS_KFP_PIPELINE_PARAMS` (the drift job's), when the registered model has no champion and
no run of the pipeline is pending or running: the platform's first training, without which the
service has nothing to serve. It prints a JSON summary; exit code 0 done, 1 failed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import mimetypes
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from mlops import config, retrain
from mlops.pipeline import PIPELINE_NAME, compile_pipeline

log = logging.getLogger(__name__)
DESCRIPTION = "Train, validate, register, promote and roll out (mlops/pipeline.py)."
DIGEST_PREFIX = "spec sha256:"
PAGE_SIZE = 100


@dataclass(frozen=True)
class Published:
    pipeline_id: str
    version_id: str
    version_name: str
    digest: str
    uploaded: bool  # False: the newest version already had this spec


@dataclass(frozen=True)
class FirstRun:
    started: bool
    run_id: str | None
    reason: str


def spec_digest(package: Path) -> str:
    return hashlib.sha256(package.read_bytes()).hexdigest()


def describe(digest: str, image: str) -> str:
    return f"{DESCRIPTION} Train image {image}; {DIGEST_PREFIX}{digest}"


class PipelineUploads(retrain.KfpClient):
    """The KFP REST calls publishing needs, on top of those the drift job uses."""

    def find_pipeline(self, name: str) -> str | None:
        """The id of the pipeline with this display name, None when there is none."""
        try:
            return self.pipeline_id(name)
        except retrain.KfpError as error:
            if "found 0" in str(error):
                return None
            raise

    def version_names(self, pipeline_id: str) -> set[str]:
        names: set[str] = set()
        token = ""
        while True:
            params: dict[str, Any] = {"page_size": PAGE_SIZE}
            if token:
                params["page_token"] = token
            page = self._call("GET", f"/pipelines/{pipeline_id}/versions", params=params)
            names |= {
                v.get("name") or v.get("display_name") for v in page.get("pipeline_versions") or []
            }
            token = page.get("next_page_token") or ""
            if not token:
                return names

    def _upload(self, path: str, package: Path, params: dict[str, str]) -> dict[str, Any]:
        """A multipart upload as kfp-server-api sends it (api_client.files_parameters: the
        file's base name, its guessed type or application/octet-stream)."""
        filename = package.name
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        response = self.session.post(
            f"{self.endpoint}{retrain.API}{path}",
            params=params,
            files={"uploadfile": (filename, package.read_bytes(), mimetype)},
            headers={"Accept": "application/json"},
            timeout=self.timeout,
        )
        if response.status_code >= 400:
            raise retrain.KfpError(
                f"POST {retrain.API}{path}: HTTP {response.status_code}: {response.text}"
            )
        return response.json()

    def upload_pipeline(self, package: Path, name: str, description: str) -> dict[str, Any]:
        params = {"name": name, "description": description}
        if self.namespace:
            params["namespace"] = self.namespace
        return self._upload("/pipelines/upload", package, params)

    def upload_version(
        self, package: Path, pipeline_id: str, name: str, description: str
    ) -> dict[str, Any]:
        params = {"name": name, "pipelineid": pipeline_id, "description": description}
        return self._upload("/pipelines/upload_version", package, params)


def version_name(pipeline_name: str, digest: str, taken: set[str]) -> str:
    base = f"{pipeline_name}-{digest[:12]}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def publish(
    client: PipelineUploads, package: Path, image: str, name: str = PIPELINE_NAME
) -> Published:
    """`package` uploaded as the newest version of pipeline `name`, unless it already is."""
    digest = spec_digest(package)
    description = describe(digest, image)
    pipeline_id = client.find_pipeline(name)
    if pipeline_id is None:
        created = client.upload_pipeline(package, name, description)
        pipeline_id = created["pipeline_id"]
        first = client.newest_version(pipeline_id)
        if first is None:
            raise retrain.KfpError(f"pipeline {pipeline_id} was created without a version")
        return Published(
            pipeline_id, first["pipeline_version_id"], first.get("name", name), digest, True
        )
    newest = client.newest_version(pipeline_id)
    if newest is not None and f"{DIGEST_PREFIX}{digest}" in (newest.get("description") or ""):
        return Published(
            pipeline_id, newest["pipeline_version_id"], newest.get("name", ""), digest, False
        )
    new_name = version_name(name, digest, client.version_names(pipeline_id))
    version = client.upload_version(package, pipeline_id, new_name, description)
    return Published(pipeline_id, version["pipeline_version_id"], new_name, digest, True)


def first_run(
    client: PipelineUploads,
    published: Published,
    has_champion: Callable[[], bool],
    parameters: dict[str, Any],
    model_name: str,
) -> FirstRun:
    """A run of the published version when the model has no champion and no run of the
    pipeline is active (a retry of this step must not queue a second training)."""
    if has_champion():
        return FirstRun(False, None, "the model has a champion")
    active = client.active_runs(published.pipeline_id)
    if active:
        return FirstRun(False, active[0].get("run_id"), "a run of the pipeline is active")
    run = client.create_run(
        f"first training of {model_name}",
        published.pipeline_id,
        published.version_id,
        parameters,
        description="started by mlops.publish: the model had no champion",
    )
    return FirstRun(True, run.get("run_id"), "started")


def mlflow_has_champion(model_name: str, alias: str) -> bool:
    from mlflow import MlflowClient

    from mlops import registry

    return registry.alias_version(MlflowClient(), model_name, alias) is not None


def wait_for_api(client: PipelineUploads, name: str, seconds: float, poll: float = 5.0) -> None:
    """Until the API server answers (it may still be starting when the platform runs this)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.find_pipeline(name)
            return
        except (requests.ConnectionError, requests.Timeout, retrain.KfpError) as error:
            if time.monotonic() > deadline:
                raise retrain.KfpError(
                    f"the Kubeflow Pipelines API does not answer: {error}"
                ) from None
            log.info("waiting for the Kubeflow Pipelines API: %s", error)
            time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops.publish", description=__doc__)
    image = config.env_str("MLOPS_TRAIN_IMAGE")
    endpoint = config.env_str("MLOPS_KFP_ENDPOINT")
    parser.add_argument("--image", default=image, required=image is None)
    parser.add_argument("--endpoint", default=endpoint, required=endpoint is None)
    parser.add_argument("--name", default=config.env_str("MLOPS_KFP_PIPELINE_NAME", PIPELINE_NAME))
    parser.add_argument("--queue-name", default=config.env_str("MLOPS_QUEUE_NAME"))
    parser.add_argument("--namespace", default=config.env_str("MLOPS_KFP_NAMESPACE"))
    parser.add_argument(
        "--first-run",
        action="store_true",
        help="start a run when the model has no champion (MLOPS_KFP_PIPELINE_PARAMS)",
    )
    parser.add_argument("--model-name", default=config.model_name())
    parser.add_argument(
        "--pipeline-params", default=config.env_str("MLOPS_KFP_PIPELINE_PARAMS", "{}")
    )
    parser.add_argument(
        "--wait-seconds", type=float, default=300.0, help="how long to wait for the API"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        parameters = json.loads(args.pipeline_params)
        if not isinstance(parameters, dict):
            raise config.ConfigError("MLOPS_KFP_PIPELINE_PARAMS must be a JSON object")
        client = PipelineUploads.with_token_file(
            args.endpoint,
            config.env_str("KF_PIPELINES_SA_TOKEN_PATH", retrain.TOKEN_PATH),
            args.namespace,
        )
        wait_for_api(client, args.name, args.wait_seconds)
        with tempfile.TemporaryDirectory() as tmp:
            package = compile_pipeline(args.image, Path(tmp) / f"{args.name}.yaml", args.queue_name)
            published = publish(client, package, args.image, args.name)
        summary: dict[str, Any] = {"pipeline": args.name, **asdict(published)}
        if args.first_run:
            # MLflow prints nothing useful on stdout; stdout is for the summary.
            with contextlib.redirect_stdout(sys.stderr):
                run = first_run(
                    client,
                    published,
                    lambda: mlflow_has_champion(args.model_name, config.model_alias()),
                    parameters,
                    args.model_name,
                )
            summary["first_run"] = asdict(run)
    except Exception as error:
        log.error("publishing the pipeline failed: %s", error)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
