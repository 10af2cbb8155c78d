"""AWS infrastructure: network, shared storage and hosts, described as an Inventory."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_command as command

from components.aws.api_lb import ApiLoadBalancer, ApiLoadBalancerArgs
from components.aws.hosts import Hosts, HostsArgs, HostSpec
from components.aws.network import Network, NetworkArgs
from components.aws.security import SecurityGroups, SecurityGroupsArgs
from components.aws.storage import SharedStorage, SharedStorageArgs
from model.inventory import CONTROL_PLANE, WORKER, Host, Inventory, SshAccess
from model.site import API_SERVER_PORT
from stacks.config import StackConfig
from stacks.sections.aws import AwsConfig
from stacks.sshkeys import public_key_output

# The init host: the first control plane, which sits in the first configured zone.
INIT_HOST = "cp-1"


def host_specs(aws_config: AwsConfig) -> list[HostSpec]:
    """The instances the config asks for, named cp-1.., worker-1.., gpu-1.., each group spread
    round-robin over the zones in their configured order (cp-1 in the first zone)."""
    zones = aws_config.availability_zones
    groups = (
        ("cp", (CONTROL_PLANE,), aws_config.control_plane),
        ("worker", (WORKER,), aws_config.workers),
        ("gpu", (WORKER,), aws_config.gpu_workers),
    )
    return [
        HostSpec(
            f"{prefix}-{n}",
            roles,
            group.instance_type,
            group.root_volume_gb,
            group.gpu,
            zones[(n - 1) % len(zones)],
        )
        for prefix, roles, group in groups
        for n in range(1, group.count + 1)
    ]


def build_inventory(config: StackConfig) -> Inventory:
    cfg = config.aws
    cluster = config.kubernetes.cluster_name
    public_api = cfg.api_access == "public"
    # An explicit provider: the region comes from our validated config, not from aws:region.
    provider = aws.Provider("aws", region=cfg.region)
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    network = Network("network", NetworkArgs(cluster, cfg.vpc_cidr, cfg.availability_zones), opts)
    groups = SecurityGroups(
        "security",
        SecurityGroupsArgs(cluster, network.vpc.id, cfg.vpc_cidr, cfg.admin_cidrs, public_api),
        opts=opts,
    )
    private_ids = {zone: s.id for zone, s in network.private_subnets.items()}
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
            public_subnet_id=network.public_subnets[cfg.availability_zones[0]].id,
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
            subnet_ids=list(private_ids.values()),
            security_group_id=groups.api.id,
            control_plane_ids={
                s.name: hosts.instances[s.name].id for s in specs if s.is_control_plane
            },
            public_subnet_ids=[s.id for s in network.public_subnets.values()]
            if public_api
            else None,
            public_security_group_id=groups.api_public.id if groups.api_public else None,
        ),
        opts=opts,
    )
    access = SshAccess(
        user=cfg.ssh_user,
        private_key=config.ssh_private_key,
        bastion_address=hosts.bastion.public_ip,
        bastion_host_key=hosts.bastion_host_key,
        authorized_keys=(public_key_output(config.ssh_private_key), *config.ssh_authorized_keys),
        exclusive_keys=True,
    )
    bastion = command.remote.ConnectionArgs(
        host=hosts.bastion.public_ip,
        user=cfg.ssh_user,
        private_key=config.ssh_private_key,
        host_key=hosts.bastion_host_key,
        dial_error_limit=30,
    )
    inventory_hosts = tuple(
        Host(
            name=spec.name,
            address=hosts.instances[spec.name].private_ip,
            roles=spec.roles,
            connection=access.connection(
                hosts.instances[spec.name].private_ip, hosts.host_keys[spec.name]
            ),
            gpu=spec.gpu,
            node_name=hosts.instances[spec.name].private_dns,
            # The instance is the machine: a new instance is prepared and joins, the old one's
            # node is drained and removed.
            identity=hosts.instances[spec.name].id,
            reachable=spec.name not in cfg.unreachable_hosts,
        )
        for spec in specs
    )
    public_name = api.public_dns_name
    return Inventory(
        cluster_name=cluster,
        hosts=inventory_hosts,
        api_endpoint=api.dns_name,
        init_host=INIT_HOST,
        shared_filesystem_id=storage.file_system.id,
        # Nodes in private subnets reach package mirrors only once their zone's NAT route is in
        # place; joins and init reach the API only through the balancer's listener.
        ready=(*network.private_routes_ready, *api.ready),
        api_server_url=pulumi.Output.format("https://{0}:{1}", public_name, API_SERVER_PORT)
        if public_name is not None
        else None,
        api_extra_names=(public_name,) if public_name is not None else (),
        ssh=access,
        bastion=bastion,
        cloud_provider=provider,
    )
