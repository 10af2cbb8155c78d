"""The VPC: a public and a private subnet per availability zone, internet gateway and NAT."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.tags import cluster_tags


@dataclass(frozen=True)
class NetworkArgs:
    cluster_name: str
    vpc_cidr: ipaddress.IPv4Network
    # Zone names; Outputs when looked up from the region.
    availability_zones: Sequence[pulumi.Input[str]]


def split_subnets(
    vpc_cidr: ipaddress.IPv4Network, zones: int
) -> tuple[list[ipaddress.IPv4Network], list[ipaddress.IPv4Network]]:
    """Equal public and private subnets, one of each per zone, carved from the VPC range."""
    new_prefix = vpc_cidr.prefixlen + math.ceil(math.log2(2 * zones))
    subnets = list(vpc_cidr.subnets(new_prefix=new_prefix))
    return subnets[:zones], subnets[zones : 2 * zones]


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:aws:Network", name, None, opts)
        cluster = args.cluster_name
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(args.vpc_cidr),
            # Nodes register under their private DNS names, which need both of these.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=cluster_tags(cluster, "vpc"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw",
            vpc_id=self.vpc.id,
            tags=cluster_tags(cluster, "igw"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        public_cidrs, private_cidrs = split_subnets(args.vpc_cidr, len(args.availability_zones))
        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=cluster_tags(cluster, "public"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.public_subnets, self.private_subnets = [], []
        self.nat_gateways: list[aws.ec2.NatGateway] = []
        for index, zone in enumerate(args.availability_zones):
            public = self._subnet(name, cluster, "public", index, zone, public_cidrs[index])
            self._associate(f"{name}-public-{index}", public, public_routes)
            nat = self._nat_gateway(name, cluster, index, public, gateway)
            private = self._subnet(name, cluster, "private", index, zone, private_cidrs[index])
            private_routes = aws.ec2.RouteTable(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags=cluster_tags(cluster, f"private-{index}"),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self._associate(f"{name}-private-{index}", private, private_routes)
            self.public_subnets.append(public)
            self.private_subnets.append(private)
            self.nat_gateways.append(nat)
        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "public_subnet_ids": [s.id for s in self.public_subnets],
                "private_subnet_ids": [s.id for s in self.private_subnets],
            }
        )

    def _subnet(
        self,
        name: str,
        cluster: str,
        kind: str,
        index: int,
        zone: pulumi.Input[str],
        cidr: ipaddress.IPv4Network,
    ) -> aws.ec2.Subnet:
        # Load balancers the cloud controller manager creates pick subnets by these role tags.
        role = "kubernetes.io/role/elb" if kind == "public" else "kubernetes.io/role/internal-elb"
        return aws.ec2.Subnet(
            f"{name}-{kind}-{index}",
            vpc_id=self.vpc.id,
            cidr_block=str(cidr),
            availability_zone=zone,
            # Nothing in the public subnets gets an address by accident; the bastion asks for one.
            map_public_ip_on_launch=False,
            tags=cluster_tags(cluster, f"{kind}-{index}", **{role: "1"}),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _associate(self, name: str, subnet: aws.ec2.Subnet, table: aws.ec2.RouteTable) -> None:
        aws.ec2.RouteTableAssociation(
            name,
            subnet_id=subnet.id,
            route_table_id=table.id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _nat_gateway(
        self,
        name: str,
        cluster: str,
        index: int,
        public: aws.ec2.Subnet,
        gateway: aws.ec2.InternetGateway,
    ) -> aws.ec2.NatGateway:
        # One NAT per zone: a zone outage does not cut the other zones' nodes off the internet.
        address = aws.ec2.Eip(
            f"{name}-nat-{index}",
            domain="vpc",
            tags=cluster_tags(cluster, f"nat-{index}"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        return aws.ec2.NatGateway(
            f"{name}-nat-{index}",
            allocation_id=address.id,
            subnet_id=public.id,
            tags=cluster_tags(cluster, f"nat-{index}"),
            opts=pulumi.ResourceOptions(parent=self),
        )
