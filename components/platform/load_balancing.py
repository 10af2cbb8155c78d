"""LoadBalancer Services on both stacks: MetalLB (L2) on bare metal, the AWS cloud controller
manager on AWS (it also initialises the nodes kubelet registered with an external cloud)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions
from components.platform.release import PRIVILEGED, namespace, release

CONTROL_PLANE_TOLERATION = {
    "key": "node-role.kubernetes.io/control-plane",
    "operator": "Exists",
    "effect": "NoSchedule",
}


@dataclass(frozen=True)
class MetalLbArgs:
    addresses: str  # first-last, from baremetal.loadBalancerAddresses
    depends_on: Sequence[pulumi.Resource]


def metallb_values() -> dict[str, Any]:
    return {
        # 0.16 made the FRR-K8s backend the default; plain L2 needs neither FRR flavour.
        "frrk8s": {"enabled": False},
        "speaker": {"frr": {"enabled": False}},
        "controller": {"tolerations": [CONTROL_PLANE_TOLERATION]},
    }


def address_pool_spec(addresses: str) -> dict[str, Any]:
    return {"addresses": [addresses], "autoAssign": True}


class MetalLb(pulumi.ComponentResource):
    NAMESPACE = "metallb-system"
    POOL = "default"

    def __init__(
        self, name: str, args: MetalLbArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:MetalLb", name, None, opts)
        # The speaker uses the host network to answer ARP.
        ns = namespace(self.NAMESPACE, PRIVILEGED, self, args.depends_on)
        chart = release("metallb", versions.METALLB, ns, metallb_values(), self)
        # MetalLB's webhook refuses pools until its controller is ready: the release waits
        # for that, so the pool comes after it.
        after_chart = pulumi.ResourceOptions(parent=self, depends_on=[chart])
        metadata = {"name": self.POOL, "namespace": self.NAMESPACE}
        self.pool = kubernetes.apiextensions.CustomResource(
            f"{name}-pool",
            api_version="metallb.io/v1beta1",
            kind="IPAddressPool",
            metadata=metadata,
            spec=address_pool_spec(args.addresses),
            opts=after_chart,
        )
        self.advertisement = kubernetes.apiextensions.CustomResource(
            f"{name}-l2",
            api_version="metallb.io/v1beta1",
            kind="L2Advertisement",
            metadata=metadata,
            spec={"ipAddressPools": [self.POOL]},
            opts=after_chart,
        )
        self.register_outputs({})


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
