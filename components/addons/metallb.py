"""MetalLB: addresses for LoadBalancer Services on bare metal, announced by ARP (L2) from the
site's pool (`baremetal.loadBalancerAddresses`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions
from components.addons import admin
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import CONTROL_PLANE_TOLERATION, PRIVILEGED, namespace, release


@dataclass(frozen=True)
class MetalLbArgs:
    addresses: str  # first-last, from baremetal.loadBalancerAddresses
    depends_on: Sequence[pulumi.Resource]
    # Where the webhook gate runs from.
    context: AddonContext


def metallb_values() -> dict[str, Any]:
    return {
        # 0.16 made the FRR-K8s backend the default; plain L2 needs neither FRR flavour.
        "frrk8s": {"enabled": False},
        "speaker": {"frr": {"enabled": False}},
        "controller": {"tolerations": [CONTROL_PLANE_TOLERATION]},
    }


def address_pool_spec(addresses: str) -> dict[str, Any]:
    return {"addresses": [addresses], "autoAssign": True}


class MetalLb(pulumi.ComponentResource):
    NAMESPACE = "metallb-system"
    POOL = "default"

    def __init__(
        self, name: str, args: MetalLbArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:MetalLb", name, None, opts)
        # The speaker uses the host network to answer ARP.
        ns = namespace(self.NAMESPACE, PRIVILEGED, self, args.depends_on)
        chart = release("metallb", versions.METALLB, ns, metallb_values(), self)
        metadata = {"name": self.POOL, "namespace": self.NAMESPACE}
        pool = {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": metadata,
            "spec": address_pool_spec(args.addresses),
        }
        # The controller reports Ready before its webhook listens: its readiness check is a
        # plain ping, and the webhook is registered only once cert rotation has written its
        # certificate (metallb/metallb@v0.16.1:internal/k8s/k8s.go, AddReadyzCheck with
        # healthz.Ping; enableWebhook after <-startListeners). pulumi-kubernetes does not retry
        # a webhook's refusal, so the pool waits until the webhook admits it in a dry run.
        webhook = admin.wait_for_webhook(
            f"{name}-webhook-ready", "MetalLB's webhook", pool, args.context, self, [chart]
        )
        after_webhook = pulumi.ResourceOptions(parent=self, depends_on=[webhook])
        self.pool = kubernetes.apiextensions.CustomResource(
            f"{name}-pool",
            api_version=pool["apiVersion"],
            kind=pool["kind"],
            metadata=metadata,
            spec=pool["spec"],
            opts=after_webhook,
        )
        kubernetes.apiextensions.CustomResource(
            f"{name}-l2",
            api_version="metallb.io/v1beta1",
            kind="L2Advertisement",
            metadata=metadata,
            spec={"ipAddressPools": [self.POOL]},
            opts=after_webhook,
        )
        self.register_outputs({})


def _deploy(_settings: None, context: AddonContext) -> Deployed:
    pool = context.site.load_balancer_pool
    if pool is None:
        raise ValueError("MetalLB is enabled only where the site has a load-balancer pool")
    args = MetalLbArgs(pool, context.depends_on, context)
    return Deployed(MetalLb("metallb", args, context.opts))


ADDON: Addon[None] = Addon(
    name="metallb",
    summary="MetalLB: LoadBalancer addresses from the site's pool, announced by ARP",
    deploy=_deploy,
    charts=(versions.METALLB,),
    enabled=lambda _settings, context: context.site.load_balancer_pool is not None,
    when="where the site has a load-balancer pool (bare metal)",
    namespaces=(MetalLb.NAMESPACE,),
)
