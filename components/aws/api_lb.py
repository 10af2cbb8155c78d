"""Network load balancers in front of the control planes' API servers: an internal one for the
nodes (the cluster's controlPlaneEndpoint), and, with `aws.apiAccess: public`, an
internet-facing one open to the admin networks only, so `pulumi up` and kubectl can run from an
administrator's machine."""

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
    # The internet-facing balancer: its subnets (public) and security group; None: internal only.
    public_subnet_ids: Sequence[pulumi.Input[str]] | None = None
    public_security_group_id: pulumi.Input[str] | None = None


class ApiLoadBalancer(pulumi.ComponentResource):
    dns_name: pulumi.Output[str]
    public_dns_name: pulumi.Output[str] | None
    # The listeners and target attachments: the API is reachable through the balancer only
    # once these exist (the inventory's `ready`).
    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: ApiLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:aws:ApiLoadBalancer", name, None, opts)
        self._args = args
        self.ready = []
        self.dns_name = self._balancer(name, "api", args.subnet_ids, args.security_group_id, True)
        self.public_dns_name = None
        if args.public_subnet_ids is not None:
            self.public_dns_name = self._balancer(
                f"{name}-public", "api-public", args.public_subnet_ids,
                args.public_security_group_id, False,
            )  # fmt: skip
        self.register_outputs({"dns_name": self.dns_name})

    def _balancer(
        self,
        name: str,
        tag: str,
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str] | None,
        internal: bool,
    ) -> pulumi.Output[str]:
        args, child = self._args, pulumi.ResourceOptions(parent=self)
        balancer = aws.lb.LoadBalancer(
            f"{name}-nlb",
            internal=internal,
            load_balancer_type="network",
            subnets=list(subnet_ids),
            security_groups=[security_group_id],
            enable_cross_zone_load_balancing=True,
            tags=cluster_tags(args.cluster_name, tag),
            opts=child,
        )
        # A target group belongs to one load balancer: each balancer has its own.
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
            tags=cluster_tags(args.cluster_name, tag),
            opts=child,
        )
        for host, instance_id in args.control_plane_ids.items():
            self.ready.append(
                aws.lb.TargetGroupAttachment(
                    f"{name}-{host}",
                    target_group_arn=targets.arn,
                    target_id=instance_id,
                    port=API_SERVER_PORT,
                    opts=child,
                )
            )
        self.ready.append(
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
        )
        return balancer.dns_name
