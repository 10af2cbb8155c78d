"""The dev stack's AWS layer, as the offline engine sees it registered."""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from pulumi.runtime import rpc

from automation.engine import evaluate
from tests.helpers import evaluate_changed

CRITICAL_PORTS = (22, 6443, 2379, 10250)


@pytest.fixture(scope="module")
def dev():
    return evaluate("dev").check()


def test_a_public_and_a_private_subnet_per_zone_named_by_the_zone(dev):
    subnets = {s.name: s for s in dev.of_type("aws:ec2/subnet:Subnet")}
    assert set(subnets) == {
        f"network-{kind}-us-east-1{z}" for kind in ("public", "private") for z in "abc"
    }
    for name, subnet in subnets.items():
        assert name.endswith(subnet.inputs["availabilityZone"])
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 3


def test_changing_the_zones_leaves_the_other_zones_and_their_instances_alone(dev):
    # Dropping the first zone: zone b and c keep their subnets (same URNs, same CIDRs).
    fewer = evaluate_changed(
        "dev", lambda c: c["aws"].update(availabilityZones=["us-east-1b", "us-east-1c"])
    ).check()
    before, after = dev.by_urn(), fewer.by_urn()
    for urn, subnet in after.items():
        if subnet.type == "aws:ec2/subnet:Subnet":
            assert before[urn].inputs == subnet.inputs, subnet.name
    # An instance never moves to another subnet once launched (the subnet is launch-only).
    for instance in fewer.of_type("aws:ec2/instance:Instance"):
        assert "subnetId" in instance.ignore_changes, instance.name


def test_instances_are_spread_over_the_zones_cp_1_in_the_first(dev):
    by_id = {
        f"{s.name}-id": s.inputs["availabilityZone"] for s in dev.of_type("aws:ec2/subnet:Subnet")
    }
    zones = {i.name: by_id[i.inputs["subnetId"]] for i in dev.of_type("aws:ec2/instance:Instance")}
    assert (zones["hosts-cp-1"], zones["hosts-cp-2"], zones["hosts-cp-3"]) == (
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    )


def test_a_key_rotation_replaces_no_instance_and_control_planes_are_protected(dev):
    for instance in dev.of_type("aws:ec2/instance:Instance"):
        # key_name and user_data only matter at launch; a change would replace or restart.
        assert {"keyName", "userData", "ami"} <= set(instance.ignore_changes), instance.name
        assert instance.protect == instance.name.startswith("hosts-cp-"), instance.name


def test_each_instance_gets_a_host_key_of_its_own_through_cloud_init(dev):
    instances = dev.of_type("aws:ec2/instance:Instance")
    keys = {r.name: r for r in dev.of_type("tls:index/privateKey:PrivateKey")}
    for instance in instances:
        assert keys[f"{instance.name}-host-key"].inputs["algorithm"] == "ED25519"
        assert rpc.is_rpc_secret(instance.inputs["userData"]), instance.name
        cloud_config = yaml.safe_load(rpc.unwrap_rpc_secret(instance.inputs["userData"]))
        assert cloud_config["ssh_deletekeys"] is True and cloud_config["ssh_genkeytypes"] == []
        assert cloud_config["ssh_keys"]["ed25519_public"].startswith("ssh-ed25519 ")
        assert "OPENSSH PRIVATE KEY" in cloud_config["ssh_keys"]["ed25519_private"]


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
        # Pods on workers (one hop more than the host) cannot reach the instance role.
        hops = 2 if instance.name.startswith("hosts-cp-") else 1
        assert metadata["httpPutResponseHopLimit"] == hops, instance.name
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


