"""Security groups: who may reach the bastion, the API server and the nodes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.tags import cluster_tags
from model.site import API_SERVER_PORT

SSH_PORT = 22


@dataclass(frozen=True)
class SecurityGroupsArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: ipaddress.IPv4Network
    admin_cidrs: tuple[ipaddress.IPv4Network, ...]
    # An internet-facing API load balancer too, open to the admin networks only.
    public_api: bool = False


class SecurityGroups(pulumi.ComponentResource):
    """Three groups: the bastion (SSH from admins), the API load balancer, the nodes."""

    def __init__(
        self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:aws:SecurityGroups", name, None, opts)
        self._args = args
        self.bastion = self._group(f"{name}-bastion", "SSH from the administrators' networks")
        self.api = self._group(f"{name}-api", "Kubernetes API load balancer")
        self.nodes = self._group(f"{name}-nodes", "Cluster nodes")
        for index, cidr in enumerate(args.admin_cidrs):
            self._allow(f"{name}-bastion-ssh-{index}", self.bastion, SSH_PORT, cidr=str(cidr))
            self._allow(f"{name}-api-admin-{index}", self.api, API_SERVER_PORT, cidr=str(cidr))
        self._allow(f"{name}-api-vpc", self.api, API_SERVER_PORT, cidr=str(args.vpc_cidr))
        # The NLB forwards with the client's address replaced by its own, inside the VPC.
        self._allow(f"{name}-nodes-api", self.nodes, API_SERVER_PORT, source=self.api)
        self._allow(f"{name}-nodes-ssh", self.nodes, SSH_PORT, source=self.bastion)
        self.api_public: aws.ec2.SecurityGroup | None = None
        if args.public_api:
            self.api_public = self._group(
                f"{name}-api-public", "Kubernetes API, internet-facing load balancer"
            )
            for index, cidr in enumerate(args.admin_cidrs):
                self._allow(
                    f"{name}-api-public-admin-{index}", self.api_public, API_SERVER_PORT,
                    cidr=str(cidr),
                )  # fmt: skip
            self._allow(
                f"{name}-nodes-api-public", self.nodes, API_SERVER_PORT, source=self.api_public
            )
        # Node to node: etcd, kubelet, CNI encapsulation, NodePorts, pod traffic.
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nodes-internal",
            security_group_id=self.nodes.id,
            ip_protocol="-1",
            referenced_security_group_id=self.nodes.id,
            description="all traffic between cluster nodes",
            opts=pulumi.ResourceOptions(parent=self),
        )
        groups = [("bastion", self.bastion), ("api", self.api), ("nodes", self.nodes)]
        if self.api_public is not None:
            groups.append(("api-public", self.api_public))
        for group_name, group in groups:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{group_name}-egress",
                security_group_id=group.id,
                ip_protocol="-1",
                cidr_ipv4="0.0.0.0/0",
                description="outbound (packages, images, AWS APIs through NAT)",
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs(
            {"bastion": self.bastion.id, "api": self.api.id, "nodes": self.nodes.id}
        )

    def _group(self, name: str, description: str) -> aws.ec2.SecurityGroup:
        # Rules are separate resources so that adding an admin CIDR never replaces the group.
        return aws.ec2.SecurityGroup(
            name,
            vpc_id=self._args.vpc_id,
            description=description,
            tags=cluster_tags(self._args.cluster_name, name),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _allow(
        self,
        name: str,
        group: aws.ec2.SecurityGroup,
        port: int,
        cidr: str | None = None,
        source: aws.ec2.SecurityGroup | None = None,
    ) -> None:
        aws.vpc.SecurityGroupIngressRule(
            name,
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=cidr,
            referenced_security_group_id=source.id if source else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
