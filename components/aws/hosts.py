"""EC2 hosts: control planes, workers and GPU workers in private subnets, and a bastion.

Day 2 (the instance is the machine; replacing it rebuilds that node):
- `key_name` only matters at launch (cloud-init installs that key), so it is ignored after:
  rotating the SSH key replaces the key pair, never an instance (the new key reaches running
  hosts through host preparation's authorized_keys step).
- `user_data` is ignored after launch too: the AWS provider applies a change by stopping and
  starting the instance (pulumi_aws 7.x `ec2.Instance.user_data`: "Updates to this field will
  trigger a stop/start of the EC2 instance by default").
- the subnet is ignored after launch: adding a zone moves no running instance.
- control-plane instances are protected: nothing in a config edit may replace them (etcd).

Host keys: each host gets an ed25519 host key generated here (pulumi-tls, secret) and
installed by cloud-init (`ssh_keys`, `ssh_deletekeys`, `ssh_genkeytypes: []`, cloud-init's
cc_ssh module), so every SSH connection verifies the instance it talks to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_tls as tls

from components import versions, yamltext
from components.aws.iam import NodeRole
from components.aws.tags import cluster_tags
from model.inventory import GpuSpec

BASTION_INSTANCE_TYPE = "t3.small"
BASTION_VOLUME_GB = 20
# Only what launch-time tools read: changing these later must not stop or replace a node.
LAUNCH_ONLY = ["ami", "keyName", "userData", "subnetId"]


@dataclass(frozen=True)
class HostSpec:
    """One instance to create: its name, kind, sizing and zone."""

    name: str
    roles: tuple[str, ...]
    instance_type: str
    root_volume_gb: int
    gpu: GpuSpec | None = None
    zone: str = ""

    @property
    def is_control_plane(self) -> bool:
        return "control-plane" in self.roles


@dataclass(frozen=True)
class HostsArgs:
    cluster_name: str
    specs: Sequence[HostSpec]
    public_key: pulumi.Input[str]
    # Private subnet ids by zone name; the bastion goes in the public subnet given.
    private_subnet_ids: Mapping[str, pulumi.Input[str]]
    public_subnet_id: pulumi.Input[str]
    node_security_group_id: pulumi.Input[str]
    bastion_security_group_id: pulumi.Input[str]
    ami: str | None = None


def cloud_init(host_key: tls.PrivateKey) -> pulumi.Output[str]:
    """cloud-config that installs this host's own ed25519 host key and no other."""

    def document(private: str, public: str) -> str:
        config = {
            "ssh_deletekeys": True,
            "ssh_genkeytypes": [],
            "ssh_keys": {"ed25519_private": private, "ed25519_public": public.strip()},
        }
        return "#cloud-config\n" + yamltext.dump(config)

    return pulumi.Output.secret(
        pulumi.Output.all(host_key.private_key_openssh, host_key.public_key_openssh).apply(
            lambda keys: document(*keys)
        )
    )


class Hosts(pulumi.ComponentResource):
    instances: dict[str, aws.ec2.Instance]
    host_keys: dict[str, pulumi.Output[str]]
    bastion: aws.ec2.Instance
    bastion_host_key: pulumi.Output[str]

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
        self.instances, self.host_keys = {}, {}
        for spec in args.specs:
            profile = profiles["control-plane" if spec.is_control_plane else "node"]
            self.instances[spec.name], self.host_keys[spec.name] = self._instance(
                f"{name}-{spec.name}",
                spec.name,
                spec.instance_type,
                spec.root_volume_gb,
                args.private_subnet_ids[spec.zone],
                [args.node_security_group_id],
                profile.instance_profile.name,
                public=False,
                # Pods on workers must not reach the instance role's credentials (one hop more
                # than the host); the CSI controllers on the control planes need them.
                metadata_hops=2 if spec.is_control_plane else 1,
                protect=spec.is_control_plane,
            )
        self.bastion, self.bastion_host_key = self._instance(
            f"{name}-bastion", "bastion", BASTION_INSTANCE_TYPE, BASTION_VOLUME_GB,
            args.public_subnet_id, [args.bastion_security_group_id], None, public=True,
            metadata_hops=1, protect=False,
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
        metadata_hops: int,
        protect: bool,
    ) -> tuple[aws.ec2.Instance, pulumi.Output[str]]:
        host_key = tls.PrivateKey(
            f"{name}-host-key", algorithm="ED25519", opts=pulumi.ResourceOptions(parent=self)
        )
        instance = aws.ec2.Instance(
            name,
            ami=self._ami,
            instance_type=instance_type,
            subnet_id=subnet_id,
            vpc_security_group_ids=security_group_ids,
            key_name=self._key.key_name,
            user_data=cloud_init(host_key),
            iam_instance_profile=instance_profile,
            associate_public_ip_address=public,
            # Pod traffic leaves nodes with pod addresses as source; EC2 drops it otherwise.
            source_dest_check=public,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=metadata_hops,
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_size=volume_gb, volume_type="gp3", encrypted=True, delete_on_termination=True
            ),
            tags=cluster_tags(self._args.cluster_name, role_name),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=LAUNCH_ONLY, protect=protect),
        )
        public_key = host_key.public_key_openssh.apply(lambda key: key.strip())
        return instance, public_key
