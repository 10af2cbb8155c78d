"""Monitoring: kube-prometheus-stack with a generated Grafana password and the alerts its
defaults lack (its CRDs come first, from `prometheus_crds`). Dashboards come with the add-ons
they show, as ConfigMaps the Grafana sidecar loads.

Its default rules already alert on nodes not ready (KubeNodeNotReady), etcd (etcdNoLeader,
etcdMembersDown, ...) and kubelet and client certificate expiry; the program adds GPU XID
errors, unhealthy or hot GPUs, and cert-manager certificates close to expiry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.certificates import CLUSTER_ISSUER
from components.addons.helm import PRIVILEGED, namespace, release
from model.fields import Fields
from model.formats import BINARY_SIZE, DNS_SUBDOMAIN, PROMETHEUS_DURATION
from model.identity import Oidc, OidcEndpoints
from model.settings import Context, setting

NAMESPACE = "monitoring"
GRAFANA_ADMIN_SECRET = "grafana-admin"
# XIDs the DCGM exporter's table names as hardware faults (ECC, row remap, off the bus, GSP).
HARDWARE_XIDS = "48|63|64|74|79|92|94|95|119|120|140"


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    enabled: bool = setting("enabled", True, doc="install kube-prometheus-stack")
    retention: str = setting(
        "retention", "15d", format=PROMETHEUS_DURATION, doc="how long Prometheus keeps samples"
    )
    volume_size: str = setting(
        "volumeSize",
        "50Gi",
        format=BINARY_SIZE,
        doc="Prometheus' volume; it keeps at most 85% of it, dropping the oldest data first",
    )
    pushgateway: bool = setting(
        "pushgateway",
        False,
        doc="a Prometheus Pushgateway for batch jobs' metrics (the MLOps drift check pushes there)",
    )
    # Rendered by the chart through `tpl`: a class name, nothing else.
    storage_class: str | None = setting(
        "storageClass",
        None,
        format=DNS_SUBDOMAIN,
        doc="class of Prometheus' and Grafana's volumes (default: the cluster's default class)",
    )


def _check(
    settings: MonitoringSettings, section: Fields, _context: Context, others: Mapping[str, Any]
) -> None:
    no_storage = others["storage"].provider == "none"
    if settings.enabled and no_storage and not settings.storage_class:
        section.bad(
            "storageClass",
            "Prometheus and Grafana need volumes, but storage.provider is none and no class is named",
            "name an existing StorageClass in monitoring.storageClass, or choose a storage provider",
        )


@dataclass(frozen=True)
class MonitoringArgs:
    settings: MonitoringSettings
    # The CRDs and the default StorageClass Prometheus' volume comes from.
    depends_on: Sequence[pulumi.Resource]
    # Grafana is at grafana.<domain>.
    domain: str = "ml-platform.internal"
    # Users log in to Grafana through this provider when it names its endpoints.
    identity: Oidc | None = None

    @property
    def grafana_host(self) -> str:
        return f"grafana.{self.domain}"


UNIT_MIB = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


def retention_size(volume_size: str) -> str:
    """Prometheus' size limit: 85% of its volume, so old blocks go before the disk fills
    (Prometheus' MB are 2^20 bytes, like Kubernetes' Mi)."""
    mebibytes = int(volume_size[:-2]) * UNIT_MIB[volume_size[-2:]]
    return f"{mebibytes * 85 // 100}MB"


def _volume(size: str, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


GRAFANA_OIDC_SECRET = "grafana-oidc"


def grafana_oidc(oidc: Oidc, endpoints: OidcEndpoints, host: str) -> dict[str, Any]:
    """Grafana's login through the stack's OIDC provider (Grafana's generic OAuth: it reads no
    discovery document, so the endpoints are named). Every user who signs in is a Viewer:
    dashboards are read-only for them; the generated admin keeps its login. The client secret
    reaches Grafana only as an environment variable from a Secret, never in the values.
    The chart renders grafana.ini's strings through `tpl` (grafana 12.11.1 templates/
    _config.tpl): each comes from a setting whose format admits no template braces."""
    settings = {
        "enabled": True,
        "name": "Single sign-on",
        "client_id": oidc.client_id,
        "scopes": "openid profile email",
        "auth_url": endpoints.authorization_url,
        "token_url": endpoints.token_url,
        "api_url": endpoints.userinfo_url,
        "use_pkce": True,
        "allow_sign_up": True,
        # JMESPath over the token and userinfo: the claim quoted as an identifier.
        "login_attribute_path": f'"{oidc.username_claim}"',
        "role_attribute_path": "'Viewer'",
    }
    return {
        "grafana.ini": {"server": {"root_url": f"https://{host}"}, "auth.generic_oauth": settings},
        "envValueFrom": {
            "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": {
                "secretKeyRef": {"name": GRAFANA_OIDC_SECRET, "key": "client-secret"}
            }
        },
    }


def kube_prometheus_values(args: MonitoringArgs) -> dict[str, Any]:
    settings = args.settings
    grafana: dict[str, Any] = {
        "enabled": True,
        "admin": {
            "existingSecret": GRAFANA_ADMIN_SECRET,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        },
        # Dashboards are ConfigMaps labelled grafana_dashboard in any namespace, each add-on
        # shipping its own (nothing is fetched when Grafana starts); the grafana_folder
        # annotation names their folder.
        "sidecar": {
            "dashboards": {
                "enabled": True,
                "label": "grafana_dashboard",
                "searchNamespace": "ALL",
                "folderAnnotation": "grafana_folder",
                "provider": {"foldersFromFilesStructure": True},
            }
        },
        # Its volume is ReadWriteOnce: a rolling update's new pod could never mount it while
        # the old one holds it, so every Grafana change would hang.
        "deploymentStrategy": {"type": "Recreate"},
        "persistence": {
            "enabled": True,
            "type": "pvc",
            "size": "10Gi",
            "accessModes": ["ReadWriteOnce"],
        },
    }
    if settings.storage_class:
        grafana["persistence"]["storageClassName"] = settings.storage_class
    oidc = args.identity
    if oidc is not None and oidc.endpoints is not None:
        grafana.update(grafana_oidc(oidc, oidc.endpoints, args.grafana_host))
    # Behind Traefik (the default IngressClass) with a certificate from the platform issuer.
    grafana["ingress"] = {
        "enabled": True,
        "annotations": {"cert-manager.io/cluster-issuer": CLUSTER_ISSUER},
        "hosts": [args.grafana_host],
        "path": "/",
        "tls": [{"secretName": "grafana-tls", "hosts": [args.grafana_host]}],
    }
    return {
        # The CRDs come from the PrometheusCrds release.
        "crds": {"enabled": False},
        "defaultRules": {
            "create": True,
            "rules": {"etcd": True, "kubernetesSystem": True, "kubelet": True, "node": True},
        },
        "grafana": grafana,
        "prometheus": {
            "prometheusSpec": {
                "retention": settings.retention,
                "retentionSize": retention_size(settings.volume_size),
                "storageSpec": _volume(settings.volume_size, settings.storage_class),
                # Select monitors and rules in every namespace, whatever their labels: the
                # add-ons' own ServiceMonitors carry no `release` label.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
            }
        },
        # The kubeadm documents expose etcd (2381, on each control plane's own address),
        # scheduler and controller manager metrics where these jobs look. kube-proxy's stay on
        # loopback: kubeadm's one cluster-wide kube-proxy config cannot name each node's address
        # (components/kubeadm/documents.py), so its job (and its down alert) is off.
        "kubeEtcd": {"enabled": True},
        "kubeControllerManager": {"enabled": True},
        "kubeScheduler": {"enabled": True},
        "kubeProxy": {"enabled": False},
    }


def alert_groups() -> list[dict[str, Any]]:
    """The PrometheusRule groups the default rules lack. A warning and a critical share an
    alert name so Alertmanager's default inhibition mutes the warning."""

    def rule(alert: str, expr: str, severity: str, summary: str, for_: str | None = None) -> dict:
        entry: dict[str, Any] = {
            "alert": alert,
            "expr": expr,
            "labels": {"severity": severity},
            "annotations": {"summary": summary},
        }
        if for_:
            entry["for"] = for_
        return entry

    return [
        {
            "name": "gpu",
            "rules": [
                # The series appears with the first XID and keeps the last code until the
                # exporter restarts: test > 0, never absent().
                rule("GPUXidError", "DCGM_FI_DEV_XID_ERRORS > 0", "warning",
                     "GPU XID {{ $labels.err_code }} on {{ $labels.node }}: {{ $labels.err_msg }}"),
                rule("GPUXidError", f'DCGM_FI_DEV_XID_ERRORS{{err_code=~"{HARDWARE_XIDS}"}} > 0',
                     "critical", "GPU hardware fault XID {{ $labels.err_code }} on {{ $labels.node }}: drain it"),
                rule("GPUUnhealthy",
                     'kube_node_status_allocatable{resource="nvidia_com_gpu"} < kube_node_status_capacity{resource="nvidia_com_gpu"}',
                     "warning", "node {{ $labels.node }} has GPUs the device plugin marked unhealthy", "10m"),
                rule("GPUTemperatureHigh", "DCGM_FI_DEV_GPU_TEMP > 85", "warning",
                     "GPU {{ $labels.gpu }} on {{ $labels.node }} at {{ $value }} C", "10m"),
            ],
        },
        {
            "name": "certificates",
            "rules": [
                # 0 means not issued yet.
                rule("CertificateExpiration",
                     "(certmanager_certificate_expiration_timestamp_seconds > 0) - time() < 14 * 86400",
                     "warning", "certificate {{ $labels.namespace }}/{{ $labels.name }} expires within 14 days", "1h"),
                rule("CertificateExpiration",
                     "(certmanager_certificate_expiration_timestamp_seconds > 0) - time() < 3 * 86400",
                     "critical", "certificate {{ $labels.namespace }}/{{ $labels.name }} expires within 3 days", "10m"),
                rule("CertificateNotReady", 'certmanager_certificate_ready_status{condition="False"} == 1',
                     "warning", "certificate {{ $labels.namespace }}/{{ $labels.name }} is not ready", "15m"),
            ],
        },
    ]  # fmt: skip


