"""AWS infrastructure: network, shared storage and hosts, described as an Inventory."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.api_lb import ApiLoadBalancer, ApiLoadBalancerArgs
from components.aws.hosts import Hosts, HostsArgs, HostSpec
from components.aws.network import Network, NetworkArgs
from components.aws.security import SecurityGroups, SecurityGroupsArgs
from components.aws.storage import SharedStorage, SharedStorageArgs
from model.inventory import CONTROL_PLANE, WORKER, Host, Inventory, SshAccess
from stacks.config import StackConfig
from stacks.sections.aws import AwsConfig
from stacks.sshkeys import public_key_output


def host_specs(aws_config: AwsConfig) -> list[HostSpec]:
    """The instances the config asks for, named cp-1.., worker-1.., gpu-1.."""
    groups = (
        ("cp", (CONTROL_PLANE,), aws_config.control_plane),
        ("worker", (WORKER,), aws_config.workers),
        ("gpu", (WORKER,), aws_config.gpu_workers),
    )
    return [
        HostSpec(f"{prefix}-{n}", roles, group.instance_type, group.root_volume_gb, group.gpu)
        for prefix, roles, group in groups
        for n in range(1, group.count + 1)
    ]


def _zone_names(region_zones: pulumi.Output[list[str]], count: int) -> list[pulumi.Output[str]]:
    def pick(names: list[str], index: int) -> str:
        if index >= len(names):
            raise pulumi.RunError(
                f"ml-platform:aws.availabilityZones = {count}: the region has only "
                f"{len(names)} available zones. Fix: set availabilityZones to {len(names)} or less"
            )
        return names[index]

    return [region_zones.apply(lambda names, i=i: pick(names, i)) for i in range(count)]


def build_inventory(config: StackConfig) -> Inventory:
    cfg = config.aws
    cluster = config.kubernetes.cluster_name
    # An explicit provider: the region comes from our validated config, not from aws:region.
    provider = aws.Provider("aws", region=cfg.region)
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    zones = aws.get_availability_zones_output(
        state="available", opts=pulumi.InvokeOutputOptions(provider=provider)
    )
    network = Network(
        "network",
        NetworkArgs(cluster, cfg.vpc_cidr, _zone_names(zones.names, cfg.availability_zones)),
        opts=opts,
    )
    groups = SecurityGroups(
        "security",
        SecurityGroupsArgs(cluster, network.vpc.id, cfg.vpc_cidr, cfg.admin_cidrs),
        opts=opts,
    )
    private_ids = [s.id for s in network.private_subnets]
    storage = SharedStorage(
        "shared-storage",
        SharedStorageArgs(cluster, network.vpc.id, private_ids, groups.nodes.id),
        opts=opts,
    )
    specs = host_specs(cfg)
    hosts = Hosts(
        "hosts",
        HostsArgs(
            cluster_name=cluster,
            specs=specs,
            public_key=public_key_output(config.ssh_private_key),
            private_subnet_ids=private_ids,
            public_subnet_id=network.public_subnets[0].id,
            node_security_group_id=groups.nodes.id,
            bastion_security_group_id=groups.bastion.id,
            ami=cfg.ami,
        ),
        opts=opts,
    )
    api = ApiLoadBalancer(
        "api",
        ApiLoadBalancerArgs(
            cluster_name=cluster,
            vpc_id=network.vpc.id,
            subnet_ids=private_ids,
            security_group_id=groups.api.id,
            control_plane_ids={
                s.name: hosts.instances[s.name].id for s in specs if s.is_control_plane
            },
        ),
        opts=opts,
    )
    access = SshAccess(
        user=cfg.ssh_user,
        private_key=config.ssh_private_key,
        bastion_address=hosts.bastion.public_ip,
    )
    inventory_hosts = tuple(
        Host(
            name=spec.name,
            address=hosts.instances[spec.name].private_ip,
            roles=spec.roles,
            connection=access.connection(hosts.instances[spec.name].private_ip),
            gpu=spec.gpu,
            node_name=hosts.instances[spec.name].private_dns,
        )
        for spec in specs
    )
    return Inventory(
        cluster_name=cluster,
        hosts=inventory_hosts,
        api_endpoint=api.dns_name,
        shared_filesystem_id=storage.file_system.id,
        # Nodes in private subnets reach package mirrors only once NAT routes exist.
        ready=tuple(network.nat_gateways),
        cloud_provider=provider,
    )
