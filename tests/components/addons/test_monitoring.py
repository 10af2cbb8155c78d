"""kube-prometheus-stack, dashboards and alerts, built from their settings alone."""

from __future__ import annotations

import pytest

from automation.engine import secret_values
from components.addons import monitoring
from components.addons.gpu import GpuSettings, TimeSlicing
from components.addons.monitoring import MonitoringSettings
from components.addons.storage import StorageSettings
from model.fields import ConfigError
from tests.helpers import custom, deploy_addon, plain_text, read_platform_config, refused, releases


def deploy(settings: MonitoringSettings, storage: str = "rook-ceph", gpu: bool = True):
    others = {
        "storage": StorageSettings(provider=storage),
        "gpu": GpuSettings(enabled=gpu, driver="managed", time_slicing=TimeSlicing(replicas=1)),
    }
    return deploy_addon(monitoring.ADDON, settings, others=others, enabled=["gpu"] if gpu else [])


def prometheus_spec(evaluation) -> dict:
    values = releases(evaluation)["kube-prometheus-stack"].inputs["values"]
    return values["prometheus"]["prometheusSpec"]


def test_settings_reach_prometheus():
    settings = MonitoringSettings(retention="30d", volume_size="200Gi", storage_class="local-nvme")
    spec = prometheus_spec(deploy(settings))
    assert spec["retention"] == "30d"
    assert spec["retentionSize"] == "174080MB"  # 85% of 200Gi: old data goes before the disk fills
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "200Gi"
    assert claim["storageClassName"] == "local-nvme"
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_without_a_class_volumes_come_from_the_default_class():
    spec = prometheus_spec(deploy(MonitoringSettings()))
    assert spec["retention"] == "15d"
    assert "storageClassName" not in spec["storageSpec"]["volumeClaimTemplate"]["spec"]


def test_grafana_loads_the_add_ons_dashboards_and_restarts_rather_than_rolls():
    values = releases(deploy(MonitoringSettings()))["kube-prometheus-stack"].inputs["values"]
    grafana = values["grafana"]
    # An RWO volume: a rolling update's new pod could never mount it.
    assert grafana["deploymentStrategy"] == {"type": "Recreate"}
    sidecar = grafana["sidecar"]["dashboards"]
    assert sidecar["label"] == "grafana_dashboard" and sidecar["searchNamespace"] == "ALL"
    assert sidecar["folderAnnotation"] == "grafana_folder"
    # Nothing is fetched when Grafana starts: no dashboards from URLs in its values.
    assert "dashboards" not in grafana and "dashboardProviders" not in grafana


def test_the_release_is_never_rolled_back_over_grafanas_volume():
    release = releases(deploy(MonitoringSettings()))["kube-prometheus-stack"]
    assert release.inputs["atomic"] is False and release.inputs["cleanupOnFail"] is False


def test_platform_alerts_complete_the_default_rules():
    evaluation = deploy(MonitoringSettings())
    rules = custom(evaluation, "PrometheusRule", "monitoring-platform-alerts").inputs["spec"]
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"GPUXidError", "GPUUnhealthy", "CertificateExpiration"} <= alerts
    values = releases(evaluation)["kube-prometheus-stack"].inputs["values"]
    defaults = values["defaultRules"]["rules"]
    assert defaults["etcd"] and defaults["kubernetesSystem"]  # etcd, KubeNodeNotReady


def test_the_grafana_password_is_generated_exported_secret_and_never_plain():
    evaluation = deploy(MonitoringSettings())
    password = evaluation.exports["grafanaAdminPassword"]
    assert password.secret and len(password.value) == 32
    secret = custom(evaluation, "core/v1:Secret", "monitoring-grafana-admin")
    assert secret_values(secret.inputs["stringData"])
    assert all(password.value not in plain_text(r.inputs) for r in evaluation.registrations)
    grafana = releases(evaluation)["kube-prometheus-stack"].inputs["values"]["grafana"]
    assert grafana["admin"]["existingSecret"] == secret.inputs["metadata"]["name"]


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ({"retention": "15 days"}, "retention", "not a Prometheus duration"),
        ({"retention": "15d\n"}, "retention", "not a Prometheus duration"),
        ({"volumeSize": "50GB"}, "volumeSize", "not a size"),
        ({"storageClass": "fast disks"}, "storageClass", "not a DNS-1123 name"),
    ],
)
def test_strings_are_checked_by_what_they_become(section, key, words):
    with pytest.raises(ConfigError) as error:
        read_platform_config({"monitoring": section})
    assert words in refused(error.value, f"ml-platform:platform.monitoring.{key}")


def test_monitoring_without_storage_must_name_a_class():
    with pytest.raises(ConfigError) as error:
        read_platform_config(
            {"storage": {"provider": "none"}, "objectStore": {"provider": "minio"}}
        )
    assert "need volumes" in refused(error.value, "ml-platform:platform.monitoring.storageClass")


def test_a_pushgateway_for_batch_jobs_only_when_asked_for():
    assert "pushgateway" not in releases(deploy(MonitoringSettings()))
    values = releases(deploy(MonitoringSettings(pushgateway=True)))["pushgateway"].inputs["values"]
    # Pushed `job` and grouping labels are kept; the Service is the documented URL.
    assert values["serviceMonitor"] == {
        "enabled": True,
        "namespace": "monitoring",
        "honorLabels": True,
    }
    assert values["fullnameOverride"] == "pushgateway"
    assert monitoring.PUSHGATEWAY_URL == "http://pushgateway.monitoring.svc:9091"


def test_users_log_in_to_grafana_through_the_provider_when_its_endpoints_are_named():
    import pulumi

    from model.identity import Oidc, OidcEndpoints

    def deploy_with(endpoints):
        def identity():
            return Oidc(
                "https://login.lab.example.edu/realms/lab",
                "ml-platform",
                pulumi.Output.secret("oidc-client-secret-0123"),
                "email",
                "groups",
                endpoints,
            )

        return deploy_addon(monitoring.ADDON, MonitoringSettings(), identity=identity)

    urls = OidcEndpoints(
        "https://login.lab.example.edu/auth", "https://login.lab.example.edu/token",
        "https://login.lab.example.edu/userinfo",
    )  # fmt: skip
    evaluation = deploy_with(urls)
    grafana = releases(evaluation)["kube-prometheus-stack"].inputs["values"]["grafana"]
    oauth = grafana["grafana.ini"]["auth.generic_oauth"]
    assert (oauth["auth_url"], oauth["token_url"], oauth["api_url"]) == (
        urls.authorization_url, urls.token_url, urls.userinfo_url,
    )  # fmt: skip
    assert oauth["client_id"] == "ml-platform" and oauth["role_attribute_path"] == "'Viewer'"
    ref = grafana["envValueFrom"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]["secretKeyRef"]
    secret = custom(evaluation, "core/v1:Secret", "monitoring-grafana-oidc")
    assert ref == {"name": secret.inputs["metadata"]["name"], "key": "client-secret"}
    assert secret_values(secret.inputs["stringData"])
    assert all(
        "oidc-client-secret-0123" not in plain_text(r.inputs) for r in evaluation.registrations
    )
    without = releases(deploy_with(None))["kube-prometheus-stack"].inputs["values"]["grafana"]
    assert "grafana.ini" not in without and "envValueFrom" not in without
