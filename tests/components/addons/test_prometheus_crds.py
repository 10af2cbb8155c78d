"""The Prometheus Operator CRDs, built alone: a release of their own, before everything."""

from __future__ import annotations

from components import versions
from components.addons import prometheus_crds
from tests.helpers import deploy_addon, releases


def test_the_crds_are_a_release_of_their_own_waiting_for_the_cluster():
    evaluation = deploy_addon(prometheus_crds.ADDON)
    (release,) = releases(evaluation).values()
    assert (release.inputs["chart"], release.inputs["version"]) == (
        versions.PROMETHEUS_OPERATOR_CRDS.chart,
        versions.PROMETHEUS_OPERATOR_CRDS.version,
    )
    cluster = evaluation.named("cluster")
    assert cluster.urn in release.dependencies
    assert prometheus_crds.ADDON.needs == ()
