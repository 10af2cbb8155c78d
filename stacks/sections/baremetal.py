"""The `baremetal:` section: lab hosts that exist already, reached over SSH."""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass

from model.fields import MISSING, Fields
from model.formats import (
    ADDRESS_RANGE,
    CIDR,
    DEVICE_PATH,
    DNS_LABEL,
    DNS_LABEL_PATTERN,
    HOST,
    HTTPS_URL,
    INTERFACE,
    IPV4,
    SSH_HOST_KEY,
    UNIX_USER,
)
from model.inventory import CONTROL_PLANE, SHARED, GpuSpec, Role
from model.settings import Context, keys_of, read_settings, setting
from model.site import API_SERVER_PORT, Site
from model.values import AddressRange

# Lab node names are the configured host names, DNS labels (the config checks them).
NODE_NAMES = f"^{DNS_LABEL_PATTERN}$"


@dataclass(frozen=True, kw_only=True)
class HostConfig:
    name: str = setting("name", format=DNS_LABEL, doc="the node name")
    address: ipaddress.IPv4Address = setting("address", format=IPV4, doc="the host's address")
    roles: tuple[Role, ...] = setting("roles", doc="`control-plane`, `worker` or both")
    gpu: GpuSpec | None = setting("gpu", None, doc="the host's GPUs")
    storage_devices: tuple[str, ...] = setting(
        "storageDevices",
        (),
        format=DEVICE_PATH,
        doc="whole devices Ceph may take (it wipes them); /dev/disk/by-id paths are stable",
    )
    host_key: str | None = setting(
        "hostKey",
        None,
        format=SSH_HOST_KEY,
        doc="the host's SSH host key (`ssh-ed25519 AAAA...`), verified on every connection; "
        "required unless `insecureIgnoreHostKeys`; collect with `tools/host_keys.py`",
    )
    unreachable: bool = setting(
        "unreachable",
        False,
        doc="the machine is dead or cut off: nothing runs on it, and removing or replacing it in "
        "a later `up` skips `kubeadm reset` on it (docs/operations/replace-node.md)",
    )


@dataclass(frozen=True, kw_only=True)
class Bastion:
    address: str = setting("address", format=HOST, doc="the jump host")
    user: str | None = setting("user", None, format=UNIX_USER, doc="default: `sshUser`")
    host_key: str | None = setting(
        "hostKey",
        None,
        format=SSH_HOST_KEY,
        doc="the jump host's SSH host key; required unless `insecureIgnoreHostKeys`",
    )


@dataclass(frozen=True, kw_only=True)
class BaremetalConfig:
    ssh_user: str = setting(
        "sshUser", "ubuntu", format=UNIX_USER, doc="user with password-less sudo on every host"
    )
    ssh_port: int = setting("sshPort", 22, minimum=1, maximum=65535, doc="SSH port of the hosts")
    control_plane_vip: ipaddress.IPv4Address = setting(
        "controlPlaneVip",
        format=IPV4,
        doc="kube-vip address of the API server; not a host, not in the pool",
    )
    vip_interface: str = setting(
        "vipInterface",
        format=INTERFACE,
        doc="control planes' NIC on which kube-vip announces the VIP",
    )
    host_network: ipaddress.IPv4Network = setting(
        "hostNetwork",
        format=CIDR,
        doc="the hosts' segment: every host address, the VIP and the MetalLB pool lie in it",
    )
    load_balancer_addresses: AddressRange = setting(
        "loadBalancerAddresses",
        format=ADDRESS_RANGE,
        doc="MetalLB's pool for LoadBalancer Services",
    )
    bastion: Bastion | None = setting("bastion", None, doc="jump host for SSH")
    init_host: str = setting(
        "initHost",
        format=DNS_LABEL,
        doc="the control plane where `kubeadm init` runs (once, at the start) and the cluster-wide "
        "steps run; named, so reordering `hosts` changes nothing",
    )
    hosts: tuple[HostConfig, ...] = setting(
        "hosts", doc="the machines; an odd number of control planes"
    )
    insecure_ignore_host_keys: bool = setting(
        "insecureIgnoreHostKeys",
        False,
        doc="INSECURE: connect without verifying host keys, so whoever answers on a host's "
        "address gets the join secrets; only for a first test on an isolated network",
    )
    api_server_url: str | None = setting(
        "apiServerUrl",
        None,
        format=HTTPS_URL,
        doc="where `pulumi up` and the exported kubeconfig reach the API server when the VIP is "
        "not routable from there, e.g. `https://127.0.0.1:6443` through "
        "`ssh -L 6443:<controlPlaneVip>:6443 <bastion>`",
    )

    def site(self) -> Site:
        hosts = self.hosts
        return Site(
            cloud=None,
            api_port=API_SERVER_PORT,
            node_network=str(self.host_network),
            node_name_pattern=NODE_NAMES,
            node_names_resolve=False,
            load_balancer_pool=str(self.load_balancer_addresses),
            shared_filesystem=False,
            gpu_hosts=sum(1 for h in hosts if h.gpu),
            gpus=sum(h.gpu.count for h in hosts if h.gpu),
            storage_hosts=sum(1 for h in hosts if h.storage_devices),
            shared_gpus=sum(h.gpu.count for h in hosts if h.gpu and h.gpu.sharing == SHARED),
        )


