"""Bare-metal infrastructure: the hosts exist already; the inventory only describes them."""

from __future__ import annotations

from model.inventory import Host, Inventory, SshAccess
from stacks.config import StackConfig
from stacks.sshkeys import public_key_output


def build_inventory(config: StackConfig) -> Inventory:
    """The configured lab hosts, reached over SSH (host keys verified), with the kube-vip VIP
    as API endpoint."""
    bm = config.baremetal
    verify = not bm.insecure_ignore_host_keys
    access = SshAccess(
        user=bm.ssh_user,
        port=bm.ssh_port,
        private_key=config.ssh_private_key,
        bastion_address=bm.bastion.address if bm.bastion else None,
        bastion_user=(bm.bastion.user or bm.ssh_user) if bm.bastion else None,
        bastion_host_key=bm.bastion.host_key if bm.bastion and verify else None,
        authorized_keys=(public_key_output(config.ssh_private_key), *config.ssh_authorized_keys),
    )
    hosts = tuple(
        Host(
            name=h.name,
            address=str(h.address),
            roles=h.roles,
            connection=access.connection(str(h.address), h.host_key if verify else None),
            gpu=h.gpu,
            storage_devices=h.storage_devices,
            node_name=h.name,
            # A lab machine is known by its address: a new address is a new machine (prepared,
            # joined; the old one drained, reset and removed). Not the host key: adding keys to
            # an existing lab must not rebuild it (a new key only re-runs the idempotent steps).
            identity=str(h.address),
            reachable=not h.unreachable,
        )
        for h in bm.hosts
    )
    return Inventory(
        cluster_name=config.kubernetes.cluster_name,
        hosts=hosts,
        api_endpoint=str(bm.control_plane_vip),
        init_host=bm.init_host,
        api_server_url=bm.api_server_url,
        ssh=access,
    )
