"""Checks that span several config keys: counts, collisions, overlaps, capacity.

Each check records problems on the reader it is given and returns nothing, so that
`parse_config` can run them all and report every problem together.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from stacks.fields import Fields

if TYPE_CHECKING:
    from stacks.config import (
        AddonsConfig,
        BaremetalConfig,
        HostConfig,
        KubernetesConfig,
        TenantsConfig,
    )
    from stacks.config import (
        AwsConfig as AwsConfigType,
    )

# Each AZ gets one public and one private subnet carved out of the VPC; /24 is the smallest
# private subnet that still holds a useful number of nodes and the NLB's addresses.
SMALLEST_SUBNET_PREFIX = 24


def control_plane_count(fields: Fields, key: str, count: int) -> None:
    if count == 0 or count % 2 == 0:
        fields.problems.add(
            fields.key(key),
            count,
            "etcd needs an odd number of control planes (a quorum survives one loss with 3)",
            "use 1 (no HA), 3 or 5 control-plane hosts",
        )


def host_list(bm: Fields, hosts: Iterable[HostConfig]) -> None:
    hosts = tuple(hosts)
    for attribute, label in (("name", "name"), ("address", "address")):
        counts = Counter(getattr(h, attribute) for h in hosts)
        for value, seen in counts.items():
            if seen > 1:
                bm.problems.add(
                    bm.key("hosts"),
                    str(value),
                    f"{seen} hosts share the {label} {value}",
                    f"give each host its own {label}",
                )
    planes = sum(1 for h in hosts if "control-plane" in h.roles)
    control_plane_count(bm, "hosts", planes)


def aws_shape(aws: Fields, fields: Mapping[str, Any]) -> None:
    for cidr in fields["admin_cidrs"] or ():
        if cidr.prefixlen == 0:
            aws.bad(
                "adminCidrs",
                f"{cidr} opens SSH and the API server to the whole internet",
                "list only the networks your administrators connect from, e.g. 198.51.100.0/24",
            )
    if fields["control_plane"] is not None:
        control_plane_count(aws, "controlPlane.count", fields["control_plane"].count)
    vpc, zones = fields["vpc_cidr"], fields["availability_zones"]
    if vpc is not None and zones:
        needed = vpc.prefixlen + math.ceil(math.log2(2 * zones))
        if needed > SMALLEST_SUBNET_PREFIX:
            aws.bad(
                "vpcCidr",
                f"is too small for a public and a private /{SMALLEST_SUBNET_PREFIX} in {zones} AZs",
                f"use a /{SMALLEST_SUBNET_PREFIX - (needed - vpc.prefixlen)} or larger VPC",
            )


def _overlaps(fields: Fields, networks: Mapping[str, ipaddress.IPv4Network]) -> None:
    named = list(networks.items())
    for i, (key_a, net_a) in enumerate(named):
        for key_b, net_b in named[i + 1 :]:
            if net_a.overlaps(net_b):
                fields.problems.add(
                    key_b,
                    str(net_b),
                    f"overlaps {key_a} ({net_a})",
                    "choose ranges that do not overlap",
                )


def _k8s_networks(top: Fields, k8s: KubernetesConfig) -> dict[str, ipaddress.IPv4Network]:
    return {
        f"{top.key('kubernetes')}.podSubnet": k8s.pod_subnet,
        f"{top.key('kubernetes')}.serviceSubnet": k8s.service_subnet,
    }


def aws_networks(top: Fields, k8s: KubernetesConfig, aws: AwsConfigType) -> None:
    _overlaps(top, {**_k8s_networks(top, k8s), f"{top.key('aws')}.vpcCidr": aws.vpc_cidr})


def baremetal_networks(top: Fields, k8s: KubernetesConfig, bm: BaremetalConfig) -> None:
    networks = _k8s_networks(top, k8s)
    _overlaps(top, {f"{top.key('baremetal')}.hostNetwork": bm.host_network, **networks})
    bm_key = top.key("baremetal")
    pool = bm.load_balancer_addresses
    pool_key = f"{bm_key}.loadBalancerAddresses"
    vip_key = f"{bm_key}.controlPlaneVip"
    vip = bm.control_plane_vip
    for key, network in networks.items():
        for address, what in ((vip, vip_key), (pool.first, pool_key), (pool.last, pool_key)):
            if address in network:
                top.problems.add(
                    what,
                    str(address),
                    f"lies inside {key} ({network})",
                    "use a host-network address",
                )
        for host in bm.hosts:
            if host.address in network:
                top.problems.add(
                    f"{bm_key}.hosts", str(host.address),
                    f"host {host.name} lies inside {key} ({network})",
                    f"move {key} away from the hosts' network",
                )  # fmt: skip


def baremetal_addresses(top: Fields, bm: BaremetalConfig) -> None:
    """The VIP and the MetalLB pool against each other, the hosts and the hosts' network."""
    bm_key = top.key("baremetal")
    pool, vip = bm.load_balancer_addresses, bm.control_plane_vip
    pool_key, vip_key = f"{bm_key}.loadBalancerAddresses", f"{bm_key}.controlPlaneVip"
    _inside_host_network(top, bm)
    if vip in pool:
        top.problems.add(
            vip_key, str(vip), f"lies inside the MetalLB pool {pool}",
            "take the VIP out of loadBalancerAddresses (MetalLB would hand it to a Service)",
        )  # fmt: skip
    for host in bm.hosts:
        if host.address == vip:
            top.problems.add(
                vip_key, str(vip), f"is the address of host {host.name}",
                "use a free address on the hosts' network for the VIP",
            )  # fmt: skip
        elif host.address in pool:
            top.problems.add(
                pool_key, str(pool), f"contains host {host.name}'s address {host.address}",
                "use a range of free addresses",
            )  # fmt: skip


