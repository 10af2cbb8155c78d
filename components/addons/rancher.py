"""Rancher 2.15 at rancher.<domain>: a web UI and RBAC over the kubeadm cluster, which it
manages as its `local` cluster. It does not upgrade that cluster's Kubernetes (kubeadm and this
program do; docs/platform.md), and its supported Kubernetes range is part of
`versions.ADDON_KUBERNETES_SUPPORT`, taken from the pinned chart.

TLS: a cert-manager Certificate from the platform issuer into the Secret the chart's Ingress
names (`ingress.tls.source: secret`); with the platform's own root CA, Rancher is told its CA
(`privateCA` and the `tls-ca` Secret's `cacerts.pem`) so that its agents trust it.

The first admin password is generated and handed to Rancher through CATTLE_BOOTSTRAP_PASSWORD
from a Secret of the program's (the chart's `extraEnv`), not through the chart's
`bootstrapPassword` value, which would put it in the Helm release's values and history.
Rancher reads it only until the first login sets the admin's own password.

Upstream facts (rancher/rancher@v2.15.0:chart): `hostname` is the Ingress host and `replicas`
the Deployment's (templates/ingate/ingress.yaml, templates/deployment.yaml); `privateCA`
mounts `cacerts.pem` of the Secret `tls-ca` (templates/deployment.yaml); with
`ingress.tls.source: secret` the Ingress takes its certificate from `ingress.tls.secretName`
and asks cert-manager for nothing; `extraEnv` is appended to the container's environment.
Logins through an OIDC provider are switched on in Rancher's own API with an authorization
code from a browser login (pkg/apis/management.cattle.io/v3/authn_types.go,
GenericOIDCApplyInput), which a deployment cannot do: docs/platform.md gives the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.certificates import CLUSTER_ISSUER
from components.addons.helm import BASELINE, namespace, release
from components.addons.ingress import INGRESS_CLASS
from model.settings import setting

# Rancher's own namespace: the chart must be installed there.
NAMESPACE = "cattle-system"
TLS_SECRET = "tls-rancher-ingress"
CA_SECRET = "tls-ca"
BOOTSTRAP_SECRET = "rancher-bootstrap"


@dataclass(frozen=True, kw_only=True)
class RancherSettings:
    enabled: bool = setting("enabled", True, doc="run Rancher over the cluster")
    replicas: int = setting("replicas", 3, minimum=1, doc="Rancher server pods")


@dataclass(frozen=True)
class RancherArgs:
    settings: RancherSettings
    domain: str
    # The platform's root CA (PEM) when the issuer is the self-signed one; None with ACME.
    ca_certificate: pulumi.Input[str] | None
    # cert-manager (its Certificate).
    depends_on: Sequence[pulumi.Resource]

    @property
    def host(self) -> str:
        return f"rancher.{self.domain}"


def rancher_values(args: RancherArgs) -> dict[str, Any]:
    return {
        "hostname": args.host,
        "replicas": args.settings.replicas,
        "ingress": {
            "ingressClassName": INGRESS_CLASS,
            "tls": {"source": "secret", "secretName": TLS_SECRET},
        },
        "privateCA": args.ca_certificate is not None,
        "extraEnv": [
            {
                "name": "CATTLE_BOOTSTRAP_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": BOOTSTRAP_SECRET, "key": "password"}},
            }
        ],
    }


class Rancher(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: RancherArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Rancher", name, None, opts)
        # Rancher's server runs as root without a seccomp profile: baseline, not restricted.
        # The namespaces Rancher creates itself (cattle-fleet-system, ...) are its own.
        ns = namespace(NAMESPACE, BASELINE, self, args.depends_on)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        self.bootstrap_password = random.RandomPassword(
            f"{name}-bootstrap-password", length=32, special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )  # fmt: skip
        before: list[pulumi.Resource] = [
            kubernetes.core.v1.Secret(
                f"{name}-bootstrap",
                metadata={"name": BOOTSTRAP_SECRET, "namespace": NAMESPACE},
                string_data={"password": self.bootstrap_password.result},
                opts=in_namespace,
            ),
            kubernetes.apiextensions.CustomResource(
                f"{name}-certificate",
                api_version="cert-manager.io/v1",
                kind="Certificate",
                metadata={"name": TLS_SECRET, "namespace": NAMESPACE},
                spec={
                    "secretName": TLS_SECRET,
                    "dnsNames": [args.host],
                    "issuerRef": {
                        "name": CLUSTER_ISSUER,
                        "kind": "ClusterIssuer",
                        "group": "cert-manager.io",
                    },
                },
                opts=in_namespace,
            ),
        ]
        if args.ca_certificate is not None:
            before.append(
                kubernetes.core.v1.Secret(
                    f"{name}-ca",
                    metadata={"name": CA_SECRET, "namespace": NAMESPACE},
                    string_data={"cacerts.pem": args.ca_certificate},
                    opts=in_namespace,
                )
            )
        self.release = release(
            "rancher",
            versions.RANCHER,
            ns,
            rancher_values(args),
            self,
            depends_on=before,
            # Rancher starts slowly: it registers its CRDs and controllers first.
            timeout_seconds=1200,
        )
        self.url = f"https://{args.host}"
        self.register_outputs({"url": self.url})


def _deploy(settings: RancherSettings, context: AddonContext) -> Deployed:
    certificates = context.deployed.get("certificates")
    ca = getattr(certificates.component, "ca_certificate", None) if certificates else None
    args = RancherArgs(settings, context.domain, ca, context.depends_on)
    rancher = Rancher("rancher", args, context.opts)
    return Deployed(
        rancher,
        {"rancherUrl": rancher.url, "rancherBootstrapPassword": rancher.bootstrap_password.result},
    )


ADDON: Addon[RancherSettings] = Addon(
    name="rancher",
    summary="Rancher 2.15: web UI and RBAC over the kubeadm cluster (its `local` cluster)",
    deploy=_deploy,
    settings=RancherSettings,
    section="rancher",
    namespaces=("cattle-system",),
    # Its Certificate (the Ingress needs Traefik only to be served, not to be made).
    needs=("certificates",),
    charts=(versions.RANCHER,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled`",
)
