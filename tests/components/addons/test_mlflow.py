"""MLflow: its database and bucket, artifacts through the server, logins, its URLs."""

from __future__ import annotations

import pulumi
import pytest

from automation.engine import unwrap_secrets
from components.addons import mlflow, object_store, postgres
from components.addons.mlflow import MlflowSettings
from components.addons.object_store import ObjectStoreSettings
from components.addons.postgres import PostgresSettings
from components.addons.storage import StorageSettings
from model.fields import ConfigError
from model.identity import Oidc
from tests.helpers import (
    custom,
    deploy_addon,
    plain_text,
    read_platform_config,
    refused,
    releases,
    waits_for,
)

OTHERS = {
    "storage": StorageSettings(provider="rook-ceph"),
    "object-store": ObjectStoreSettings(provider="ceph-rgw", bucket_prefix="lab"),
    "postgres": PostgresSettings(),
}


def oidc() -> Oidc:
    return Oidc(
        issuer_url="https://login.example.edu/realms/lab",
        client_id="ml-platform",
        client_secret=pulumi.Output.secret("offline-client-secret"),
        username_claim="preferred_username",
        groups_claim="groups",
    )


def deploy(settings: MlflowSettings | None = None, identity=None):
    settings = settings or MlflowSettings()
    return deploy_addon(
        mlflow.ADDON, settings, others=OTHERS, before=[object_store.ADDON, postgres.ADDON],
        identity=identity,
    )  # fmt: skip


def values(evaluation) -> dict:
    return unwrap_secrets(releases(evaluation)["mlflow"].inputs["values"])


def test_runs_go_to_its_database_and_artifacts_through_the_server_to_its_bucket():
    v = values(deploy())
    assert v["backendStore"]["postgres"] == {
        "enabled": True, "host": "platform-rw.postgres.svc", "port": 5432, "database": "mlflow"
    }  # fmt: skip
    assert v["backendStore"]["existingDatabaseSecret"] == {"name": "mlflow-db"}
    assert v["backendStore"]["databaseMigration"] is True  # schema upgraded on every start
    assert v["artifactRoot"]["proxiedArtifactStorage"] is True
    assert v["artifactRoot"]["s3"] == {
        "enabled": True, "bucket": "lab-mlflow-artifacts",
        "existingSecret": {"name": "mlflow-artifacts-bucket"},
    }  # fmt: skip
    assert v["extraEnvVars"]["MLFLOW_S3_ENDPOINT_URL"].startswith("http://rook-ceph-rgw-")


def test_it_waits_for_its_database_and_bucket():
    evaluation = deploy()
    release = releases(evaluation)["mlflow"]
    database = custom(evaluation, "postgresql.cnpg.io/v1:Database", "mlflow-db")
    auth_database = custom(evaluation, "postgresql.cnpg.io/v1:Database", "mlflow-auth-db")
    claim = custom(evaluation, "ObjectBucketClaim", "mlflow-artifacts-bucket-claim")
    for needed in (database, auth_database, claim):
        assert waits_for(evaluation, release, needed), needed.name


def test_basic_auth_with_a_generated_admin_password_that_stays_secret():
    evaluation = deploy()
    v = values(evaluation)
    assert v["auth"]["enabled"] is True
    assert v["auth"]["existingAdminSecret"] == {"name": "mlflow-admin"}
    assert v["auth"]["postgres"]["database"] == "mlflow_auth"
    assert "oidcAuth" not in v
    password = evaluation.exports["mlflowAdminPassword"]
    assert password.secret and len(password.value) == 32
    assert all(password.value not in plain_text(r.inputs) for r in evaluation.registrations)


def test_at_its_host_behind_traefik_with_a_certificate_and_only_known_hosts():
    evaluation = deploy()
    v = values(evaluation)
    ingress = v["ingress"]
    assert ingress["hosts"][0]["host"] == "mlflow.ml.example.edu"
    assert ingress["annotations"] == {"cert-manager.io/cluster-issuer": "platform"}
    assert ingress["tls"] == [{"hosts": ["mlflow.ml.example.edu"], "secretName": "mlflow-tls"}]
    assert "mlflow.mlflow.svc" in v["serverAllowedHosts"] and "*" not in v["serverAllowedHosts"]
    assert v["serviceMonitor"]["enabled"] is True and v["serviceMonitor"]["namespace"] == "mlflow"
    assert evaluation.exports["mlflowUrl"].value == "https://mlflow.ml.example.edu"
    assert evaluation.exports["mlflowTrackingUri"].value == "http://mlflow.mlflow.svc:80"


def test_with_an_identity_provider_users_log_in_through_it():
    evaluation = deploy(identity=oidc)
    v = values(evaluation)
    assert "auth" not in v
    assert v["oidcAuth"]["discoveryUrl"] == (
        "https://login.example.edu/realms/lab/.well-known/openid-configuration"
    )
    assert v["oidcAuth"]["clientId"] == "ml-platform"
    assert v["oidcAuth"]["redirectUri"] == "https://mlflow.ml.example.edu/callback"
    assert v["oidcAuth"]["existingSecret"] == {"name": "mlflow-oidc"}
    secret = custom(evaluation, "core/v1:Secret", "mlflow-oidc")
    assert unwrap_secrets(secret.inputs["stringData"]) == {
        "OIDC_CLIENT_SECRET": "offline-client-secret"
    }
    assert all(
        "offline-client-secret" not in plain_text(r.inputs) for r in evaluation.registrations
    )
    assert "mlflowAdminPassword" not in evaluation.exports
    # The OIDC values exist in the pinned chart (no stack file names an identity yet).
    from tests.components.addons.test_chart_values import unknown_keys

    assert unknown_keys(releases(evaluation)["mlflow"].inputs) == []


def test_the_namespace_is_restricted():
    evaluation = deploy()
    ns = custom(evaluation, "Namespace", "mlflow-namespace")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert values(evaluation)["podSecurityContext"] == {
        "seccompProfile": {"type": "RuntimeDefault"}
    }


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"objectStore": {"provider": "none"}, "postgres": {"backups": False}},
         "objectStore.provider is none"),
        ({"postgres": {"enabled": False}}, "postgres.enabled is false"),
    ],
)  # fmt: skip
def test_mlflow_without_its_stores_is_refused(config, words):
    with pytest.raises(ConfigError) as error:
        read_platform_config(config)
    assert words in refused(error.value, "ml-platform:platform.mlflow.enabled")


def test_with_the_stacks_identity_provider_mlflow_logs_in_through_it(campus):
    from tests.components.addons.test_chart_values import unknown_keys

    release = releases(campus)["mlflow"]
    v = unwrap_secrets(release.inputs["values"])
    assert "auth" not in v and v["oidcAuth"]["enabled"] is True
    assert v["oidcAuth"]["discoveryUrl"].endswith("/.well-known/openid-configuration")
    assert v["oidcAuth"]["redirectUri"] == "https://mlflow.ml.lab.example.edu/callback"
    assert unknown_keys(release.inputs) == []
    assert "mlflowAdminPassword" not in campus.exports
    secret = custom(campus, "core/v1:Secret", "mlflow-oidc")
    client_secret = unwrap_secrets(secret.inputs["stringData"])["OIDC_CLIENT_SECRET"]
    assert all(client_secret not in plain_text(r.inputs) for r in campus.registrations)
