"""Every Kubernetes object the program builds itself (not through a chart) validates: built-in
kinds against the Kubernetes 1.36 OpenAPI schema, custom resources (MetalLB pools,
cert-manager issuers, PrometheusRules) against the openAPIV3Schema of their CRD at the pinned
version (tests/fixtures/crd_schemas, taken unchanged from upstream). The API server prunes
fields a structural schema does not declare, so an unknown field is an error here too."""

from __future__ import annotations

import kubernetes_validate
import pytest

from automation.engine import Evaluation
from tests.helpers import SCHEMA_VERSION, evaluate_changed
from tests.schemas import crd_schemas, custom_resource_problems, validate_objects


@pytest.fixture(scope="module")
def lab_acme() -> Evaluation:
    acme = {"issuer": "acme", "acmeEmail": "ops@lab.example.edu"}
    return evaluate_changed("lab", lambda c: c["platform"].update(certificates=acme)).check()


@pytest.fixture(scope="module")
def lab_longhorn_minio() -> Evaluation:
    # The chart facts' variant (Longhorn, its UI and backups, MinIO): evaluated once per
    # session for both.
    from tools.chart_facts import evaluated

    return evaluated("lab-longhorn-minio")


@pytest.mark.parametrize("stack", ["lab", "dev", "lab_acme", "campus", "lab_longhorn_minio"])
def test_every_object_the_program_builds_validates(stack, request):
    evaluation = request.getfixturevalue(stack)
    # namespaces, the Grafana secret, pools, issuers, rules
    assert validate_objects(evaluation) >= 10


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


def test_a_custom_resource_breaking_its_crds_rules_would_be_caught():
    schemas = crd_schemas()
    queue = {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ClusterQueue",
        "metadata": {"name": "q"},
        "spec": {
            # A borrowing limit without a cohort, and a flavor missing one covered resource.
            "resourceGroups": [
                {
                    "coveredResources": ["cpu", "memory"],
                    "flavors": [
                        {"name": "f", "resources": [{"name": "cpu", "nominalQuota": "1", "borrowingLimit": "1"}]}
                    ],
                }
            ],
            "preemption": {"reclaimWithinCohort": "Never", "borrowWithinCohort": {"policy": "LowerPriority"}},
        },
    }  # fmt: skip
    problems = custom_resource_problems(queue, schemas["kueue.x-k8s.io/v1beta2:ClusterQueue"])
    assert sorted(problems) == [
        "broken rule .spec.preemption: reclaimWithinCohort=Never and borrowWithinCohort.Policy!=Never",
        "broken rule .spec.resourceGroups[0]: flavors must have the same number of resources as the coveredResources",
        "broken rule .spec: borrowingLimit must be nil when cohort is empty",
    ]


def test_an_invalid_object_would_be_caught():
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "lables": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(namespace, SCHEMA_VERSION, strict=True)
