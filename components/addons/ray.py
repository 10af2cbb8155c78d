"""KubeRay: the operator that runs RayClusters, RayJobs and RayServices in the tenants'
namespaces.

Its CRDs are applied by the program, from the chart's own crds/ at the pinned tag, before the
release and again on every version bump (`manifests.apply_manifests`); the release skips
crds/ (kuberay-operator's README documents the same split: CRDs with kubectl, the chart with
--skip-crds). Helm alone would leave the CRDs of the first version installed forever, and a
new operator reading fields an old CRD prunes silently misbehaves.

RayJobs go through Kueue: a RayJob labelled `kueue.x-k8s.io/queue-name: <LocalQueue>` is
created suspended by Kueue's webhook and started when its queue admits it (Kueue's `ray.io/rayjob`
integration, configured by the queueing add-on). The Ray dashboard of a cluster is its head
Service `<cluster>-head-svc`, port 8265, in the tenant's namespace: reachable from the tenant's
notebooks and through `kubectl port-forward`, not through the ingress (it has no
authentication and its job API runs code; docs/ray.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import RESTRICTED, namespace, release
from components.addons.manifests import (
    UpstreamManifests,
    apply_manifests,
    github_file,
    kustomization,
)
from model.inventory import Host
from model.settings import setting

NAMESPACE = "kuberay"
REPOSITORY = "ray-project/kuberay"
# ray-project/kuberay@v1.7.0:helm-chart/kuberay-operator/crds/ (the same files as
# ray-operator/config/crd/bases/, blob for blob).
CRDS = ("rayclusters", "raycronjobs", "rayjobs", "rayservices")
CRD_GROUP = "ray.io"
# The operator's pods (the chart's nameOverride is kuberay-operator) and Ray head pods
# (ray-operator/controllers/ray/utils/constant.go: RayNodeTypeLabelKey, DefaultDashboardPort).
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "kuberay-operator"}
HEAD_POD_LABELS = {"ray.io/node-type": "head"}
DASHBOARD_PORT = 8265


@dataclass(frozen=True, kw_only=True)
class RaySettings:
    enabled: bool = setting(
        "enabled", True, doc="install the KubeRay operator (RayCluster, RayJob, RayService)"
    )


def crd_manifests(version: str) -> UpstreamManifests:
    """The chart's CRDs at `version`, applied by the program (not by Helm)."""
    files = [
        github_file(REPOSITORY, version, f"helm-chart/kuberay-operator/crds/{CRD_GROUP}_{crd}.yaml")
        for crd in CRDS
    ]
    return UpstreamManifests(
        name="kuberay-crds",
        kustomization=kustomization(files),
        needs_git=False,
        wait_established=tuple(f"{crd}.{CRD_GROUP}" for crd in CRDS),
    )


def kuberay_values(monitoring: bool) -> dict[str, Any]:
    """kuberay-operator values (ray-project/kuberay@v1.7.0:helm-chart/kuberay-operator/values.yaml).
    The chart's defaults already give the operator a restricted security context
    (runAsNonRoot, no privilege escalation, capabilities dropped, RuntimeDefault seccomp) and
    make it watch every namespace."""
    return {"metrics": {"serviceMonitor": {"enabled": monitoring}}}


def operator_access(namespace: str) -> dict[str, Any]:
    """A NetworkPolicy for a tenant's namespace (default-deny): the operator reaches the Ray
    heads' dashboard API there, which is how it submits RayJobs and follows their status
    (ray-operator/controllers/ray/rayjob_controller.go, through the head Service)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-kuberay-operator", "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": HEAD_POD_LABELS},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}
                            },
                            "podSelector": {"matchLabels": OPERATOR_POD_LABELS},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": DASHBOARD_PORT}],
                }
            ],
        },
    }


@dataclass(frozen=True)
class KubeRayArgs:
    first_control_plane: Host
    # The operator's ServiceMonitor needs the Prometheus CRDs.
    monitoring: bool
    depends_on: Sequence[pulumi.Resource]
    # Tenants' namespaces (default-deny) and what made them: the operator gets a way in.
    tenant_namespaces: tuple[str, ...] = ()
    tenancy: pulumi.Resource | None = None


class KubeRay(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KubeRayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:KubeRay", name, None, opts)
        ns = namespace(NAMESPACE, RESTRICTED, self, args.depends_on)
        self.crds = apply_manifests(
            crd_manifests(versions.KUBERAY), args.first_control_plane, self, args.depends_on
        )
        self.release = release(
            "kuberay-operator",
            versions.KUBERAY_OPERATOR,
            ns,
            kuberay_values(args.monitoring),
            self,
            depends_on=[self.crds],
            skip_crds=True,
        )
        for tenant in args.tenant_namespaces if args.tenancy else ():
            policy = operator_access(tenant)
            kubernetes.networking.v1.NetworkPolicy(
                f"{name}-access-{tenant}",
                metadata=policy["metadata"],
                spec=policy["spec"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[args.tenancy]),
            )
        self.register_outputs({})


def _deploy(_settings: RaySettings, context: AddonContext) -> Deployed:
    # The tenancy add-on makes the tenants' namespaces; these policies wait for it.
    tenancy = context.deployed.get("tenancy")
    args = KubeRayArgs(
        context.inventory.first_control_plane,
        context.enabled("prometheus-crds"),
        context.depends_on,
        tuple(member.name for member in context.tenants.members),
        tenancy.component if tenancy else None,
    )
    return Deployed(KubeRay("kuberay", args, context.opts))


ADDON: Addon[RaySettings] = Addon(
    name="ray",
    summary="the KubeRay operator (RayCluster, RayJob, RayService); its CRDs applied on every bump",
    deploy=_deploy,
    settings=RaySettings,
    section="ray",
    # The tenants' namespaces, where its access policies go.
    needs=("prometheus-crds", "tenancy"),
    charts=(versions.KUBERAY_OPERATOR,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled` (by default)",
    namespaces=(NAMESPACE,),
)
