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


@dataclass(frozen=True)
class KubeRayArgs:
    first_control_plane: Host
    # The operator's ServiceMonitor needs the Prometheus CRDs.
    monitoring: bool
    depends_on: Sequence[pulumi.Resource]


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
        self.register_outputs({})


def _deploy(_settings: RaySettings, context: AddonContext) -> Deployed:
    args = KubeRayArgs(
        context.inventory.first_control_plane,
        context.enabled("prometheus-crds"),
        context.depends_on,
    )
    return Deployed(KubeRay("kuberay", args, context.opts))


ADDON: Addon[RaySettings] = Addon(
    name="ray",
    summary="the KubeRay operator (RayCluster, RayJob, RayService); its CRDs applied on every bump",
    deploy=_deploy,
    settings=RaySettings,
    section="ray",
    needs=("prometheus-crds",),
    charts=(versions.KUBERAY_OPERATOR,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled` (by default)",
)
