"""Longhorn's UI: behind Traefik with basic authentication, only with Longhorn."""

from __future__ import annotations

from automation.engine import unwrap_secrets
from components.addons import longhorn_ui, storage
from components.addons.storage import StorageSettings
from tests.helpers import custom, deploy_addon, plain_text, read_platform_config, waits_for

LONGHORN = {"storage": StorageSettings(provider="longhorn")}


def deploy():
    return deploy_addon(longhorn_ui.ADDON, others=LONGHORN, before=[storage.ADDON])


def test_the_ui_is_served_only_through_the_auth_middleware():
    evaluation = deploy()
    ingress = custom(evaluation, "Ingress", "longhorn-ui-ingress").inputs
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "platform",
        "traefik.ingress.kubernetes.io/router.middlewares": "longhorn-system-longhorn-ui-auth@kubernetescrd",
    }
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "longhorn.ml.example.edu"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "longhorn-frontend"
    middleware = custom(evaluation, "Middleware", "longhorn-ui-middleware")
    assert middleware.inputs["spec"]["basicAuth"]["secret"] == "longhorn-ui-auth"
    assert waits_for(evaluation, custom(evaluation, "Ingress", "longhorn-ui-ingress"), middleware)
    # The middleware's CRD comes with Traefik, which this add-on waits for (here: Longhorn).
    assert waits_for(evaluation, middleware, custom(evaluation, "Release", "longhorn"))


def test_the_password_is_generated_exported_and_never_plain():
    evaluation = deploy()
    secret = custom(evaluation, "core/v1:Secret", "longhorn-ui-auth")
    assert secret.inputs["type"] == "kubernetes.io/basic-auth"
    password = unwrap_secrets(secret.inputs["stringData"])["password"]
    assert evaluation.exports["longhornUiPassword"].secret
    assert evaluation.exports["longhornUiPassword"].value == password
    assert all(password not in plain_text(r.inputs) for r in evaluation.registrations)
    assert evaluation.exports["longhornUrl"].value == "https://longhorn.ml.example.edu"


def test_it_exists_only_with_longhorn():
    assert "longhorn-ui" not in read_platform_config({}).enabled
    assert (
        "longhorn-ui"
        in read_platform_config(
            {"storage": {"provider": "longhorn"}, "objectStore": {"provider": "minio"}}
        ).enabled
    )
