"""The Prometheus Operator's CRDs in their own release, first: everything that ships a
ServiceMonitor or a PrometheusRule waits for them, not for Prometheus."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import release


class PrometheusCrds(pulumi.ComponentResource):
    """The monitoring.coreos.com CRDs as templates, so upgraded with the release (a chart's
    crds/ directory is installed once and never upgraded)."""

    def __init__(
        self,
        name: str,
        depends_on: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-platform:platform:PrometheusCrds", name, None, opts)
        self.release = release(
            "prometheus-operator-crds",
            versions.PROMETHEUS_OPERATOR_CRDS,
            "kube-system",
            {},
            self,
            depends_on=depends_on,
        )
        self.register_outputs({})


def _deploy(_settings: None, context: AddonContext) -> Deployed:
    return Deployed(PrometheusCrds("prometheus-crds", context.depends_on, context.opts))


ADDON: Addon[None] = Addon(
    name="prometheus-crds",
    summary="the Prometheus Operator CRDs (ServiceMonitor, PrometheusRule, ...), before any add-on ships one",
    deploy=_deploy,
    charts=(versions.PROMETHEUS_OPERATOR_CRDS,),
)
