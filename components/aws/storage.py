"""Shared storage: an encrypted EFS file system with a mount target in every zone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.tags import cluster_tags

NFS_PORT = 2049
CLIENT_ACTIONS = [
    "elasticfilesystem:ClientMount",
    "elasticfilesystem:ClientWrite",
    "elasticfilesystem:ClientRootAccess",
]


def file_system_policy(file_system_arn: str) -> str:
    """NFS clients get in only through an access point (each volume of the EFS CSI driver's
    `efs-ap` mode has its own, with its own directory and owner), over TLS, via a mount target:
    a node cannot mount the file system's root and read every volume. Condition keys:
    `elasticfilesystem:AccessPointArn`, `elasticfilesystem:AccessedViaMountTarget`,
    `aws:SecureTransport` (Amazon EFS user guide, "Using IAM to control file system data
    access")."""
    statements = [
        {
            "Sid": "AccessPointsOnly",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": CLIENT_ACTIONS,
            "Resource": file_system_arn,
            "Condition": {"Null": {"elasticfilesystem:AccessPointArn": "true"}},
        },
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": CLIENT_ACTIONS,
            "Resource": file_system_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "MountTargetsOnly",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": CLIENT_ACTIONS[:2],
            "Resource": file_system_arn,
            "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass(frozen=True)
class SharedStorageArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    # Private subnet ids by zone name: a mount target in each.
    subnet_ids: Mapping[str, pulumi.Input[str]]
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
        aws.efs.FileSystemPolicy(
            f"{name}-efs-policy",
            file_system_id=self.file_system.id,
            policy=self.file_system.arn.apply(file_system_policy),
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
        for zone, subnet_id in args.subnet_ids.items():
            aws.efs.MountTarget(
                f"{name}-mount-{zone}",
                file_system_id=self.file_system.id,
                subnet_id=subnet_id,
                security_groups=[group.id],
                opts=child,
            )
        self.register_outputs({"file_system_id": self.file_system.id})
