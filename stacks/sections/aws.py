"""The `aws:` section: the VPC and the instances this program creates."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass

from model.fields import Fields
from model.formats import AMI, AWS_REGION, CIDR, INSTANCE_TYPE, UNIX_USER
from model.inventory import GpuSpec
from model.settings import Context, keys_of, read_settings, setting, subsection
from model.site import API_SERVER_PORT, Site
from stacks.sections.baremetal import control_plane_count

# EC2 private DNS names: ip-10-0-1-23.ec2.internal (us-east-1), ip-...<region>.compute.internal.
NODE_NAMES = r"^ip-(\d{1,3}-){3}\d{1,3}\.(ec2|[a-z0-9-]+\.compute)\.internal$"
# Each AZ gets one public and one private subnet carved out of the VPC; /24 is the smallest
# private subnet that still holds a useful number of nodes and the NLB's addresses.
SMALLEST_SUBNET_PREFIX = 24

# Instance types whose GPUs are known; any other GPU instance type must say `gpu:` itself.
GPU_INSTANCES: Mapping[str, GpuSpec] = {
    "g4dn.xlarge": GpuSpec(model="t4", count=1),
    "g4dn.2xlarge": GpuSpec(model="t4", count=1),
    "g5.xlarge": GpuSpec(model="a10g", count=1),
    "g5.2xlarge": GpuSpec(model="a10g", count=1),
    "g5.12xlarge": GpuSpec(model="a10g", count=4),
    "g6.xlarge": GpuSpec(model="l4", count=1),
    "g6.2xlarge": GpuSpec(model="l4", count=1),
    "g6.12xlarge": GpuSpec(model="l4", count=4),
    "g6e.xlarge": GpuSpec(model="l40s", count=1),
    "p4d.24xlarge": GpuSpec(model="a100", count=8),
    "p5.48xlarge": GpuSpec(model="h100", count=8),
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
        "gpu", None, doc="known for g4dn, g5, g6, g6e, p4d and p5 types; required for others"
    )


@dataclass(frozen=True, kw_only=True)
class AwsConfig:
    region: str = setting("region", format=AWS_REGION, doc="the AWS region")
    availability_zones: int = setting(
        "availabilityZones", 3, minimum=1, doc="a public and a private subnet in each"
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
        )


def read(top: Fields, context: Context) -> AwsConfig | None:
    section = top.section("aws", keys_of(AwsConfig), required=True)
    config = None if section is None else read_settings(AwsConfig, section, context)
    if config is None:
        return None
    _check_shape(section, config)
    return _with_known_gpu(section, config)


def _check_shape(section: Fields, config: AwsConfig) -> None:
    for cidr in config.admin_cidrs:
        if cidr.prefixlen == 0:
            section.bad(
                "adminCidrs",
                f"{cidr} opens SSH and the API server to the whole internet",
                "list only the networks your administrators connect from, e.g. 198.51.100.0/24",
            )
    control_plane_count(section, "controlPlane.count", config.control_plane.count)
    vpc, zones = config.vpc_cidr, config.availability_zones
    needed = vpc.prefixlen + math.ceil(math.log2(2 * zones))
    if needed > SMALLEST_SUBNET_PREFIX:
        section.bad(
            "vpcCidr",
            f"is too small for a public and a private /{SMALLEST_SUBNET_PREFIX} in {zones} AZs",
            f"use a /{SMALLEST_SUBNET_PREFIX - (needed - vpc.prefixlen)} or larger VPC",
        )


def _with_known_gpu(section: Fields, config: AwsConfig) -> AwsConfig | None:
    """GPU workers of a known instance type get its GPUs without saying so."""
    group = config.gpu_workers
    if not group.count or group.gpu is not None:
        return config
    spec = GPU_INSTANCES.get(group.instance_type)
    if spec is None:
        section.bad(
            "gpuWorkers",
            f"instance type {group.instance_type} has no known GPU",
            "add gpu: {model: ..., count: ...} to gpuWorkers",
        )
        return None
    return dataclasses.replace(config, gpu_workers=dataclasses.replace(group, gpu=spec))