def read(top: Fields, context: Context) -> BaremetalConfig | None:
    section = top.section("baremetal", keys_of(BaremetalConfig), required=True)
    config = None if section is None else read_settings(BaremetalConfig, section, context)
    if config is not None:
        _check_hosts(section, config.hosts)
        _check_init_host(section, config)
        _check_host_keys(section, config)
        _check_addresses(section, config)
    return config


def _check_hosts(section: Fields, hosts: tuple[HostConfig, ...]) -> None:
    for index, host in enumerate(hosts):
        if not host.roles:
            section.problems.add(
                f"{section.key('hosts')}[{index}].roles",
                [],
                "is empty",
                "give the host control-plane, worker or both",
            )
    for attribute in ("name", "address"):
        for value, seen in Counter(getattr(h, attribute) for h in hosts).items():
            if seen > 1:
                section.problems.add(
                    section.key("hosts"), str(value),
                    f"{seen} hosts share the {attribute} {value}",
                    f"give each host its own {attribute}",
                )  # fmt: skip
    planes = sum(1 for h in hosts if CONTROL_PLANE in h.roles)
    control_plane_count(section, "hosts", planes)
    keys = Counter(h.host_key for h in hosts if h.host_key)
    for key, seen in keys.items():
        if seen > 1:
            shared = ", ".join(h.name for h in hosts if h.host_key == key)
            section.problems.add(
                section.key("hosts"), key,
                f"hosts {shared} share one host key (a cloned image?): they cannot be told apart",
                "regenerate the host keys on the clones (ssh-keygen -A after removing "
                "/etc/ssh/ssh_host_*) and collect them again",
            )  # fmt: skip


def _check_init_host(section: Fields, config: BaremetalConfig) -> None:
    named = [h for h in config.hosts if h.name == config.init_host]
    planes = [h.name for h in config.hosts if CONTROL_PLANE in h.roles]
    if not named:
        section.bad(
            "initHost",
            "is not one of the hosts",
            f"name the control plane where kubeadm init runs: one of {', '.join(planes)}",
        )
    elif CONTROL_PLANE not in named[0].roles:
        section.bad(
            "initHost",
            f"host {config.init_host} is not a control plane",
            f"name a control-plane host: one of {', '.join(planes)}",
        )


def _check_host_keys(section: Fields, config: BaremetalConfig) -> None:
    if config.insecure_ignore_host_keys:
        return
    fix = (
        "collect the keys with `python tools/host_keys.py --stack <stack>`, check them, and add "
        "each as hostKey (or set insecureIgnoreHostKeys: true, which sends the join secrets to "
        "whoever answers on these addresses)"
    )
    for index, host in enumerate(config.hosts):
        if host.host_key is None:
            section.problems.add(
                f"{section.key('hosts')}[{index}].hostKey", MISSING,
                f"host {host.name} has no host key: anyone answering on {host.address} would "
                "receive the cluster's secrets", fix,
            )  # fmt: skip
    if config.bastion is not None and config.bastion.host_key is None:
        section.problems.add(
            f"{section.key('bastion')}.hostKey", MISSING, "the bastion has no host key", fix
        )


def control_plane_count(section: Fields, key: str, count: int) -> None:
    if count == 0 or count % 2 == 0:
        section.problems.add(
            section.key(key),
            count,
            "etcd needs an odd number of control planes (a quorum survives one loss with 3)",
            "use 1 (no HA), 3 or 5 control-plane hosts",
        )


def _check_addresses(section: Fields, bm: BaremetalConfig) -> None:
    """The VIP and the MetalLB pool against each other, the hosts and the hosts' network: ARP
    (kube-vip, MetalLB L2) answers only on the hosts' own segment."""
    pool, vip, network = bm.load_balancer_addresses, bm.control_plane_vip, bm.host_network
    fix = f"use addresses inside hostNetwork ({network}), or correct hostNetwork"
    if pool.first not in network or pool.last not in network:
        section.problems.add(
            section.key("loadBalancerAddresses"), str(pool),
            f"is not inside the hosts' network {network}: MetalLB's ARP answers would reach no one",
            fix,
        )  # fmt: skip
    if vip not in network:
        section.problems.add(
            section.key("controlPlaneVip"),
            str(vip),
            f"is not inside the hosts' network {network}",
            fix,
        )
    if vip in pool:
        section.problems.add(
            section.key("controlPlaneVip"), str(vip), f"lies inside the MetalLB pool {pool}",
            "take the VIP out of loadBalancerAddresses (MetalLB would hand it to a Service)",
        )  # fmt: skip
    for index, host in enumerate(bm.hosts):
        if host.address not in network:
            section.problems.add(
                f"{section.key('hosts')}[{index}].address", str(host.address),
                f"host {host.name} is not inside the hosts' network {network}", fix,
            )  # fmt: skip
        if host.address == vip:
            section.problems.add(
                section.key("controlPlaneVip"), str(vip), f"is the address of host {host.name}",
                "use a free address on the hosts' network for the VIP",
            )  # fmt: skip
        elif host.address in pool:
            section.problems.add(
                section.key("loadBalancerAddresses"), str(pool),
                f"contains host {host.name}'s address {host.address}",
                "use a range of free addresses",
            )  # fmt: skip
