"""MlPlatform: the add-ons on the cluster, ordered only where one needs another.

    CNI (+ the AWS cloud controller manager, which untaints AWS nodes)
      └─ Prometheus CRDs
           ├─ kubelet CSR approver ── metrics-server ── VPA
           ├─ MetalLB (lab) ── Traefik
           ├─ cert-manager ── ClusterIssuer
           ├─ Rook-Ceph (lab) | EBS + EFS CSI (AWS) ── kube-prometheus-stack
           └─ GPU operator

Everything on one level installs in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.platform.autoscaling import Autoscaling, AutoscalingArgs
from components.platform.certificates import (
    CertManager,
    CertManagerArgs,
    CsrApproverArgs,
    KubeletCsrApprover,
)
from components.platform.gpu import GpuOperator, GpuOperatorArgs
from components.platform.ingress import INGRESS_CLASS, Traefik, TraefikArgs
from components.platform.load_balancing import (
    AwsCloudControllerManager,
    CloudControllerArgs,
    MetalLb,
    MetalLbArgs,
)
from components.platform.monitoring import Monitoring, MonitoringArgs, PrometheusCrds
from components.platform.storage import (
    AwsStorage,
    AwsStorageArgs,
    RookCeph,
    RookCephArgs,
    StorageNode,
)
from stacks.config import AddonsConfig
from stacks.inventory import Inventory

# The approver checks that a kubelet asks only for its own node name and for addresses in
# the node network; the name pattern is the second fence. Lab node names are DNS labels (the
# config checks them), so adding a host changes nothing here.
LAB_NODE_NAMES = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# EC2 private DNS names: ip-10-0-1-23.ec2.internal (us-east-1), ip-...<region>.compute.internal.
AWS_NODE_NAMES = r"^ip-(\d{1,3}-){3}\d{1,3}\.(ec2|[a-z0-9-]+\.compute)\.internal$"


@dataclass(frozen=True)
class MlPlatformArgs:
    addons: AddonsConfig
    inventory: Inventory
    # What must run before any add-on: the pod network.
    cluster_ready: pulumi.Resource


def node_name_regex(inventory: Inventory) -> str:
    return AWS_NODE_NAMES if inventory.infrastructure == "aws" else LAB_NODE_NAMES


class MlPlatform(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: MlPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:MlPlatform", name, None, opts)
        addons, inventory = args.addons, args.inventory
        on_aws = inventory.infrastructure == "aws"
        child = pulumi.ResourceOptions(parent=self)
        base: list[pulumi.Resource] = [args.cluster_ready]
        load_balancer: pulumi.Resource
        if on_aws:
            # AWS nodes stay tainted until the CCM initialises them: everything waits for it.
            load_balancer = AwsCloudControllerManager("ccm", CloudControllerArgs(base), child)
            base = [load_balancer]
        else:
            addresses = inventory.load_balancer_addresses
            load_balancer = MetalLb("metallb", MetalLbArgs(addresses, base), child)
        monitored: list[pulumi.Resource] = [PrometheusCrds("prometheus-crds", base, child)]
        approver = KubeletCsrApprover(
            "kubelet-csr-approver",
            CsrApproverArgs(
                node_name_regex(inventory), inventory.node_network, not on_aws, monitored
            ),
            child,
        )
        self.ingress = Traefik(
            "traefik",
            TraefikArgs(addons.ingress_replicas, on_aws, [*monitored, load_balancer]),
            child,
        )
        self.certificates = CertManager(
            "cert-manager", CertManagerArgs(addons.certificates, INGRESS_CLASS, monitored), child
        )
        storage = self._storage(addons, inventory, monitored, child)
        if addons.gpu.enabled:
            GpuOperator("gpu-operator", GpuOperatorArgs(addons.gpu, monitored), child)
        self.monitoring: Monitoring | None = None
        if addons.monitoring.enabled:
            self.monitoring = Monitoring(
                "monitoring",
                MonitoringArgs(
                    addons.monitoring,
                    ceph_dashboards=addons.storage == "rook-ceph",
                    gpu_dashboards=addons.gpu.enabled,
                    depends_on=[*monitored, *storage],
                ),
                child,
            )
        Autoscaling("autoscaling", AutoscalingArgs(addons.vpa_mode, [*monitored, approver]), child)
        self.register_outputs({})

    def _storage(
        self,
        addons: AddonsConfig,
        inventory: Inventory,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        """The storage add-on, as what stateful add-ons wait for (nothing when none)."""
        if addons.storage == "rook-ceph":
            nodes = tuple(
                StorageNode(str(h.node_name or h.name), h.storage_devices)
                for h in inventory.storage_hosts
            )
            object_store = addons.object_store == "ceph-rgw"
            return [RookCeph("rook-ceph", RookCephArgs(nodes, object_store, depends_on), opts)]
        if addons.storage == "aws":
            args = AwsStorageArgs(inventory.shared_filesystem_id, depends_on)
            return [AwsStorage("aws-storage", args, opts)]
        return []
