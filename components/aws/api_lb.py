"""An internal network load balancer in front of the control planes' API servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.tags import cluster_tags
from model.site import API_SERVER_PORT


@dataclass(frozen=True)
class ApiLoadBalancerArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    control_plane_ids: Mapping[str, pulumi.Input[str]]


class ApiLoadBalancer(pulumi.ComponentResource):
    dns_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ApiLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:aws:ApiLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        balancer = aws.lb.LoadBalancer(
            f"{name}-nlb",
            internal=True,
            load_balancer_type="network",
            subnets=list(args.subnet_ids),
            security_groups=[args.security_group_id],
            enable_cross_zone_load_balancing=True,
            tags=cluster_tags(args.cluster_name, "api"),
            opts=child,
        )
        targets = aws.lb.TargetGroup(
            f"{name}-api",
            port=API_SERVER_PORT,
            protocol="TCP",
            target_type="instance",
            vpc_id=args.vpc_id,
            # With the client address preserved, a control plane reaching the API through the
            # NLB and landing on itself would drop the reply (NLB hairpinning).
            preserve_client_ip="false",
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                protocol="HTTPS", port=str(API_SERVER_PORT), path="/readyz", interval=10
            ),
            tags=cluster_tags(args.cluster_name, "api"),
            opts=child,
        )
        for host, instance_id in args.control_plane_ids.items():
            aws.lb.TargetGroupAttachment(
                f"{name}-{host}",
                target_group_arn=targets.arn,
                target_id=instance_id,
                port=API_SERVER_PORT,
                opts=child,
            )
        aws.lb.Listener(
            f"{name}-api",
            load_balancer_arn=balancer.arn,
            port=API_SERVER_PORT,
            protocol="TCP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=targets.arn)
            ],
            opts=child,
        )
        self.dns_name = balancer.dns_name
        self.register_outputs({"dns_name": self.dns_name})
