"""The GPU operator add-on, built from its settings alone."""

from __future__ import annotations

import pytest
import yaml

from components import versions
from components.addons import gpu
from components.addons.gpu import GpuSettings, TimeSlicing
from model.fields import ConfigError
from tests.helpers import bundle_params, deploy_addon, read_platform_config, refused, releases, site


def settings(driver: str = "preinstalled", replicas: int = 4) -> GpuSettings:
    return GpuSettings(enabled=True, driver=driver, time_slicing=TimeSlicing(replicas=replicas))


def values(gpu_settings: GpuSettings) -> dict:
    """The chart values for the sample hosts (gpu-4 shared, the others exclusive)."""
    return releases(deploy_addon(gpu.ADDON, gpu_settings))["gpu-operator"].inputs["values"]


def test_a_preinstalled_driver_is_left_alone_and_a_managed_one_installed():
    assert values(settings("preinstalled"))["driver"] == {"enabled": False}
    assert values(settings("managed"))["driver"] == {"enabled": True}


def test_the_operator_brings_toolkit_discovery_and_monitored_dcgm():
    chart = values(settings())
    assert chart["toolkit"]["enabled"] and chart["cdi"]["enabled"] and chart["nfd"]["enabled"]
    assert chart["migManager"]["enabled"] is False
    assert chart["dcgmExporter"]["serviceMonitor"]["enabled"] is True


def test_each_node_gets_the_config_of_its_sharing_whole_gpus_by_default():
    config = values(settings(replicas=4))["devicePlugin"]["config"]
    # Nodes select a config by the label kubeadm sets at join; unlabelled ones get whole GPUs.
    assert set(config["data"]) == {"exclusive", "shared"} and config["default"] == "exclusive"
    exclusive = yaml.safe_load(config["data"]["exclusive"])
    assert "sharing" not in exclusive and exclusive["flags"] == {"migStrategy": "none"}
    sliced = yaml.safe_load(config["data"]["shared"])["sharing"]["timeSlicing"]
    assert sliced["resources"] == [{"name": "nvidia.com/gpu", "replicas": 4}]
    # Renamed: slices are nvidia.com/gpu.shared, so a pod asking for a whole GPU never gets one.
    assert sliced["renameByDefault"] is True and sliced["failRequestsGreaterThanOne"] is True


def test_without_shared_hosts_the_device_plugin_keeps_its_defaults():
    # The sample inventory has a shared host (gpu-4); a stack without one keeps the defaults.
    assert "devicePlugin" in values(settings())
    assert "devicePlugin" not in gpu.gpu_operator_values(settings(replicas=1), shared_hosts=False)


def test_its_namespace_admits_privileged_node_agents():
    evaluation = deploy_addon(gpu.ADDON, settings("managed"))
    (namespace,) = evaluation.of_type("kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


def test_defaults_follow_the_site():
    lab = read_platform_config({})["gpu"]
    # The sample lab site has a shared GPU: four slices each.
    assert lab.enabled and lab.driver == "preinstalled" and lab.time_slicing_replicas == 4
    assert read_platform_config({}, at=site(shared_gpus=0))["gpu"].time_slicing_replicas == 1
    aws = read_platform_config({}, at=site("aws"))["gpu"]
    assert aws.driver == "managed"
    assert (
        read_platform_config({}, at=site(gpu_hosts=0, gpus=0, shared_gpus=0))["gpu"].enabled
        is False
    )


def test_gpu_features_without_gpu_hosts_are_refused():
    with pytest.raises(ConfigError) as error:
        read_platform_config(
            {"gpu": {"enabled": True}}, at=site(gpu_hosts=0, gpus=0, shared_gpus=0)
        )
    assert "no host has a GPU" in refused(error.value, "ml-platform:platform.gpu")


def test_slicing_without_shared_hosts_and_shared_hosts_without_slicing_are_refused():
    key = "ml-platform:platform.gpu.timeSlicing.replicas"
    with pytest.raises(ConfigError) as error:
        read_platform_config({"gpu": {"timeSlicing": {"replicas": 1}}}, at=site(shared_gpus=1))
    assert "whole GPU under another name" in refused(error.value, key)
    with pytest.raises(ConfigError) as error:
        read_platform_config({"gpu": {"timeSlicing": {"replicas": 4}}}, at=site(shared_gpus=0))
    assert "no host has it" in refused(error.value, key)


def test_gpu_series_keep_the_workloads_namespace_and_pod():
    monitor = values(settings("managed"))["dcgmExporter"]["serviceMonitor"]
    assert monitor["honorLabels"] is True


def test_the_dcgm_dashboard_ships_with_the_operator_when_the_stack_has_monitoring():
    managed = settings("managed")
    monitored = deploy_addon(gpu.ADDON, managed, enabled=["monitoring"])
    dashboard = monitored.named("gpu-operator-dashboard")
    params = bundle_params(dashboard)
    assert params["URL"] == versions.DCGM_DASHBOARD.url
    assert params["SHA256"] == versions.DCGM_DASHBOARD.sha256
    assert params["NAMESPACE"] == "gpu-operator" and params["FOLDER"] == "GPU"
    assert "ACTION=delete" in dashboard.inputs["delete"]
    unmonitored = deploy_addon(gpu.ADDON, managed)
    assert not [r for r in unmonitored.registrations if r.name.endswith("-dashboard")]