def platform_needs(top: Fields, platform: AddonsConfig, gpu_hosts: int, storage_hosts: int) -> None:
    key = top.key("platform")
    gpu = platform.gpu
    if gpu_hosts == 0 and (gpu.enabled or gpu.mig or gpu.time_slicing_replicas > 1):
        top.problems.add(
            f"{key}.gpu", "enabled", "GPU features are set but no host has a GPU",
            "add gpu: {model, count} to the GPU hosts, or remove platform.gpu",
        )  # fmt: skip
    infrastructure = top.raw("infrastructure")
    if platform.storage == "rook-ceph":
        if infrastructure == "aws":
            top.problems.add(
                f"{key}.storage.provider", "rook-ceph", "Rook-Ceph is for bare-metal hosts",
                "use provider: aws (EBS and EFS) on AWS",
            )  # fmt: skip
        elif storage_hosts < 3:
            top.problems.add(
                f"{key}.storage.provider", "rook-ceph",
                f"Ceph keeps three replicas on distinct hosts but only {storage_hosts} "
                "host(s) list storageDevices",
                "give at least three hosts storageDevices, or set provider: none",
            )  # fmt: skip
    if platform.storage == "aws" and infrastructure != "aws":
        top.problems.add(
            f"{key}.storage.provider", "aws", "EBS and EFS exist only on AWS",
            "use rook-ceph or none on bare metal",
        )  # fmt: skip
    if platform.object_store == "ceph-rgw" and platform.storage != "rook-ceph":
        top.problems.add(
            f"{key}.mlflow.objectStore", "ceph-rgw", "needs storage.provider rook-ceph",
            "use s3 on AWS or minio elsewhere",
        )  # fmt: skip
    if platform.object_store == "s3" and infrastructure != "aws":
        top.problems.add(
            f"{key}.mlflow.objectStore", "s3", "the s3 store is an AWS bucket",
            "use ceph-rgw or minio on bare metal",
        )  # fmt: skip
    monitoring = platform.monitoring
    if monitoring.enabled and platform.storage == "none" and not monitoring.storage_class:
        top.problems.add(
            f"{key}.monitoring.storageClass", None,
            "Prometheus and Grafana need volumes, but storage.provider is none and no class is named",
            "name an existing StorageClass in monitoring.storageClass, or choose a storage provider",
        )  # fmt: skip


def tenant_names(tenants: Fields, members: Iterable[Any]) -> None:
    counts = Counter(m.name for m in members)
    for name, seen in counts.items():
        if seen > 1:
            tenants.problems.add(
                tenants.path,
                name,
                f"{seen} tenants are named {name}",
                "give each tenant its own name",
            )


def tenant_capacity(
    top: Fields, tenants: TenantsConfig, platform: AddonsConfig, total_gpus: int
) -> None:
    key = top.key("tenants")
    dedicated = sum(f.dedicated_gpus for f in tenants.faculty)
    if dedicated > total_gpus:
        top.problems.add(
            f"{key}.faculty", dedicated,
            f"dedicates {dedicated} GPUs but the hosts have {total_gpus}",
            "lower dedicatedGpus or add GPU hosts",
        )  # fmt: skip
    replicas = platform.gpu.time_slicing_replicas
    for course in tenants.courses:
        if course.notebook_gpu_fraction > replicas:
            top.problems.add(
                f"{key}.courses.{course.name}.notebookGpuFraction",
                f"1/{course.notebook_gpu_fraction}",
                f"a GPU is shared by at most {replicas} (platform.gpu.timeSlicing.replicas)",
                f"raise timeSlicing.replicas to {course.notebook_gpu_fraction} or use 1/{replicas}",
            )  # fmt: skip


def _inside_host_network(top: Fields, bm: BaremetalConfig) -> None:
    """ARP (kube-vip, MetalLB L2) answers only on the hosts' own segment: an address outside
    it is never reached."""
    bm_key, network = top.key("baremetal"), bm.host_network
    pool = bm.load_balancer_addresses
    fix = f"use addresses inside hostNetwork ({network}), or correct hostNetwork"
    if pool.first not in network or pool.last not in network:
        top.problems.add(
            f"{bm_key}.loadBalancerAddresses", str(pool),
            f"is not inside the hosts' network {network}: MetalLB's ARP answers would reach no one",
            fix,
        )  # fmt: skip
    if bm.control_plane_vip not in network:
        top.problems.add(
            f"{bm_key}.controlPlaneVip", str(bm.control_plane_vip),
            f"is not inside the hosts' network {network}", fix,
        )  # fmt: skip
    for index, host in enumerate(bm.hosts):
        if host.address not in network:
            top.problems.add(
                f"{bm_key}.hosts[{index}].address", str(host.address),
                f"host {host.name} is not inside the hosts' network {network}", fix,
            )  # fmt: skip
