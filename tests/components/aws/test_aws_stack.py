"""The dev stack's AWS layer, as the offline engine sees it registered."""

from __future__ import annotations

import pytest

from automation.engine import evaluate
from tests.helpers import evaluate_changed

CRITICAL_PORTS = (22, 6443, 2379, 10250)


@pytest.fixture(scope="module")
def dev():
    return evaluate("dev").check()


def test_a_public_and_a_private_subnet_per_zone(dev):
    subnets = dev.of_type("aws:ec2/subnet:Subnet")
    zones = {s.inputs["availabilityZone"] for s in subnets}
    assert zones == {"us-east-1a", "us-east-1b", "us-east-1c"}
    for zone in zones:
        in_zone = [s for s in subnets if s.inputs["availabilityZone"] == zone]
        assert sorted(s.name.split("-")[1] for s in in_zone) == ["private", "public"]
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 3


def test_subnets_follow_the_configured_zone_count():
    evaluation = evaluate_changed("dev", lambda c: c["aws"].update(availabilityZones=2)).check()
    assert len(evaluation.of_type("aws:ec2/subnet:Subnet")) == 4


def test_no_critical_port_is_open_to_the_internet(dev):
    for rule in dev.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        if rule.inputs.get("cidrIpv4") != "0.0.0.0/0":
            continue
        low, high = rule.inputs.get("fromPort", 0), rule.inputs.get("toPort", 65535)
        assert not any(low <= port <= high for port in CRITICAL_PORTS), rule.name
    for group in dev.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert not group.inputs.get("ingress"), "inline rules would bypass this check"


def test_ssh_only_from_admins_and_only_to_the_bastion(dev):
    ssh_rules = [
        r
        for r in dev.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("fromPort") == 22
    ]
    cidr_rules = [r for r in ssh_rules if "cidrIpv4" in r.inputs]
    assert [r.inputs["cidrIpv4"] for r in cidr_rules] == ["198.51.100.0/24"]
    assert all(r.name.startswith("security-bastion") for r in cidr_rules)
    node_rule = next(r for r in ssh_rules if r.name == "security-nodes-ssh")
    assert "referencedSecurityGroupId" in node_rule.inputs


def test_imdsv2_and_encrypted_volumes_everywhere(dev):
    instances = dev.of_type("aws:ec2/instance:Instance")
    assert len(instances) == 3 + 2 + 2 + 1  # control planes, workers, GPU workers, bastion
    for instance in instances:
        metadata = instance.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required", instance.name
        assert metadata["httpPutResponseHopLimit"] == 2
        assert instance.inputs["rootBlockDevice"]["encrypted"] is True
    for file_system in dev.of_type("aws:efs/fileSystem:FileSystem"):
        assert file_system.inputs["encrypted"] is True


def test_only_the_bastion_has_a_public_address(dev):
    public = [
        i.name
        for i in dev.of_type("aws:ec2/instance:Instance")
        if i.inputs.get("associatePublicIpAddress")
    ]
    assert public == ["hosts-bastion"]


def test_root_volumes_are_sized_by_role(dev):
    sizes = {
        i.name: i.inputs["rootBlockDevice"]["volumeSize"]
        for i in dev.of_type("aws:ec2/instance:Instance")
    }
    assert (
        sizes["hosts-cp-1"] == 50 and sizes["hosts-worker-1"] == 100 and sizes["hosts-gpu-1"] == 200
    )


def test_cluster_tags_for_the_cloud_controller_manager(dev):
    tag = "kubernetes.io/cluster/ml-platform-dev"
    for type_ in (
        "aws:ec2/instance:Instance",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup",
    ):
        for registration in dev.of_type(type_):
            assert registration.inputs["tags"][tag] == "owned", registration.name


def test_api_load_balancer_is_internal_and_targets_the_control_planes(dev):
    (balancer,) = dev.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert balancer.inputs["internal"] is True
    assert balancer.inputs["loadBalancerType"] == "network"
    attachments = dev.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")
    assert sorted(a.name for a in attachments) == ["api-cp-1", "api-cp-2", "api-cp-3"]
    assert all(a.inputs["port"] == 6443 for a in attachments)
    assert dev.exports["apiServer"].value.startswith("https://api-nlb-")


def test_instance_roles_carry_the_csi_and_cloud_controller_policies(dev):
    policies = {p.name: p.inputs["policy"] for p in dev.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert "elasticloadbalancing:CreateLoadBalancer" in policies["hosts-control-plane-policy"]
    assert "elasticloadbalancing" not in policies["hosts-node-policy"]
    arns = {
        a.inputs["policyArn"]
        for a in dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert any("AmazonEBSCSIDriverPolicy" in arn for arn in arns)
    assert any("AmazonEFSCSIDriverPolicy" in arn for arn in arns)


def test_key_pair_is_the_public_half_of_the_secret_key(dev):
    (key_pair,) = dev.of_type("aws:ec2/keyPair:KeyPair")
    assert key_pair.inputs["publicKey"].startswith("ssh-ed25519 ")


def test_ubuntu_2404_is_looked_up_unless_an_ami_is_configured(dev):
    amis = {i.inputs["ami"] for i in dev.of_type("aws:ec2/instance:Instance")}
    assert amis == {"ami-0123456789abcdef0"}
    pinned = evaluate_changed("dev", lambda c: c["aws"].update(ami="ami-0fedcba9876543210")).check()
    assert {i.inputs["ami"] for i in pinned.of_type("aws:ec2/instance:Instance")} == {
        "ami-0fedcba9876543210"
    }


def test_efs_mount_target_per_zone_reachable_from_nodes_only(dev):
    assert len(dev.of_type("aws:efs/mountTarget:MountTarget")) == 3
    nfs = dev.named("shared-storage-nfs-from-nodes")
    assert nfs.inputs["fromPort"] == 2049 and "cidrIpv4" not in nfs.inputs
