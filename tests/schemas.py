"""Validation of the Kubernetes objects the program builds: built-in kinds against the
Kubernetes OpenAPI schema of the pinned minor, custom resources against the openAPIV3Schema
of their CRD at the pinned version (tests/fixtures/crd_schemas, taken unchanged from
upstream), undeclared fields included (the API server prunes what a structural schema does
not declare)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import celpy
import kubernetes_validate
from jsonschema import Draft7Validator

from automation.engine import Evaluation, unwrap_secrets
from tests.helpers import SCHEMA_VERSION

# The same pruning check the facts tool applies to rendered custom resources.
from tools.chart_facts import undeclared_fields

# API groups served by Kubernetes itself (core is the empty group).
BUILT_IN_GROUPS = {
    "core",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "admissionregistration.k8s.io",
}
CRD_SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "crd_schemas"


def crd_schemas() -> dict[str, dict]:
    """openAPIV3Schema by `group/version:Kind`."""
    schemas = {}
    for path in CRD_SCHEMAS.glob("*.json"):
        crd = json.loads(path.read_text(encoding="utf-8"))
        schemas[f"{crd['group']}/{crd['version']}:{crd['kind']}"] = crd["schema"]
    return schemas


def without_required(schema: Any) -> Any:
    """`schema` with no field required: a server-side-apply patch names only its own fields."""
    if isinstance(schema, dict):
        return {k: without_required(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [without_required(v) for v in schema]
    return schema


CEL = celpy.Environment()


def broken_rules(value: Any, schema: dict, path: str = "") -> list[str]:
    """The CRD's CEL rules (x-kubernetes-validations) `value` breaks, as the API server
    evaluates them on create: `self` is the value at the rule's place; transition rules (those
    reading `oldSelf`) apply to updates only and are left out."""
    found = []
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue
        result = CEL.program(CEL.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(value)})
        # Anything but true (false, or an evaluation error) fails the rule.
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            found.append(f"{path or '.'}: {rule.get('message', rule['rule'])}")
    if isinstance(value, list):
        items = schema.get("items", {})
        found += [f for i, v in enumerate(value) for f in broken_rules(v, items, f"{path}[{i}]")]
    elif isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            nested = properties.get(key, extra if isinstance(extra, dict) else None)
            if nested is not None:
                found += broken_rules(item, nested, f"{path}.{key}")
    return found


def custom_resource_problems(document: dict, schema: dict) -> list[str]:
    errors = [e.message for e in Draft7Validator(schema).iter_errors(document)]
    errors += [f"broken rule {r}" for r in broken_rules(document, schema)]
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


def validate_objects(evaluation: Evaluation) -> int:
    """Validate every object `evaluation` builds; returns how many there were."""
    schemas = crd_schemas()
    objects = kubernetes_objects(evaluation)
    for key, document in objects.items():
        kind = key.split(" ")[0]
        if kind.split("/")[0] in BUILT_IN_GROUPS:
            kubernetes_validate.validate(document, SCHEMA_VERSION, strict=True)
        elif kind.endswith("Patch") and kind.removesuffix("Patch") in schemas:
            # A server-side-apply patch of a custom resource (Longhorn's default BackupTarget).
            schema = without_required(schemas[kind.removesuffix("Patch")])
            assert custom_resource_problems(document, schema) == [], key
        else:
            assert kind in schemas, f"{key}: no CRD schema in tests/fixtures/crd_schemas"
            assert custom_resource_problems(document, schemas[kind]) == [], key
    return len(objects)
