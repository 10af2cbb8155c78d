"""cert-manager with the platform's ClusterIssuer `platform`: a self-signed root CA, or an
ACME account solving HTTP-01 challenges through the ingress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import BASELINE, namespace, release
from components.addons.ingress import INGRESS_CLASS
from model.fields import Fields
from model.formats import EMAIL, HTTPS_URL
from model.settings import Context, setting

# What Ingresses and other certificates name: `cert-manager.io/cluster-issuer: platform`.
CLUSTER_ISSUER = "platform"
ROOT_CA_SECRET = "platform-root-ca"
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


@dataclass(frozen=True, kw_only=True)
class CertificateSettings:
    issuer: Literal["self-signed", "acme"] = setting(
        "issuer", "self-signed", doc="what the ClusterIssuer `platform` signs with"
    )
    acme_email: str | None = setting(
        "acmeEmail", None, format=EMAIL, doc="the ACME account's address; required with `acme`"
    )
    acme_server: str = setting(
        "acmeServer",
        LETS_ENCRYPT,
        format=HTTPS_URL,
        doc="the ACME directory (Let's Encrypt production)",
    )


def _check(
    settings: CertificateSettings, section: Fields, _context: Context, _peers: Mapping[str, Any]
) -> None:
    if settings.issuer == "acme" and not settings.acme_email:
        section.bad(
            "acmeEmail", "is required with issuer acme", "set the address the CA may write to"
        )


@dataclass(frozen=True)
class CertManagerArgs:
    settings: CertificateSettings
    ingress_class: str
    depends_on: Sequence[pulumi.Resource]


def cert_manager_values() -> dict[str, Any]:
    return {
        "crds": {"enabled": True, "keep": True},
        "replicaCount": 2,
        "podDisruptionBudget": {"enabled": True},
        "webhook": {"replicaCount": 2, "podDisruptionBudget": {"enabled": True}},
        "cainjector": {"replicaCount": 2, "podDisruptionBudget": {"enabled": True}},
        # Keeps the certificate's own namespace label on its metrics (alerts name it).
        "prometheus": {"servicemonitor": {"enabled": True, "honorLabels": True}},
        # The post-install hook that waits for the webhook; issuers come after it.
        "startupapicheck": {"enabled": True, "timeout": "5m"},
    }


@dataclass(frozen=True)
class CertManagerObject:
    kind: str  # ClusterIssuer | Certificate
    name: str
    spec: dict[str, Any]

    def metadata(self, namespace: str) -> dict[str, str]:
        # ClusterIssuers are cluster-wide; the CA certificate's secret lives with cert-manager.
        if self.kind == "ClusterIssuer":
            return {"name": self.name}
        return {"name": self.name, "namespace": namespace}


def issuer_objects(settings: CertificateSettings, ingress_class: str) -> list[CertManagerObject]:
    """The objects behind the `platform` ClusterIssuer, each after the one it names: a
    self-signed root CA, or an ACME account solving HTTP-01 through the ingress."""
    if settings.issuer == "acme":
        acme = {
            "server": settings.acme_server,
            "email": settings.acme_email,
            "privateKeySecretRef": {"name": "platform-acme-account"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": ingress_class}}}],
        }
        return [CertManagerObject("ClusterIssuer", CLUSTER_ISSUER, {"acme": acme})]
    root_ca = {
        "isCA": True,
        "commonName": "ml-platform root CA",
        "secretName": ROOT_CA_SECRET,
        "duration": "87600h",
        "privateKey": {"algorithm": "ECDSA", "size": 256},
        "issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }
    return [
        CertManagerObject("ClusterIssuer", "selfsigned", {"selfSigned": {}}),
        CertManagerObject("Certificate", ROOT_CA_SECRET, root_ca),
        CertManagerObject("ClusterIssuer", CLUSTER_ISSUER, {"ca": {"secretName": ROOT_CA_SECRET}}),
    ]


class CertManager(pulumi.ComponentResource):
    NAMESPACE = "cert-manager"

    def __init__(
        self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:CertManager", name, None, opts)
        ns = namespace(self.NAMESPACE, BASELINE, self, args.depends_on)
        self.release = release(
            "cert-manager", versions.CERT_MANAGER, ns, cert_manager_values(), self
        )
        previous: pulumi.Resource = self.release
        for item in issuer_objects(args.settings, args.ingress_class):
            previous = kubernetes.apiextensions.CustomResource(
                f"{name}-{item.name}",
                api_version="cert-manager.io/v1",
                kind=item.kind,
                metadata=item.metadata(self.NAMESPACE),
                spec=item.spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous]),
            )
        self.issuer = previous
        self.register_outputs({})


def _deploy(settings: CertificateSettings, context: AddonContext) -> Deployed:
    args = CertManagerArgs(settings, INGRESS_CLASS, context.depends_on)
    return Deployed(CertManager("cert-manager", args, context.opts))


ADDON: Addon[CertificateSettings] = Addon(
    name="certificates",
    summary="cert-manager and the ClusterIssuer `platform` (self-signed root CA or ACME)",
    deploy=_deploy,
    settings=CertificateSettings,
    section="certificates",
    needs=("prometheus-crds",),
    charts=(versions.CERT_MANAGER,),
    check=_check,
    namespaces=(CertManager.NAMESPACE,),
)
