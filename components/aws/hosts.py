"""EC2 hosts: control planes, workers and GPU workers in private subnets, and a bastion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import versions
from components.aws.iam import NodeRole
from components.aws.tags import cluster_tags
from model.inventory import GpuSpec

BASTION_INSTANCE_TYPE = "t3.small"
BASTION_VOLUME_GB = 20


@dataclass(frozen=True)
class HostSpec:
    """One instance to create: its name, kind and sizing."""

    name: str
    roles: tuple[str, ...]
    instance_type: str
    root_volume_gb: int
    gpu: GpuSpec | None = None

    @property
    def is_control_plane(self) -> bool:
        return "control-plane" in self.roles


@dataclass(frozen=True)
class HostsArgs:
    cluster_name: str
    specs: Sequence[HostSpec]
    public_key: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_subnet_id: pulumi.Input[str]
    node_security_group_id: pulumi.Input[str]
    bastion_security_group_id: pulumi.Input[str]
    ami: str | None = None


class Hosts(pulumi.ComponentResource):
    instances: dict[str, aws.ec2.Instance]
    bastion: aws.ec2.Instance

    def __init__(
        self, name: str, args: HostsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:aws:Hosts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._args = args
        self._ami = args.ami or self._ubuntu_ami()
        self._key = aws.ec2.KeyPair(
            f"{name}-key",
            public_key=args.public_key,
            tags=cluster_tags(args.cluster_name, "key"),
            opts=child,
        )
        profiles = {
            kind: NodeRole(f"{name}-{kind}", args.cluster_name, kind == "control-plane", opts=child)
            for kind in ("control-plane", "node")
        }
        self.instances = {}
        for index, spec in enumerate(args.specs):
            profile = profiles["control-plane" if spec.is_control_plane else "node"]
            # Round-robin over the zones so each zone holds a share of every role.
            subnet = args.private_subnet_ids[index % len(args.private_subnet_ids)]
            self.instances[spec.name] = self._instance(
                f"{name}-{spec.name}",
                spec.name,
                spec.instance_type,
                spec.root_volume_gb,
                subnet,
                [args.node_security_group_id],
                profile.instance_profile.name,
                public=False,
            )
        self.bastion = self._instance(
            f"{name}-bastion", "bastion", BASTION_INSTANCE_TYPE, BASTION_VOLUME_GB,
            args.public_subnet_id, [args.bastion_security_group_id], None, public=True,
        )  # fmt: skip
        self.register_outputs(
            {
                "bastion_public_ip": self.bastion.public_ip,
                "private_ips": {n: i.private_ip for n, i in self.instances.items()},
            }
        )

    def _ubuntu_ami(self) -> pulumi.Output[str]:
        image = aws.ec2.get_ami_output(
            most_recent=True,
            owners=[versions.UBUNTU_AMI_OWNER],
            filters=[
                aws.ec2.GetAmiFilterArgs(name="name", values=[versions.UBUNTU_AMI_NAME]),
                aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
            ],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return image.id

    def _instance(
        self,
        name: str,
        role_name: str,
        instance_type: str,
        volume_gb: int,
        subnet_id: pulumi.Input[str],
        security_group_ids: list[pulumi.Input[str]],
        instance_profile: pulumi.Input[str] | None,
        public: bool,
    ) -> aws.ec2.Instance:
        return aws.ec2.Instance(
            name,
            ami=self._ami,
            instance_type=instance_type,
            subnet_id=subnet_id,
            vpc_security_group_ids=security_group_ids,
            key_name=self._key.key_name,
            iam_instance_profile=instance_profile,
            associate_public_ip_address=public,
            # Pod traffic leaves nodes with pod addresses as source; EC2 drops it otherwise.
            source_dest_check=public,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # 2 hops: containers (one hop behind the node) still reach IMDSv2, as the
                # cloud controller manager and the CSI drivers need.
                http_put_response_hop_limit=2,
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_size=volume_gb, volume_type="gp3", encrypted=True, delete_on_termination=True
            ),
            tags=cluster_tags(self._args.cluster_name, role_name),
            # A newer Ubuntu AMI must not replace running nodes; node upgrades are explicit.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
        )
