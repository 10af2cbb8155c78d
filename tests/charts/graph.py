"""The registrations of an evaluation as a graph: what a resource waits for, what it is."""

from __future__ import annotations

from automation.engine import Registration
from tests.helpers import upstream as upstream  # re-exported: the chart tests walk the graph
from tools.chart_facts import group_version

RELEASE = "kubernetes:helm.sh/v3:Release"
CUSTOM_RESOURCE = "kubernetes:apiextensions.k8s.io:CustomResource"
CRD_TYPES = (
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinitionPatch",
)
# Types of the Kubernetes provider that are not Kubernetes objects of their own.
NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize", "pulumi:")


def object_kind(registration: Registration) -> tuple[str, str, str] | None:
    """(group, version, kind) of a Kubernetes object the program registers itself (core is
    the empty group), or None for anything else."""
    if not registration.custom or not registration.type.startswith("kubernetes:"):
        return None
    if registration.type.startswith(NOT_OBJECTS):
        return None
    if registration.type in (CUSTOM_RESOURCE, CUSTOM_RESOURCE + "Patch"):
        group, version = group_version(registration.inputs["apiVersion"])
        return group, version, registration.inputs["kind"]
    _, package, kind = registration.type.split(":")
    group, _, version = package.rpartition("/")
    # A server-side patch (e.g. NamespacePatch) is an object of the patched kind.
    kind = kind.removesuffix("Patch") or kind
    return ("" if group == "core" else group), version, kind
