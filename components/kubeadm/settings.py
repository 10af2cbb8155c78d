"""The `kubernetes:` section of the stack config: what the cluster is, read by KubeadmCluster."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from components import versions
from model.formats import CIDR, DNS_LABEL, KUBERNETES_VERSION
from model.settings import Derived, setting

Cni = Literal["calico", "canal"]


@dataclass(frozen=True, kw_only=True)
class KubernetesSettings:
    version: str = setting(
        "version",
        versions.KUBERNETES_VERSION,
        format=KUBERNETES_VERSION,
        doc="exact Kubernetes release; kubeadm, kubelet and kubectl are pinned and held at it",
    )
    cni: Cni = setting(
        "cni",
        "calico",
        doc="pod network; Canal is flannel with Calico's policy (flannel alone enforces no NetworkPolicy)",
    )
    pod_subnet: ipaddress.IPv4Network = setting(
        "podSubnet",
        ipaddress.IPv4Network("10.244.0.0/16"),
        format=CIDR,
        doc="pod addresses; must not overlap services, hosts or the VPC",
    )
    service_subnet: ipaddress.IPv4Network = setting(
        "serviceSubnet", ipaddress.IPv4Network("10.96.0.0/12"), format=CIDR, doc="Service addresses"
    )
    cluster_name: str = setting(
        "clusterName",
        Derived(lambda context, _: f"ml-platform-{context.stack}".lower(), "`ml-platform-<stack>`"),
        format=DNS_LABEL,
        doc="also the AWS `kubernetes.io/cluster/<name>` tag",
    )
    etcd_snapshot_retention_days: int = setting(
        "etcdSnapshotRetentionDays",
        7,
        minimum=1,
        doc="days of etcd snapshots kept on each control plane",
    )

    @property
    def minor(self) -> str:
        """`1.36` for `1.36.4`: the pkgs.k8s.io repository the packages come from."""
        return versions.minor(self.version)