def test_only_the_control_plane_role_carries_the_csi_and_cloud_controller_policies(dev):
    policies = {p.name: p.inputs["policy"] for p in dev.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert "elasticloadbalancing:CreateLoadBalancer" in policies["hosts-control-plane-policy"]
    assert "ec2:DescribeInstanceTopology" in policies["hosts-control-plane-policy"]
    assert "elasticloadbalancing" not in policies["hosts-node-policy"]
    attachments = dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    arns = {a.name: a.inputs["policyArn"] for a in attachments}
    assert all(name.startswith("hosts-control-plane-") for name in arns)
    assert any("AmazonEBSCSIDriverPolicy" in arn for arn in arns.values())
    assert any("AmazonEFSCSIDriverPolicy" in arn for arn in arns.values())


def test_the_file_system_is_mounted_only_through_access_points_over_tls(dev):
    (policy,) = dev.of_type("aws:efs/fileSystemPolicy:FileSystemPolicy")
    document = json.loads(policy.inputs["policy"])
    deny = {s["Sid"]: s for s in document["Statement"] if s["Effect"] == "Deny"}
    assert deny["AccessPointsOnly"]["Condition"] == {
        "Null": {"elasticfilesystem:AccessPointArn": "true"}
    }
    assert "elasticfilesystem:ClientMount" in deny["AccessPointsOnly"]["Action"]
    assert deny["TlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_hosts_wait_for_their_nat_route_and_the_api_balancer(dev):
    prepare = dev.named("prepare-gpu-1")
    named = {r.urn: r.name for r in dev.registrations}
    waits = {named[u] for u in prepare.dependencies}
    assert {"network-private-us-east-1a", "network-private-us-east-1b"} <= waits  # route tables
    assert "network-private-us-east-1c" in waits
    types = {dev.by_urn()[u].type for u in prepare.dependencies}
    assert "aws:ec2/routeTableAssociation:RouteTableAssociation" in types
    assert "aws:lb/listener:Listener" in types
    assert "aws:lb/targetGroupAttachment:TargetGroupAttachment" in types


def test_a_public_api_is_a_second_balancer_open_to_the_admins_only():
    public = evaluate_changed("dev", lambda c: c["aws"].update(apiAccess="public")).check()
    balancers = {b.name: b for b in public.of_type("aws:lb/loadBalancer:LoadBalancer")}
    assert balancers["api-nlb"].inputs["internal"] is True
    assert balancers["api-public-nlb"].inputs["internal"] is False
    rules = [
        r
        for r in public.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name.startswith("security-api-public-")
    ]
    assert [r.inputs["cidrIpv4"] for r in rules] == ["198.51.100.0/24"]
    # The program and the exported kubeconfig use the public name; the certificate carries it.
    assert public.exports["kubeconfig"].secret
    init = next(r for r in public.registrations if r.name == "join-cp-1")
    stdin = rpc.unwrap_rpc_secret(init.inputs["stdin"])
    config = next(
        line.split("=", 1)[1]
        for line in stdin.splitlines()
        if line.startswith("KUBEADM_CONFIG_B64=")
    )
    _, cluster, *_ = yaml.safe_load_all(base64.b64decode(config.strip("'")))
    assert any(name.startswith("api-public-nlb-") for name in cluster["apiServer"]["certSANs"])


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
    targets = dev.of_type("aws:efs/mountTarget:MountTarget")
    assert sorted(t.name for t in targets) == [f"shared-storage-mount-us-east-1{z}" for z in "abc"]
    nfs = dev.named("shared-storage-nfs-from-nodes")
    assert nfs.inputs["fromPort"] == 2049 and "cidrIpv4" not in nfs.inputs


def test_an_unreachable_instance_keeps_its_commands_and_skips_their_delete():
    dead = evaluate_changed("dev", lambda c: c["aws"].update(unreachableHosts=["gpu-1"])).check()
    commands = {r.name: r for r in dead.of_type("command:remote:Command")}
    assert commands["join-gpu-1"].retain_on_delete and commands["prepare-gpu-1"].retain_on_delete
    assert not commands["join-gpu-2"].retain_on_delete
    assert not commands["admit-gpu-1"].retain_on_delete  # its Node is still removed
