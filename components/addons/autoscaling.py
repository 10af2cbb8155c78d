"""Autoscaling: metrics-server for HorizontalPodAutoscalers (it verifies kubelets' serving
certificates, approved by the kubelet CSR approver), and the Vertical Pod Autoscaler, which
only recommends by default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import release
from model.settings import setting

VpaMode = Literal["recommend", "auto", "off"]


@dataclass(frozen=True, kw_only=True)
class AutoscalingSettings:
    # Recommendations only by default: `auto` lets the updater evict pods to resize them.
    vpa: VpaMode = setting(
        "vpa", "recommend", doc="`auto` lets the Vertical Pod Autoscaler evict pods to resize them"
    )


@dataclass(frozen=True)
class AutoscalingArgs:
    vpa_mode: VpaMode
    # The kubelet CSR approver (metrics-server needs kubelets' serving certificates) and the
    # Prometheus CRDs (its ServiceMonitor).
    depends_on: Sequence[pulumi.Resource]


def metrics_server_values() -> dict[str, Any]:
    return {
        "replicas": 2,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        # No --kubelet-insecure-tls: kubelet serving certificates are signed by the cluster CA.
        "args": [],
        "metrics": {"enabled": True},
        "serviceMonitor": {"enabled": True},
    }


def vpa_values(mode: VpaMode) -> dict[str, Any]:
    acting = mode == "auto"
    return {
        "recommender": {"enabled": True},
        # Only in `auto` may the VPA evict pods and rewrite their requests on admission.
        "updater": {"enabled": acting},
        "admissionController": {"enabled": acting},
    }


class Autoscaling(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Autoscaling", name, None, opts)
        self.metrics_server = release(
            "metrics-server",
            versions.METRICS_SERVER,
            "kube-system",
            metrics_server_values(),
            self,
            depends_on=args.depends_on,
        )
        if args.vpa_mode != "off":
            # The recommender reads usage from metrics-server.
            release(
                "vertical-pod-autoscaler",
                versions.VERTICAL_POD_AUTOSCALER,
                "kube-system",
                vpa_values(args.vpa_mode),
                self,
                depends_on=[self.metrics_server],
            )
        self.register_outputs({})


def _deploy(settings: AutoscalingSettings, context: AddonContext) -> Deployed:
    args = AutoscalingArgs(settings.vpa, context.depends_on)
    return Deployed(Autoscaling("autoscaling", args, context.opts))


ADDON: Addon[AutoscalingSettings] = Addon(
    name="autoscaling",
    summary="metrics-server for HorizontalPodAutoscalers, and the Vertical Pod Autoscaler",
    deploy=_deploy,
    settings=AutoscalingSettings,
    section="autoscaling",
    needs=("prometheus-crds", "kubelet-csr-approver"),
    charts=(versions.METRICS_SERVER, versions.VERTICAL_POD_AUTOSCALER),
)
