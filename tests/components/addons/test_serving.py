"""Model serving, built from its settings alone: the objects per model, their probes, bounds,
security and schema validity, the dashboard and alerts, and the checks of its settings."""

from __future__ import annotations

import json

import pytest

from automation.engine import unwrap_secrets
from components.addons import serving
from components.addons.gpu import GpuSettings, TimeSlicing
from components.addons.serving import EnvVar, Model, Replicas, ServingSettings
from model.fields import ConfigError
from tests.helpers import (
    custom,
    deploy_addon,
    evaluate_changed,
    read_platform_config,
    refused,
)
from tests.schemas import validate_objects
from tools.pod_security import RESTRICTED, evaluate_pod, forbidden_detail

IRIS = Model(
    name="iris",
    image="ghcr.io/lab/mlops-service:sha-0123abc",
    namespace="prof-lee",
    replicas=Replicas(min=2, max=6),
    env=(
        EnvVar(name="MLFLOW_TRACKING_URI", value="http://mlflow.mlflow.svc:5000"),
        EnvVar(name="MLFLOW_TRACKING_PASSWORD", secret="mlflow-credentials/password"),
    ),
)
GPU = {"gpu": GpuSettings(enabled=True, driver="managed", time_slicing=TimeSlicing(replicas=4))}


def deploy(*models: Model, monitored: bool = True):
    enabled = ["monitoring"] if monitored else []
    return deploy_addon(serving.ADDON, ServingSettings(models=models), others=GPU, enabled=enabled)


def of(evaluation, kind: str, name: str) -> dict:
    return unwrap_secrets(custom(evaluation, kind, name).inputs)


def test_a_model_gets_its_deployment_service_autoscaler_budget_monitor_policy_and_route():
    evaluation = deploy(IRIS)
    kinds = {
        r.type.rsplit(":", 1)[-1]
        for r in evaluation.registrations
        if r.name.startswith("prof-lee-iris")
    }
    assert kinds == {
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "NetworkPolicy", "ServiceMonitor", "Middleware", "Ingress",
    }  # fmt: skip
    spec = of(evaluation, "Deployment", "prof-lee-iris-model")["spec"]
    assert "replicas" not in spec  # the autoscaler's
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    container = spec["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert (
        container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"]
        == 300
    )
    assert container["ports"] == [{"name": "http", "containerPort": 3000}]
    assert {"name": "MLFLOW_TRACKING_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "mlflow-credentials", "key": "password"}}} in container["env"]  # fmt: skip
    hpa = of(evaluation, "HorizontalPodAutoscaler", "prof-lee-iris-autoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    monitor = of(evaluation, "ServiceMonitor", "prof-lee-iris-service-monitor")["spec"]
    assert monitor["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


def test_the_route_is_models_domain_slash_name_with_tls_from_the_platform_issuer():
    evaluation = deploy(IRIS)
    ingress = of(evaluation, "Ingress", "prof-lee-iris-ingress")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "models.ml.example.edu"
    assert rule["http"]["paths"][0]["path"] == "/iris"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["models.ml.example.edu"], "secretName": "iris-tls"}
    ]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "platform"
    middleware = of(evaluation, "Middleware", "prof-lee-iris-strip-prefix")
    assert annotations["traefik.ingress.kubernetes.io/router.middlewares"] == (
        f"prof-lee-{middleware['metadata']['name']}@kubernetescrd"
    )
    assert middleware["spec"] == {"stripPrefix": {"prefixes": ["/iris"]}}


def test_only_the_ingress_controller_and_prometheus_reach_a_model():
    policy = of(deploy(IRIS), "NetworkPolicy", "prof-lee-iris-network-policy")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    sources = {
        s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for s in rule["from"]
    }
    assert sources == {"traefik", "monitoring"}
    assert rule["ports"] == [{"port": 3000, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("gpu", "resource"),
    [("none", None), ("shared", "nvidia.com/gpu.shared"), ("whole", "nvidia.com/gpu")],
)
def test_a_model_pod_is_admitted_by_the_restricted_pod_security_level(gpu, resource):
    model = Model(name="m", image="ghcr.io/lab/m:1.0", namespace="cs231", gpu=gpu)
    template = of(deploy(model), "Deployment", "cs231-m-model")["spec"]["template"]
    assert evaluate_pod(template, RESTRICTED) == [], forbidden_detail(
        evaluate_pod(template, RESTRICTED)
    )
    limits = template["spec"]["containers"][0]["resources"]["limits"]
    if resource is None:
        assert "runtimeClassName" not in template["spec"] and set(limits) == {"memory"}
    else:
        assert limits[resource] == "1" and template["spec"]["runtimeClassName"] == "nvidia"


def test_every_object_validates_against_its_schema():
    evaluation = deploy(
        IRIS, Model(name="m", image="r/m@sha256:" + "b" * 64, namespace="cs231", gpu="whole")
    )
    assert validate_objects(evaluation) == 2 * 8 + 2  # per model, then the dashboard and rules


def test_one_dashboard_and_alerts_cover_every_model_when_the_stack_has_monitoring():
    evaluation = deploy(IRIS, Model(name="digits", image="r/d:2", namespace="cs231"))
    board = json.loads(
        next(iter(of(evaluation, "ConfigMap", "serving-dashboard")["data"].values()))
    )
    assert [p["title"] for p in board["panels"]] == [
        "Requests",
        "Latency",
        "Errors (5xx share)",
        "Replicas",
        "GPU use",
    ]
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    assert 'service=~"iris|digits"' in exprs and "histogram_quantile(0.99" in exprs
    rules = of(evaluation, "PrometheusRule", "serving-alerts")["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {"ModelErrorRateHigh", "ModelLatencyHigh"}
    unmonitored = deploy(IRIS, monitored=False)
    assert not [r for r in unmonitored.registrations if r.name.startswith("serving-")]


@pytest.mark.parametrize(
    ("model", "key", "words"),
    [
        ({"image": "ghcr.io/lab/m:latest"}, "image", "`latest` is not a pin"),
        ({"image": "ghcr.io/lab/m"}, "image", "not a container image pinned"),
        ({"replicas": {"min": 4, "max": 2}}, "replicas", "min is above max"),
        ({"gpu": "shared"}, "gpu", "no GPU is shared"),
        ({"env": [{"name": "A", "value": "1", "secret": "s/k"}]}, "env[0]", "exactly one of value and secret"),
        ({"env": [{"name": "1A", "value": "1"}]}, "env[0].name", "not an environment variable name"),
        ({"name": "Iris"}, "name", "not a DNS label"),
    ],
)  # fmt: skip
def test_bad_models_are_refused_with_the_key_named(model, key, words):
    entry = {"name": "iris", "image": "ghcr.io/lab/m:1", "namespace": "prof-lee", **model}
    with pytest.raises(ConfigError) as error:
        read_platform_config(
            {"serving": {"models": [entry]}, "gpu": {"timeSlicing": {"replicas": 1}}}
        )
    assert words in refused(error.value, f"ml-platform:platform.serving.models[0].{key}")


def test_a_model_must_live_in_a_tenants_namespace():
    def serve_elsewhere(config):
        config["platform"]["serving"] = {
            "models": [{"name": "iris", "image": "r/i:1", "namespace": "kube-system"}]
        }

    evaluation = evaluate_changed("lab", serve_elsewhere)
    assert isinstance(evaluation.error, ConfigError)
    assert "is not a tenant" in refused(
        evaluation.error, "ml-platform:platform.serving.models[0].namespace"
    )
    assert evaluation.registrations == []


def test_no_models_no_serving():
    assert "serving" not in read_platform_config({}).enabled
