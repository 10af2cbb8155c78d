"""Certificates: cert-manager with the platform's ClusterIssuer, and the approver of kubelet
serving certificates (kubeadm's kubelets ask for them with serverTLSBootstrap, so that
metrics-server and `kubectl logs` verify kubelets over TLS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions
from components.platform.release import BASELINE, namespace, release
from stacks.config import CertificateSettings

# What Ingresses and other certificates name: `cert-manager.io/cluster-issuer: platform`.
CLUSTER_ISSUER = "platform"
ROOT_CA_SECRET = "platform-root-ca"


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


@dataclass(frozen=True)
class CsrApproverArgs:
    # Node names the approver accepts, and the addresses their certificates may carry.
    node_name_regex: str
    node_network: str
    # Lab node names are not in DNS; on AWS they resolve to the node's own address.
    bypass_dns_resolution: bool
    depends_on: Sequence[pulumi.Resource]


def csr_approver_values(args: CsrApproverArgs) -> dict[str, Any]:
    return {
        "providerRegex": args.node_name_regex,
        "providerIpPrefixes": [args.node_network],
        "bypassDnsResolution": args.bypass_dns_resolution,
        "maxExpirationSeconds": "31622400",  # 366 days, as kubelet asks
        "replicas": 2,
        "tolerations": [
            {
                "key": "node-role.kubernetes.io/control-plane",
                "operator": "Exists",
                "effect": "NoSchedule",
            }
        ],
        "metrics": {"serviceMonitor": {"enabled": True}},
    }


class KubeletCsrApprover(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: CsrApproverArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:KubeletCsrApprover", name, None, opts)
        self.release = release(
            "kubelet-csr-approver",
            versions.KUBELET_CSR_APPROVER,
            "kube-system",
            csr_approver_values(args),
            self,
            depends_on=args.depends_on,
        )
        self.register_outputs({})
