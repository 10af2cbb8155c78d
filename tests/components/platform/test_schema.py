"""Every Kubernetes object the program builds itself (not through a chart) validates against
the Kubernetes 1.36 OpenAPI schema. Custom resources (MetalLB pools, cert-manager issuers,
PrometheusRules) are not in that schema; their fields are pinned by test_platform.py."""

from __future__ import annotations

import kubernetes_validate
import pytest

from automation.engine import Evaluation, unwrap_secrets

SCHEMA_VERSION = "1.36.0"
# API groups served by Kubernetes itself (core is the empty group).
BUILT_IN_GROUPS = {"core", "apps", "batch", "rbac.authorization.k8s.io", "storage.k8s.io"}
CUSTOM_KINDS = {
    "metallb.io/v1beta1:IPAddressPool",
    "metallb.io/v1beta1:L2Advertisement",
    "cert-manager.io/v1:ClusterIssuer",
    "cert-manager.io/v1:Certificate",
    "monitoring.coreos.com/v1:PrometheusRule",
}


def kubernetes_objects(evaluation: Evaluation) -> dict[str, dict]:
    """Objects by `group/version:Kind name`, as the provider sends them to the API server."""
    objects = {}
    for r in evaluation.registrations:
        package, _, kind = r.type.partition(":")[2].partition(":")
        if not r.type.startswith("kubernetes:") or package.startswith(("helm.sh", "pulumi")):
            continue
        objects[f"{package}:{kind} {r.name}"] = unwrap_secrets(r.inputs)
    return objects


@pytest.mark.parametrize("stack", ["lab", "dev"])
def test_built_in_objects_validate_against_the_1_36_schema(stack, request):
    evaluation = request.getfixturevalue(stack)
    checked = 0
    for key, document in kubernetes_objects(evaluation).items():
        group = key.split("/")[0]
        if group in BUILT_IN_GROUPS:
            kubernetes_validate.validate(document, SCHEMA_VERSION, strict=True)
            checked += 1
        else:
            assert key.split(" ")[0] in CUSTOM_KINDS, (
                f"{key}: neither built in nor a known custom kind"
            )
    assert checked >= 5  # namespaces and the Grafana secret at least


def test_an_invalid_object_would_be_caught():
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "lables": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(namespace, SCHEMA_VERSION, strict=True)
