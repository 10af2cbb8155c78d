"""The AWS cloud controller manager, built alone."""

from __future__ import annotations

from components import versions
from components.addons import cloud_controller
from tests.helpers import deploy_addon, read_platform_config, releases, site


def test_it_runs_on_control_planes_and_leaves_routes_alone():
    evaluation = deploy_addon(cloud_controller.ADDON, at=site("aws"))
    values = releases(evaluation)["aws-cloud-controller-manager"].inputs["values"]
    assert "--configure-cloud-routes=false" in values["args"]
    assert values["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert values["image"]["tag"] == versions.AWS_CLOUD_CONTROLLER_MANAGER_IMAGE_TAG
    tolerated = {t["key"] for t in values["tolerations"]}
    assert "node.cloudprovider.kubernetes.io/uninitialized" in tolerated


def test_only_aws_gets_it_and_everything_else_waits_for_it():
    assert "aws-cloud-controller" in read_platform_config({}, at=site("aws")).enabled
    assert "aws-cloud-controller" not in read_platform_config({}).enabled
    assert cloud_controller.ADDON.first
