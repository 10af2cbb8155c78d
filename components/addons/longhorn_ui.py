"""Longhorn's web UI at longhorn.<domain>, behind Traefik with basic authentication (the UI
has none of its own and can delete volumes). An add-on of its own: the Traefik Middleware it
needs exists only once Traefik runs, and the storage add-on must not wait for Traefik.

Traefik reads a kubernetes.io/basic-auth Secret's `username` and `password` keys for a
basicAuth middleware (traefik/traefik@v3.7.9:pkg/provider/kubernetes/crd/kubernetes.go,
loadBasicAuthCredentials) and names a CRD middleware `<namespace>-<name>@kubernetescrd` in an
Ingress annotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.certificates import CLUSTER_ISSUER
from components.addons.ingress import INGRESS_CLASS
from components.addons.storage.longhorn import NAMESPACE, UI_SERVICE

USER = "admin"
AUTH_SECRET = "longhorn-ui-auth"
MIDDLEWARE = "longhorn-ui-auth"


@dataclass(frozen=True)
class LonghornUiArgs:
    domain: str
    # Longhorn (its namespace and Service) and Traefik (the Middleware CRD).
    depends_on: Sequence[pulumi.Resource]

    @property
    def host(self) -> str:
        return f"longhorn.{self.domain}"


def ingress_spec(host: str) -> dict:
    return {
        "ingressClassName": INGRESS_CLASS,
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": UI_SERVICE, "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
        "tls": [{"hosts": [host], "secretName": "longhorn-ui-tls"}],
    }


class LonghornUi(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: LonghornUiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:LonghornUi", name, None, opts)
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self.password = random.RandomPassword(
            f"{name}-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        secret = kubernetes.core.v1.Secret(
            f"{name}-auth",
            metadata={"name": AUTH_SECRET, "namespace": NAMESPACE},
            type="kubernetes.io/basic-auth",
            string_data={"username": USER, "password": self.password.result},
            opts=after,
        )
        middleware = kubernetes.apiextensions.CustomResource(
            f"{name}-middleware",
            api_version="traefik.io/v1alpha1",
            kind="Middleware",
            metadata={"name": MIDDLEWARE, "namespace": NAMESPACE},
            spec={"basicAuth": {"secret": AUTH_SECRET, "removeHeader": True}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, secret]),
        )
        # Made after the middleware: an Ingress naming a missing middleware is not served,
        # but there is no moment at which the UI is served without it.
        kubernetes.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={
                "name": "longhorn-ui",
                "namespace": NAMESPACE,
                "annotations": {
                    "cert-manager.io/cluster-issuer": CLUSTER_ISSUER,
                    "traefik.ingress.kubernetes.io/router.middlewares": (
                        f"{NAMESPACE}-{MIDDLEWARE}@kubernetescrd"
                    ),
                },
            },
            spec=ingress_spec(args.host),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[middleware]),
        )
        self.url = f"https://{args.host}"
        self.register_outputs({"url": self.url})


def _deploy(_settings: None, context: AddonContext) -> Deployed:
    ui = LonghornUi("longhorn-ui", LonghornUiArgs(context.domain, context.depends_on), context.opts)
    return Deployed(ui, {"longhornUrl": ui.url, "longhornUiPassword": ui.password.result})


ADDON: Addon[None] = Addon(
    name="longhorn-ui",
    summary="Longhorn's UI at longhorn.<domain> behind Traefik with basic authentication",
    deploy=_deploy,
    needs=("storage", "ingress"),
    applies=lambda settings: settings["storage"].provider == "longhorn",
    when="where storage `provider` is `longhorn`",
)