PUSHGATEWAY = "pushgateway"
PUSHGATEWAY_PORT = 9091
# Where batch jobs push: the release's Service (fullnameOverride) in the monitoring namespace.
PUSHGATEWAY_URL = f"http://{PUSHGATEWAY}.{NAMESPACE}.svc:{PUSHGATEWAY_PORT}"
# Its pods, for NetworkPolicies: the chart's selector labels, name and release
# (prometheus-community/helm-charts@prometheus-pushgateway-3.8.0 templates/_helpers.tpl
# selectorLabels; no nameOverride), listening on 9091 (values.yaml service.targetPort).
PUSHGATEWAY_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus-pushgateway",
    "app.kubernetes.io/instance": PUSHGATEWAY,
}


def pushgateway_values() -> dict[str, Any]:
    return {
        "fullnameOverride": PUSHGATEWAY,
        # honorLabels keeps the pushed `job` and grouping labels (the chart's default, stated:
        # prometheus-community/helm-charts@prometheus-pushgateway-3.8.0 values.yaml).
        "serviceMonitor": {"enabled": True, "namespace": NAMESPACE, "honorLabels": True},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "fsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


class Monitoring(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Monitoring", name, None, opts)
        # node-exporter reads the host's /proc and /sys.
        ns = namespace(NAMESPACE, PRIVILEGED, self, args.depends_on)
        child = pulumi.ResourceOptions(parent=self)
        self.grafana_password = random.RandomPassword(
            f"{name}-grafana-password", length=32, special=False, opts=child
        )
        admin = kubernetes.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": NAMESPACE},
            string_data={"admin-user": "admin", "admin-password": self.grafana_password.result},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
        )
        secrets: list[pulumi.Resource] = [admin]
        if args.identity is not None and args.identity.endpoints is not None:
            secrets.append(
                kubernetes.core.v1.Secret(
                    f"{name}-grafana-oidc",
                    metadata={"name": GRAFANA_OIDC_SECRET, "namespace": NAMESPACE},
                    string_data={"client-secret": args.identity.client_secret},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
                )
            )
        self.release = release(
            "kube-prometheus-stack",
            versions.KUBE_PROMETHEUS_STACK,
            ns,
            kube_prometheus_values(args),
            self,
            depends_on=secrets,
            # Grafana's volume is the chart's; Prometheus' comes from its StatefulSet.
            stateful=True,
        )
        if args.settings.pushgateway:
            release(PUSHGATEWAY, versions.PROMETHEUS_PUSHGATEWAY, ns, pushgateway_values(), self)
        kubernetes.apiextensions.CustomResource(
            f"{name}-platform-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "platform-alerts", "namespace": NAMESPACE},
            spec={"groups": alert_groups()},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
        )
        self.grafana_url = f"https://{args.grafana_host}"
        self.register_outputs({"grafanaAdminPassword": self.grafana_password.result})


def _deploy(settings: MonitoringSettings, context: AddonContext) -> Deployed:
    args = MonitoringArgs(
        settings, depends_on=context.depends_on, domain=context.domain, identity=context.identity
    )
    monitoring = Monitoring("monitoring", args, context.opts)
    return Deployed(
        monitoring,
        {
            "grafanaUrl": monitoring.grafana_url,
            "grafanaAdminPassword": monitoring.grafana_password.result,
        },
    )


ADDON: Addon[MonitoringSettings] = Addon(
    name="monitoring",
    summary="kube-prometheus-stack: Prometheus, Alertmanager, Grafana, dashboards and alerts",
    deploy=_deploy,
    settings=MonitoringSettings,
    section="monitoring",
    # Prometheus' volume comes from the storage add-on's default class.
    needs=("prometheus-crds", "storage"),
    charts=(versions.KUBE_PROMETHEUS_STACK, versions.PROMETHEUS_PUSHGATEWAY),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled`",
    check=_check,
    namespaces=(NAMESPACE,),
)
