"""The `aws:` section: the VPC and the instances this program creates."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from components.aws.network import ZONE_LETTERS
from model.fields import Fields
from model.formats import AMI, AWS_REGION, AWS_ZONE, CIDR, DNS_LABEL, INSTANCE_TYPE, UNIX_USER
from model.inventory import DEFAULT_GPU_SHARING, SHARED, GpuSpec
from model.settings import Context, keys_of, read_settings, setting, subsection
from model.site import API_SERVER_PORT, Site
from stacks.sections.baremetal import control_plane_count

# EC2 private DNS names: ip-10-0-1-23.ec2.internal (us-east-1), ip-...<region>.compute.internal.
NODE_NAMES = r"^ip-([0-9]{1,3}-){3}[0-9]{1,3}\.(ec2|[a-z0-9-]+\.compute)\.internal$"
# Each AZ gets one public and one private subnet carved out of the VPC; /24 is the smallest
# private subnet that still holds a useful number of nodes and the NLB's addresses.
SMALLEST_SUBNET_PREFIX = 24
# Subnets are carved by zone letter, not by position in the list, so adding or removing a zone
# never moves another zone's subnets: a public and a private slot for each of zones a..h.
SUBNET_BITS = math.ceil(math.log2(2 * len(ZONE_LETTERS)))
# adminCidrs together may span at most this many addresses (a /8): more is "the internet" in
# pieces (two /1 halves are 0.0.0.0/0).
MAX_ADMIN_ADDRESSES = 2**24
ApiAccess = Literal["internal", "public"]

# Instance types whose GPUs are known (model, count); any other GPU instance type must say
# `gpu:` itself.
GPU_INSTANCES: Mapping[str, tuple[str, int]] = {
    "g4dn.xlarge": ("t4", 1),
    "g4dn.2xlarge": ("t4", 1),
    "g5.xlarge": ("a10g", 1),
    "g5.2xlarge": ("a10g", 1),
    "g5.12xlarge": ("a10g", 4),
    "g6.xlarge": ("l4", 1),
    "g6.2xlarge": ("l4", 1),
    "g6.12xlarge": ("l4", 4),
    "g6e.xlarge": ("l40s", 1),
    "p4d.24xlarge": ("a100", 8),
    "p5.48xlarge": ("h100", 8),
}


@dataclass(frozen=True, kw_only=True)
class ControlPlaneGroup:
    count: int = setting("count", 3, minimum=1, doc="odd: etcd keeps a quorum")
    instance_type: str = setting(
        "instanceType", "m7i.large", format=INSTANCE_TYPE, doc="EC2 instance type"
    )
    root_volume_gb: int = setting("rootVolumeGb", 50, minimum=20, doc="encrypted gp3 root volume")
    gpu: GpuSpec | None = None


@dataclass(frozen=True, kw_only=True)
class WorkerGroup(ControlPlaneGroup):
    count: int = setting("count", 0, doc="CPU workers")
    instance_type: str = setting(
        "instanceType", "m7i.2xlarge", format=INSTANCE_TYPE, doc="EC2 instance type"
    )
    root_volume_gb: int = setting("rootVolumeGb", 100, minimum=20, doc="encrypted gp3 root volume")


@dataclass(frozen=True, kw_only=True)
class GpuWorkerGroup(ControlPlaneGroup):
    count: int = setting("count", 0, doc="GPU workers")
    instance_type: str = setting(
        "instanceType", "g6.xlarge", format=INSTANCE_TYPE, doc="EC2 GPU instance type"
    )
    root_volume_gb: int = setting("rootVolumeGb", 200, minimum=20, doc="encrypted gp3 root volume")
    gpu: GpuSpec | None = setting(
        "gpu",
        None,
        doc="known for g4dn, g5, g6, g6e, p4d and p5 types (then shared); required for others "
        "and to choose `sharing`",
    )


@dataclass(frozen=True, kw_only=True)
class AwsConfig:
    region: str = setting("region", format=AWS_REGION, doc="the AWS region")
    availability_zones: tuple[str, ...] = setting(
        "availabilityZones",
        format=AWS_ZONE,
        doc="zone names, e.g. [us-east-1a, us-east-1b, us-east-1c]: a public and a private subnet "
        "in each, keyed by name (adding or removing a zone leaves the others and their "
        "instances alone); instances go round-robin over them in this order",
    )
    vpc_cidr: ipaddress.IPv4Network = setting(
        "vpcCidr", ipaddress.IPv4Network("10.0.0.0/16"), format=CIDR, doc="the VPC's addresses"
    )
    admin_cidrs: tuple[ipaddress.IPv4Network, ...] = setting(
        "adminCidrs",
        format=CIDR,
        doc="who may reach SSH (bastion only) and the API; the whole internet is refused",
    )
    ami: str | None = setting(
        "ami",
        None,
        format=AMI,
        doc="pin an AMI (default: Ubuntu 24.04 lookup); new AMIs never replace nodes",
    )
    ssh_user: str = setting("sshUser", "ubuntu", format=UNIX_USER, doc="the AMI's login user")
    api_access: ApiAccess = setting(
        "apiAccess",
        "internal",
        doc="`internal`: the API load balancer is reachable inside the VPC only (run `pulumi up` "
        "from there); `public`: an internet-facing one too, open to `adminCidrs` only",
    )
    unreachable_hosts: tuple[str, ...] = setting(
        "unreachableHosts",
        (),
        format=DNS_LABEL,
        doc="instances (cp-1, gpu-2...) that are dead: nothing runs on them, and replacing them "
        "later skips `kubeadm reset` (docs/operations/replace-node.md)",
    )
    control_plane: ControlPlaneGroup = subsection(
        "controlPlane", ControlPlaneGroup, doc="control-plane instances"
    )
    workers: WorkerGroup = subsection("workers", WorkerGroup, doc="CPU worker instances")
    gpu_workers: GpuWorkerGroup = subsection(
        "gpuWorkers", GpuWorkerGroup, doc="GPU worker instances"
    )

    def site(self) -> Site:
        gpu = self.gpu_workers.gpu
        return Site(
            cloud="aws",
            api_port=API_SERVER_PORT,
            node_network=str(self.vpc_cidr),
            node_name_pattern=NODE_NAMES,
            node_names_resolve=True,
            load_balancer_pool=None,
            shared_filesystem=True,
            gpu_hosts=self.gpu_workers.count,
            gpus=self.gpu_workers.count * gpu.count if gpu else 0,
            storage_hosts=0,
            region=self.region,
            shared_gpus=self.gpu_workers.count * gpu.count if gpu and gpu.sharing == SHARED else 0,
        )


def read(top: Fields, context: Context) -> AwsConfig | None:
    section = top.section("aws", keys_of(AwsConfig), required=True)
    config = None if section is None else read_settings(AwsConfig, section, context)
    if config is None:
        return None
    _check_shape(section, config)
    return _with_known_gpu(section, config, context)


def _check_shape(section: Fields, config: AwsConfig) -> None:
    union = list(ipaddress.collapse_addresses(config.admin_cidrs))
    total = sum(network.num_addresses for network in union)
    if total > MAX_ADMIN_ADDRESSES:
        section.bad(
            "adminCidrs",
            f"together cover {total} addresses ({', '.join(map(str, union))}): that opens SSH "
            "and the API server to the internet",
            "list only the networks your administrators connect from, e.g. 198.51.100.0/24 "
            "(at most a /8 in all)",
        )
    control_plane_count(section, "controlPlane.count", config.control_plane.count)
    for zone, seen in Counter(config.availability_zones).items():
        if seen > 1:
            section.bad("availabilityZones", f"lists {zone} {seen} times", "list each zone once")
    for zone in config.availability_zones:
        if zone[:-1] != config.region:
            section.bad(
                "availabilityZones",
                f"{zone} is not a zone of {config.region}",
                f"use zones of the region, e.g. {config.region}a",
            )
    if not config.availability_zones:
        section.bad("availabilityZones", "is empty", f"list zones, e.g. [{config.region}a]")
    names = {spec_name for spec_name in _host_names(config)}
    for name in config.unreachable_hosts:
        if name not in names:
            section.bad(
                "unreachableHosts",
                f"{name} is not one of the instances",
                f"name instances the config creates: {', '.join(sorted(names))}",
            )
    for zone in config.availability_zones:
        if zone[-1] not in ZONE_LETTERS:
            section.bad(
                "availabilityZones",
                f"{zone}: only zones a to {ZONE_LETTERS[-1]} have a subnet slot",
                f"use zones {ZONE_LETTERS[0]}-{ZONE_LETTERS[-1]} of the region",
            )
    vpc = config.vpc_cidr
    needed = vpc.prefixlen + SUBNET_BITS
    if needed > SMALLEST_SUBNET_PREFIX:
        section.bad(
            "vpcCidr",
            f"is too small for a public and a private /{SMALLEST_SUBNET_PREFIX} in each of "
            f"{len(ZONE_LETTERS)} zone slots",
            f"use a /{SMALLEST_SUBNET_PREFIX - SUBNET_BITS} or larger VPC",
        )


def _host_names(config: AwsConfig) -> list[str]:
    groups = (("cp", config.control_plane), ("worker", config.workers), ("gpu", config.gpu_workers))
    return [f"{prefix}-{n}" for prefix, group in groups for n in range(1, group.count + 1)]


def _with_known_gpu(section: Fields, config: AwsConfig, context: Context) -> AwsConfig | None:
    """GPU workers of a known instance type get its GPUs, shared as the site's default says,
    without saying so."""
    group = config.gpu_workers
    if not group.count or group.gpu is not None:
        return config
    known = GPU_INSTANCES.get(group.instance_type)
    if known is None:
        section.bad(
            "gpuWorkers",
            f"instance type {group.instance_type} has no known GPU",
            "add gpu: {model: ..., count: ...} to gpuWorkers",
        )
        return None
    model, count = known
    spec = GpuSpec(model=model, count=count, sharing=DEFAULT_GPU_SHARING.pick(context))
    return dataclasses.replace(config, gpu_workers=dataclasses.replace(group, gpu=spec))
