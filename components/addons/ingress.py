"""Traefik, the ingress controller and the platform's default IngressClass (ingress-nginx is
retired). Its LoadBalancer Service gets an address from MetalLB or an NLB from the AWS CCM."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import BASELINE, namespace, release
from model.formats import GO_DURATION
from model.settings import setting
from model.site import Cloud

INGRESS_CLASS = "traefik"


@dataclass(frozen=True, kw_only=True)
class IngressSettings:
    replicas: int = setting("replicas", 2, minimum=1, doc="Traefik replicas")
    # Traefik 3 cuts a request that takes longer than 60s to read (its entry points'
    # respondingTimeouts.readTimeout default), which stops large artifact uploads.
    request_timeout: str = setting(
        "requestTimeout",
        "1h",
        format=GO_DURATION,
        doc="how long a client may take to send a request (large MLflow artifact uploads); "
        "Traefik's own default is 60s",
    )


@dataclass(frozen=True)
class TraefikArgs:
    replicas: int
    cloud: Cloud | None
    depends_on: Sequence[pulumi.Resource]
    request_timeout: str = "1h"


def traefik_values(args: TraefikArgs) -> dict[str, Any]:
    annotations = (
        # An internet-facing NLB made by the AWS cloud controller manager.
        {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"} if args.cloud == "aws" else {}
    )
    return {
        "deployment": {"replicas": args.replicas},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "ingressClass": {"enabled": True, "isDefaultClass": True, "name": INGRESS_CLASS},
        "providers": {
            "kubernetesIngress": {"enabled": True, "publishedService": {"enabled": True}},
            "kubernetesCRD": {"enabled": True},
        },
        "ports": {
            "web": {
                # The entry point's HTTPS redirect then leaves /.well-known/acme-challenge/ to
                # other routers, so cert-manager's HTTP-01 solver Ingress answers challenges over
                # plain HTTP; without it the redirect (a router of the highest priority) takes
                # them (traefik/traefik pkg/provider/traefik/internal.go, `redirection`: the rule
                # gains `&& !PathPrefix(...)`). The platform uses no ACME resolver of Traefik's.
                "allowACMEByPass": True,
                "http": {
                    "redirections": {
                        "entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}
                    }
                },
            },
            "websecure": {
                "transport": {"respondingTimeouts": {"readTimeout": args.request_timeout}}
            },
        },
        "service": {"spec": {"type": "LoadBalancer"}, "annotations": annotations},
        "metrics": {
            "prometheus": {
                "service": {"enabled": True},
                "serviceMonitor": {"enabled": True},
                # Helm renders before the API lists ServiceMonitor in its discovery cache.
                "disableAPICheck": True,
            }
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    }


class Traefik(pulumi.ComponentResource):
    NAMESPACE = "traefik"

    def __init__(
        self, name: str, args: TraefikArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Traefik", name, None, opts)
        ns = namespace(self.NAMESPACE, BASELINE, self, args.depends_on)
        self.release = release("traefik", versions.TRAEFIK, ns, traefik_values(args), self)
        self.register_outputs({})


def _deploy(settings: IngressSettings, context: AddonContext) -> Deployed:
    args = TraefikArgs(
        settings.replicas, context.site.cloud, context.depends_on, settings.request_timeout
    )
    return Deployed(Traefik("traefik", args, context.opts))


ADDON: Addon[IngressSettings] = Addon(
    name="ingress",
    summary="Traefik: the default IngressClass, behind a LoadBalancer Service",
    deploy=_deploy,
    settings=IngressSettings,
    section="ingress",
    # Its Service needs a load balancer: MetalLB on bare metal, the cloud controller on AWS.
    needs=("prometheus-crds", "metallb", "aws-cloud-controller"),
    charts=(versions.TRAEFIK,),
    namespaces=(Traefik.NAMESPACE,),
)
