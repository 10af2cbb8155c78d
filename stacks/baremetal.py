"""Bare-metal infrastructure: the hosts exist already; the inventory only describes them."""

from __future__ import annotations

from model.inventory import Host, Inventory, SshAccess
from stacks.config import StackConfig


def build_inventory(config: StackConfig) -> Inventory:
    """The configured lab hosts, reached over SSH, with the kube-vip VIP as API endpoint."""
    bm = config.baremetal
    access = SshAccess(
        user=bm.ssh_user,
        port=bm.ssh_port,
        private_key=config.ssh_private_key,
        bastion_address=bm.bastion.address if bm.bastion else None,
        bastion_user=(bm.bastion.user or bm.ssh_user) if bm.bastion else None,
    )
    hosts = tuple(
        Host(
            name=h.name,
            address=str(h.address),
            roles=h.roles,
            connection=access.connection(str(h.address)),
            gpu=h.gpu,
            storage_devices=h.storage_devices,
            node_name=h.name,
        )
        for h in bm.hosts
    )
    return Inventory(
        cluster_name=config.kubernetes.cluster_name,
        hosts=hosts,
        api_endpoint=str(bm.control_plane_vip),
    )
