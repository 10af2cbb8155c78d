"""The AWS cloud controller manager: it initialises the nodes kubelet registered with an
external cloud (they stay tainted until it has) and makes NLBs for LoadBalancer Services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import CONTROL_PLANE_TOLERATION, release


@dataclass(frozen=True)
class CloudControllerArgs:
    depends_on: Sequence[pulumi.Resource]


def cloud_controller_values() -> dict[str, Any]:
    return {
        "image": {"tag": versions.AWS_CLOUD_CONTROLLER_MANAGER_IMAGE_TAG},
        "args": [
            "--v=2",
            "--cloud-provider=aws",
            "--use-service-account-credentials=true",
            # Calico routes pods itself; the VPC route tables stay as the program made them.
            "--configure-cloud-routes=false",
        ],
        # Reaches IMDS for the instance role without depending on the pod network.
        "hostNetworking": True,
        "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
        "tolerations": [
            {
                "key": "node.cloudprovider.kubernetes.io/uninitialized",
                "value": "true",
                "effect": "NoSchedule",
            },
            CONTROL_PLANE_TOLERATION,
            # Nodes stay NotReady until it initialises them; it must run before that.
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"},
        ],
    }


class AwsCloudControllerManager(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: CloudControllerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:AwsCloudControllerManager", name, None, opts)
        # The chart installs into kube-system whatever the release namespace.
        self.release = release(
            "aws-cloud-controller-manager",
            versions.AWS_CLOUD_CONTROLLER_MANAGER,
            "kube-system",
            cloud_controller_values(),
            self,
            depends_on=args.depends_on,
        )
        self.register_outputs({})


def _deploy(_settings: None, context: AddonContext) -> Deployed:
    return Deployed(
        AwsCloudControllerManager("ccm", CloudControllerArgs(context.depends_on), context.opts)
    )


ADDON: Addon[None] = Addon(
    name="aws-cloud-controller",
    summary="AWS cloud controller manager: initialises nodes, makes NLBs for LoadBalancer Services",
    deploy=_deploy,
    charts=(versions.AWS_CLOUD_CONTROLLER_MANAGER,),
    enabled=lambda _settings, context: context.site.cloud == "aws",
    when="on AWS",
    first=True,
)
