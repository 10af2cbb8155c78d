"""Every Kubernetes object the program builds itself (not through a chart) validates: built-in
kinds against the Kubernetes 1.36 OpenAPI schema, custom resources (MetalLB pools,
cert-manager issuers, PrometheusRules) against the openAPIV3Schema of their CRD at the pinned
version (tests/fixtures/crd_schemas, taken unchanged from upstream). The API server prunes
fields a structural schema does not declare, so an unknown field is an error here too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from jsonschema import Draft7Validator

from automation.engine import Evaluation, unwrap_secrets
from tests.helpers import SCHEMA_VERSION, evaluate_changed

# API groups served by Kubernetes itself (core is the empty group).
BUILT_IN_GROUPS = {
    "core",
    "apps",
    "batch",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
}
CRD_SCHEMAS = Path(__file__).resolve().parents[2] / "fixtures" / "crd_schemas"


def crd_schemas() -> dict[str, dict]:
    """openAPIV3Schema by `group/version:Kind`."""
    schemas = {}
    for path in CRD_SCHEMAS.glob("*.json"):
        crd = json.loads(path.read_text(encoding="utf-8"))
        schemas[f"{crd['group']}/{crd['version']}:{crd['kind']}"] = crd["schema"]
    return schemas


def undeclared_fields(value: Any, schema: dict, path: str = "") -> list[str]:
    """Fields of `value` its structural schema does not declare (the API server would prune
    them). `metadata`, `apiVersion` and `kind` are the API server's own (a structural schema
    need not declare them; Rook's ObjectBucketClaim does not), checked by it."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, list):
        items = schema.get("items", {})
        return [f for i, v in enumerate(value) for f in undeclared_fields(v, items, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    found = []
    for key, item in value.items():
        if not path and key in ("metadata", "apiVersion", "kind"):
            continue
        if key in properties:
            found += undeclared_fields(item, properties[key], f"{path}.{key}")
        elif isinstance(extra, dict):
            found += undeclared_fields(item, extra, f"{path}.{key}")
        elif extra is not True:
            found.append(f"{path}.{key}")
    return found


def without_required(schema: Any) -> Any:
    """`schema` with no field required: a server-side-apply patch names only its own fields."""
    if isinstance(schema, dict):
        return {k: without_required(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [without_required(v) for v in schema]
    return schema


def custom_resource_problems(document: dict, schema: dict) -> list[str]:
    errors = [e.message for e in Draft7Validator(schema).iter_errors(document)]
    return errors + [f"undeclared field {f}" for f in undeclared_fields(document, schema)]


def kubernetes_objects(evaluation: Evaluation) -> dict[str, dict]:
    """Objects by `group/version:Kind name`, as the provider sends them to the API server."""
    objects = {}
    for r in evaluation.registrations:
        package, _, kind = r.type.partition(":")[2].partition(":")
        if not r.type.startswith("kubernetes:") or package.startswith(("helm.sh", "pulumi")):
            continue
        objects[f"{package}:{kind} {r.name}"] = unwrap_secrets(r.inputs)
    return objects


@pytest.fixture(scope="module")
def lab_acme() -> Evaluation:
    acme = {"issuer": "acme", "acmeEmail": "ops@lab.example.edu"}
    return evaluate_changed("lab", lambda c: c["platform"].update(certificates=acme)).check()


@pytest.fixture(scope="module")
def lab_longhorn_minio() -> Evaluation:
    # The chart facts' variant: evaluated once per session for both.
    from tools.chart_facts import evaluated

    return evaluated("lab-longhorn-minio")


@pytest.mark.parametrize("stack", ["lab", "dev", "lab_acme", "lab_longhorn_minio"])
def test_every_object_the_program_builds_validates(stack, request):
    evaluation = request.getfixturevalue(stack)
    schemas = crd_schemas()
    objects = kubernetes_objects(evaluation)
    for key, document in objects.items():
        kind = key.split(" ")[0]
        if kind.split("/")[0] in BUILT_IN_GROUPS:
            kubernetes_validate.validate(document, SCHEMA_VERSION, strict=True)
        elif kind.endswith("Patch") and kind.removesuffix("Patch") in schemas:
            schema = without_required(schemas[kind.removesuffix("Patch")])
            assert custom_resource_problems(document, schema) == [], key
        else:
            assert kind in schemas, f"{key}: no CRD schema in tests/fixtures/crd_schemas"
            assert custom_resource_problems(document, schemas[kind]) == [], key
    assert len(objects) >= 10  # namespaces, the Grafana secret, pools, issuers, rules


def test_a_wrong_custom_resource_would_be_caught():
    schemas = crd_schemas()
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "x"},
        "spec": {"secretName": "s", "comonName": "x", "issuerRef": {"name": "i"}},
    }
    assert custom_resource_problems(certificate, schemas["cert-manager.io/v1:Certificate"]) == [
        "undeclared field .spec.comonName"
    ]
    certificate["spec"] = {
        "secretName": "s",
        "issuerRef": {"name": "i"},
        "privateKey": {"algorithm": "DSA"},
    }
    assert custom_resource_problems(certificate, schemas["cert-manager.io/v1:Certificate"])


def test_an_invalid_object_would_be_caught():
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "lables": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(namespace, SCHEMA_VERSION, strict=True)
