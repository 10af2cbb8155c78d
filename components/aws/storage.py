"""Shared storage: an encrypted EFS file system with a mount target in every zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.tags import cluster_tags

NFS_PORT = 2049


@dataclass(frozen=True)
class SharedStorageArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]


class SharedStorage(pulumi.ComponentResource):
    """EFS for ReadWriteMany volumes, reachable over NFS from the cluster nodes only."""

    file_system: aws.efs.FileSystem

    def __init__(
        self, name: str, args: SharedStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:aws:SharedStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.file_system = aws.efs.FileSystem(
            f"{name}-efs",
            encrypted=True,
            performance_mode="generalPurpose",
            # Elastic throughput follows the load of training jobs without provisioning.
            throughput_mode="elastic",
            tags=cluster_tags(args.cluster_name, "efs"),
            opts=child,
        )
        group = aws.ec2.SecurityGroup(
            f"{name}-nfs",
            vpc_id=args.vpc_id,
            description="NFS to EFS from cluster nodes",
            tags=cluster_tags(args.cluster_name, "nfs"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nfs-from-nodes",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=NFS_PORT,
            to_port=NFS_PORT,
            referenced_security_group_id=args.node_security_group_id,
            opts=child,
        )
        for index, subnet_id in enumerate(args.subnet_ids):
            aws.efs.MountTarget(
                f"{name}-mount-{index}",
                file_system_id=self.file_system.id,
                subnet_id=subnet_id,
                security_groups=[group.id],
                opts=child,
            )
        self.register_outputs({"file_system_id": self.file_system.id})
