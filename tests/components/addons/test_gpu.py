"""The GPU operator add-on, built from its settings alone."""

from __future__ import annotations

import pytest
import yaml

from components import versions
from components.addons import gpu
from components.addons.gpu import GpuSettings, TimeSlicing
from model.fields import ConfigError
from tests.helpers import bundle_params, deploy_addon, read_platform_config, refused, releases, site


def values(settings: GpuSettings) -> dict:
    return releases(deploy_addon(gpu.ADDON, settings))["gpu-operator"].inputs["values"]


def test_a_preinstalled_driver_is_left_alone_and_a_managed_one_installed():
    assert values(GpuSettings(enabled=True, driver="preinstalled"))["driver"] == {"enabled": False}
    assert values(GpuSettings(enabled=True, driver="managed"))["driver"] == {"enabled": True}


def test_the_operator_brings_toolkit_discovery_and_monitored_dcgm():
    chart = values(GpuSettings(enabled=True, driver="preinstalled"))
    assert chart["toolkit"]["enabled"] and chart["cdi"]["enabled"] and chart["nfd"]["enabled"]
    assert chart["migManager"]["enabled"] is False
    assert chart["dcgmExporter"]["serviceMonitor"]["enabled"] is True


def test_time_slicing_advertises_the_configured_replicas():
    sliced = GpuSettings(enabled=True, driver="preinstalled", time_slicing=TimeSlicing(replicas=4))
    config = values(sliced)["devicePlugin"]["config"]
    sharing = yaml.safe_load(config["data"][config["default"]])["sharing"]["timeSlicing"]
    assert sharing["resources"] == [{"name": "nvidia.com/gpu", "replicas": 4}]
    assert sharing["failRequestsGreaterThanOne"] is True


def test_whole_gpus_keep_the_device_plugin_defaults():
    assert "devicePlugin" not in values(GpuSettings(enabled=True, driver="preinstalled"))


def test_its_namespace_admits_privileged_node_agents():
    evaluation = deploy_addon(gpu.ADDON, GpuSettings(enabled=True, driver="managed"))
    (namespace,) = evaluation.of_type("kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


def test_defaults_follow_the_site():
    lab = read_platform_config({})["gpu"]
    assert lab.enabled and lab.driver == "preinstalled" and lab.time_slicing_replicas == 1
    aws = read_platform_config({}, at=site("aws"))["gpu"]
    assert aws.driver == "managed"
    assert read_platform_config({}, at=site(gpu_hosts=0, gpus=0))["gpu"].enabled is False


def test_gpu_features_without_gpu_hosts_are_refused():
    with pytest.raises(ConfigError) as error:
        read_platform_config({"gpu": {"enabled": True}}, at=site(gpu_hosts=0, gpus=0))
    assert "no host has a GPU" in refused(error.value, "ml-platform:platform.gpu")


def test_gpu_series_keep_the_workloads_namespace_and_pod():
    monitor = values(GpuSettings(enabled=True, driver="managed"))["dcgmExporter"]["serviceMonitor"]
    assert monitor["honorLabels"] is True


def test_the_dcgm_dashboard_ships_with_the_operator_when_the_stack_has_monitoring():
    settings = GpuSettings(enabled=True, driver="managed")
    monitored = deploy_addon(gpu.ADDON, settings, enabled=["monitoring"])
    dashboard = monitored.named("gpu-operator-dashboard")
    params = bundle_params(dashboard)
    assert params["URL"] == versions.DCGM_DASHBOARD.url
    assert params["SHA256"] == versions.DCGM_DASHBOARD.sha256
    assert params["NAMESPACE"] == "gpu-operator" and params["FOLDER"] == "GPU"
    assert "ACTION=delete" in dashboard.inputs["delete"]
    unmonitored = deploy_addon(gpu.ADDON, settings)
    assert not [r for r in unmonitored.registrations if r.name.endswith("-dashboard")]
