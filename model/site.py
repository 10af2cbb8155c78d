"""What the place offers the platform, as capabilities rather than a name to switch on.

Built from the stack config before anything exists: add-ons read it for their per-site
defaults and checks (`PerSite` picks on `cloud`), and again when they deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Cloud = Literal["aws"]
# kubeadm's API server port, the same on every site.
API_SERVER_PORT = 6443


@dataclass(frozen=True)
class Site:
    # The cloud whose APIs the cluster uses (its controller manager, volumes, buckets, load
    # balancers); None on bare metal.
    cloud: Cloud | None
    # The port clients and joining nodes reach the API server on.
    api_port: int
    # The network the nodes' addresses come from (the lab segment, the VPC).
    node_network: str
    # What every kubelet's node name matches (the CSR approver's fence).
    node_name_pattern: str
    # Whether node names resolve in DNS to the node's address (EC2 names do, lab names not).
    node_names_resolve: bool
    # Addresses for LoadBalancer Services where no cloud load balancer exists (`first-last`).
    load_balancer_pool: str | None
    # A ReadWriteMany file system the cloud offers (EFS); its id comes with the inventory.
    shared_filesystem: bool
    # What the hosts bring, counted from the config.
    gpu_hosts: int
    gpus: int
    storage_hosts: int
    # False when the infrastructure section is wrong: checks that compare against the hosts
    # are skipped rather than adding noise to the real problems.
    hosts_known: bool = True
    # The cloud region (its S3 endpoint and the region S3 clients sign for); None on bare metal.
    region: str | None = None
    # Of `gpus`, those of hosts whose GPUs are time-sliced (`gpu.sharing: shared`).
    shared_gpus: int = 0

    @property
    def exclusive_gpus(self) -> int:
        return self.gpus - self.shared_gpus

    @classmethod
    def unknown(cls, cloud: Cloud | None) -> Site:
        """A stand-in while the infrastructure section has problems: per-site defaults still
        apply, host counts are unknown."""
        return cls(cloud, API_SERVER_PORT, "", "", False, None, cloud is not None, 0, 0, 0, False)
