"""What every add-on shares: its namespace and a pinned Helm release in it.

Every chart is a `helm.v3.Release`: Helm itself renders and installs it, so chart hooks run
as hooks (cert-manager's startupapicheck, the GPU operator's CRD upgrade, the EFS CSIDriver)
and charts' `crds/` directories are installed. Its preview also works before the cluster
exists: on the first `pulumi preview` of a new environment the kubeconfig is unknown and the
release is simply shown as to be created. `helm.v4.Chart` would give per-object diffs, but it
renders against a live cluster and treats hooks as plain objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.versions import HelmChart

# For what must run on control planes too (controllers of node-level add-ons).
CONTROL_PLANE_TOLERATION = {
    "key": "node-role.kubernetes.io/control-plane",
    "operator": "Exists",
    "effect": "NoSchedule",
}

# Pod Security admission: add-ons that need host access (node agents, CSI plugins, speakers)
# run in privileged namespaces; the others get baseline, or restricted where every pod they
# run allows it (tests/charts/test_pod_security.py checks the charts' pods against the label).
PRIVILEGED = "privileged"
BASELINE = "baseline"
RESTRICTED = "restricted"


def namespace(
    name: str, pod_security: str, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource]
) -> kubernetes.core.v1.Namespace:
    labels = {
        "pod-security.kubernetes.io/enforce": pod_security,
        "pod-security.kubernetes.io/warn": pod_security,
        "app.kubernetes.io/part-of": "ml-platform",
    }
    return kubernetes.core.v1.Namespace(
        f"{name}-namespace",
        metadata={"name": name, "labels": labels},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def release(
    name: str,
    chart: HelmChart,
    namespace: kubernetes.core.v1.Namespace | str,
    values: pulumi.Input[Mapping[str, Any]],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    timeout_seconds: int = 600,
    stateful: bool = False,
    skip_crds: bool = False,
) -> kubernetes.helm.v3.Release:
    """`chart` installed as release `name` (fixed, so Service names are predictable).

    A stateless release is `atomic`: a failed install or upgrade is rolled back rather than
    left half-done. A `stateful` one (it owns data, or the CRDs of objects that do) never
    is: rolling back a failed first install uninstalls it, and with it the data it already
    wrote (a CephCluster's mon stores and OSDs, a Grafana volume); it is left as it is for the
    next `pulumi up` to complete.

    `skip_crds`: the chart's crds/ are left out because the program applies them itself on
    every version bump (Helm installs crds/ once and never upgrades them)."""
    namespace_name = namespace if isinstance(namespace, str) else namespace.metadata.name
    return kubernetes.helm.v3.Release(
        name,
        name=name,
        chart=chart.chart,
        version=chart.version,
        repository_opts=kubernetes.helm.v3.RepositoryOptsArgs(repo=chart.repo)
        if chart.repo
        else None,
        namespace=namespace_name,
        values=values,
        atomic=not stateful,
        cleanup_on_fail=not stateful,
        timeout=timeout_seconds,
        max_history=5,
        skip_crds=skip_crds or None,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
