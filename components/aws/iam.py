"""Instance roles: what the AWS cloud controller manager and the EBS/EFS CSI drivers need."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.aws.tags import cluster_tags

EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

# The control-plane policy of kubernetes/cloud-provider-aws (docs/prerequisites.md): the cloud
# controller manager runs there and manages load balancers, routes and node lifecycle.
CONTROL_PLANE_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeTags",
    "ec2:DescribeInstances",
    # The cloud controller manager labels nodes with their network topology
    # (kubernetes/cloud-provider-aws@63ec440c:docs/prerequisites.md, control-plane policy).
    "ec2:DescribeInstanceTopology",
    "ec2:DescribeRegions",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVolumes",
    "ec2:DescribeAvailabilityZones",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyVolume",
    "ec2:AttachVolume",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateRoute",
    "ec2:DeleteRoute",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteVolume",
    "ec2:DetachVolume",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:DescribeVpcs",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:AttachLoadBalancerToSubnets",
    "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancerPolicy",
    "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteLoadBalancerListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DetachLoadBalancerFromSubnets",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerPolicies",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
    "iam:CreateServiceLinkedRole",
    "kms:DescribeKey",
)

# The node policy of cloud-provider-aws: the kubelet describes itself and pulls from ECR.
NODE_ACTIONS = (
    "ec2:DescribeInstances",
    "ec2:DescribeRegions",
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:BatchGetImage",
)

# The CSI controllers run on the control planes only (the storage add-on pins them there), so
# only the control-plane role carries their policies; a pod on a worker gets no AWS rights.
CSI_POLICY_ARNS = (
    "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy",
)


def _policy(actions: tuple[str, ...]) -> str:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class NodeRole(pulumi.ComponentResource):
    """An IAM role and instance profile for one kind of node."""

    instance_profile: aws.iam.InstanceProfile

    def __init__(
        self,
        name: str,
        cluster_name: str,
        control_plane: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-platform:aws:NodeRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=EC2_TRUST,
            tags=cluster_tags(cluster_name, name),
            opts=child,
        )
        actions = CONTROL_PLANE_ACTIONS if control_plane else NODE_ACTIONS
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=_policy(actions), opts=child)
        for index, arn in enumerate(CSI_POLICY_ARNS if control_plane else ()):
            aws.iam.RolePolicyAttachment(
                f"{name}-csi-{index}", role=role.name, policy_arn=arn, opts=child
            )
        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-profile", role=role.name, tags=cluster_tags(cluster_name, name), opts=child
        )
        self.register_outputs({"instance_profile": self.instance_profile.name})
