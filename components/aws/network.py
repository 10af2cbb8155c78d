"""The VPC: a public and a private subnet per availability zone, internet gateway and NAT.

Everything per zone is keyed by the zone's name and carved from a fixed slot of the VPC range
chosen by the zone's letter, so adding or removing a zone never renames, re-addresses or
replaces another zone's subnets (nor the instances in them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.tags import cluster_tags

# Zone letters with a subnet slot: public slots first, then private ones.
ZONE_LETTERS = "abcdefgh"


@dataclass(frozen=True)
class NetworkArgs:
    cluster_name: str
    vpc_cidr: ipaddress.IPv4Network
    # Zone names, e.g. us-east-1a; the config checks they belong to the region.
    availability_zones: Sequence[str]


def zone_subnets(
    vpc_cidr: ipaddress.IPv4Network, zone: str
) -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]:
    """(public, private) CIDRs of `zone`: fixed slots by its letter, whatever other zones exist."""
    slots = len(ZONE_LETTERS)
    subnets = list(vpc_cidr.subnets(prefixlen_diff=(2 * slots - 1).bit_length()))
    slot = ZONE_LETTERS.index(zone[-1])
    return subnets[slot], subnets[slots + slot]


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    public_subnets: dict[str, aws.ec2.Subnet]
    private_subnets: dict[str, aws.ec2.Subnet]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:aws:Network", name, None, opts)
        cluster = args.cluster_name
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(args.vpc_cidr),
            # Nodes register under their private DNS names, which need both of these.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=cluster_tags(cluster, "vpc"),
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=cluster_tags(cluster, "igw"), opts=child
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=cluster_tags(cluster, "public"),
            opts=child,
        )
        self.public_subnets, self.private_subnets = {}, {}
        self.nat_gateways: list[aws.ec2.NatGateway] = []
        # What a private host needs before it reaches package mirrors: its zone's NAT route.
        self.private_routes_ready: list[pulumi.Resource] = []
        for zone in args.availability_zones:
            public_cidr, private_cidr = zone_subnets(args.vpc_cidr, zone)
            public = self._subnet(name, cluster, "public", zone, public_cidr)
            self._associate(f"{name}-public-{zone}", public, public_routes)
            nat = self._nat_gateway(name, cluster, zone, public, gateway)
            private = self._subnet(name, cluster, "private", zone, private_cidr)
            private_routes = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags=cluster_tags(cluster, f"private-{zone}"),
                opts=child,
            )
            association = self._associate(f"{name}-private-{zone}", private, private_routes)
            self.public_subnets[zone] = public
            self.private_subnets[zone] = private
            self.nat_gateways.append(nat)
            self.private_routes_ready += [nat, private_routes, association]
        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "public_subnet_ids": {z: s.id for z, s in self.public_subnets.items()},
                "private_subnet_ids": {z: s.id for z, s in self.private_subnets.items()},
            }
        )

    def _subnet(
        self,
        name: str,
        cluster: str,
        kind: str,
        zone: str,
        cidr: ipaddress.IPv4Network,
    ) -> aws.ec2.Subnet:
        # Load balancers the cloud controller manager creates pick subnets by these role tags.
        role = "kubernetes.io/role/elb" if kind == "public" else "kubernetes.io/role/internal-elb"
        return aws.ec2.Subnet(
            f"{name}-{kind}-{zone}",
            vpc_id=self.vpc.id,
            cidr_block=str(cidr),
            availability_zone=zone,
            # Nothing in the public subnets gets an address by accident; the bastion asks for one.
            map_public_ip_on_launch=False,
            tags=cluster_tags(cluster, f"{kind}-{zone}", **{role: "1"}),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _associate(
        self, name: str, subnet: aws.ec2.Subnet, table: aws.ec2.RouteTable
    ) -> aws.ec2.RouteTableAssociation:
        return aws.ec2.RouteTableAssociation(
            name,
            subnet_id=subnet.id,
            route_table_id=table.id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _nat_gateway(
        self,
        name: str,
        cluster: str,
        zone: str,
        public: aws.ec2.Subnet,
        gateway: aws.ec2.InternetGateway,
    ) -> aws.ec2.NatGateway:
        # One NAT per zone: a zone outage does not cut the other zones' nodes off the internet.
        address = aws.ec2.Eip(
            f"{name}-nat-{zone}",
            domain="vpc",
            tags=cluster_tags(cluster, f"nat-{zone}"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        return aws.ec2.NatGateway(
            f"{name}-nat-{zone}",
            allocation_id=address.id,
            subnet_id=public.id,
            tags=cluster_tags(cluster, f"nat-{zone}"),
            opts=pulumi.ResourceOptions(parent=self),
        )
