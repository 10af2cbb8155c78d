"""KubeRay: its CRDs applied by the program from the pinned tag before the release and on
every bump, the release without crds/, a restricted namespace; the docs' RayJob valid."""

from __future__ import annotations

import dataclasses

from components import versions
from components.addons import ray
from components.addons.ray import RaySettings, crd_manifests
from tests.helpers import (
    applied_kustomization,
    deploy_addon,
    read_platform_config,
    releases,
    stdin_parameters,
    waits_for,
)

CRD_FILES = (
    "https://raw.githubusercontent.com/ray-project/kuberay/{}/helm-chart/kuberay-operator/crds/"
)


def evaluation():
    return deploy_addon(ray.ADDON, RaySettings(), enabled=["prometheus-crds"])


def test_the_crds_come_from_the_pinned_tag_and_are_established_before_the_operator():
    built = evaluation()
    (crds,) = built.of_type("command:remote:Command")
    assert applied_kustomization(crds)["resources"] == [
        CRD_FILES.format(versions.KUBERAY) + f"ray.io_{name}.yaml"
        for name in ("rayclusters", "raycronjobs", "rayjobs", "rayservices")
    ]
    params = stdin_parameters(crds)
    assert params["WAIT_ESTABLISHED"].split() == [
        "rayclusters.ray.io", "raycronjobs.ray.io", "rayjobs.ray.io", "rayservices.ray.io"
    ]  # fmt: skip
    operator = releases(built)["kuberay-operator"]
    # Helm would install crds/ once and never upgrade them: the release leaves them out.
    assert operator.inputs["skipCrds"] is True
    assert operator.inputs["version"] == versions.KUBERAY.removeprefix("v")
    assert waits_for(built, operator, crds)


def test_a_version_bump_changes_what_the_command_applies_so_it_runs_again():
    now = crd_manifests(versions.KUBERAY).kustomization
    bumped = crd_manifests("v1.8.0").kustomization
    assert now != bumped
    assert all("/v1.8.0/" in r for r in bumped["resources"])


def test_the_operator_runs_in_a_restricted_namespace_and_is_scraped():
    built = evaluation()
    (namespace,) = built.of_type("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "kuberay"
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )
    values = releases(built)["kuberay-operator"].inputs["values"]
    assert values == {"metrics": {"serviceMonitor": {"enabled": True}}}


def test_it_is_on_by_default_and_can_be_switched_off():
    assert read_platform_config({})["ray"].enabled is True
    settings = read_platform_config({"ray": {"enabled": False}})
    assert "ray" not in settings.enabled
    assert dataclasses.replace(RaySettings(), enabled=False).enabled is False


def test_planning_it_fetches_nothing(no_network):
    evaluation()


def test_in_each_tenants_namespace_the_operator_may_reach_the_ray_heads_dashboard():
    from model.tenants import Course, Faculty, TenantsConfig

    def tenancy():
        import pulumi
        import pulumi_kubernetes as kubernetes

        from components.addons.addon import Deployed

        component = pulumi.ComponentResource("test:index:Tenancy", "tenancy")
        # Depending on a component means depending on its children: one stands for them.
        kubernetes.core.v1.Namespace(
            "tenant-namespaces",
            metadata={"name": "prof-lee"},
            opts=pulumi.ResourceOptions(parent=component),
        )
        return {"tenancy": Deployed(component)}

    tenants = TenantsConfig(
        faculty=(Faculty(name="prof-lee", dedicated_gpus=8),), courses=(Course(name="cs231"),)
    )
    built = deploy_addon(ray.ADDON, RaySettings(), tenants=tenants, deployed=tenancy)
    for tenant in ("prof-lee", "cs231"):
        policy = built.named(f"kuberay-access-{tenant}").inputs
        assert policy["metadata"] == {"name": "allow-kuberay-operator", "namespace": tenant}
        (rule,) = policy["spec"]["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": 8265}]
        assert policy["spec"]["podSelector"] == {"matchLabels": {"ray.io/node-type": "head"}}
        made = built.named("tenant-namespaces")
        assert waits_for(built, built.named(f"kuberay-access-{tenant}"), made)
    # Without the tenancy add-on there are no tenant namespaces to open.
    alone = deploy_addon(ray.ADDON, RaySettings(), tenants=tenants)
    assert not alone.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")


def test_the_operators_pods_carry_the_labels_the_policy_selects():
    from tools.chart_facts import load_facts

    facts = load_facts("lab")["kuberay-operator"]
    (pod,) = facts["pods"]
    assert pod["workload"] == "Deployment/kuberay-operator" and pod["namespace"] == "kuberay"


def test_the_documented_rayjob_is_valid_queued_and_admitted_by_a_tenant_namespace():
    from tests.helpers import documented
    from tests.schemas import crd_schemas, custom_resource_problems
    from tools import pod_security

    (job,) = documented("compute.md", "RayJob")
    assert custom_resource_problems(job, crd_schemas()["ray.io/v1:RayJob"]) == []
    # The LocalQueue every tenant namespace has (named by the queueing add-on).
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "default"
    # No submitter pod: the default one has no security context (restricted refuses it).
    assert job["spec"]["submissionMode"] == "HTTPMode" or job["spec"].get("submitterPodTemplate")
    cluster = job["spec"]["rayClusterSpec"]
    templates = [cluster["headGroupSpec"]["template"]]
    templates += [group["template"] for group in cluster["workerGroupSpecs"]]
    for template in templates:
        assert pod_security.evaluate_pod(template, pod_security.RESTRICTED) == []
    gpus = sum(
        g["replicas"]
        * int(g["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"])
        for g in cluster["workerGroupSpecs"]
    )
    assert gpus == 4


def test_a_second_run_changes_nothing():
    first, second = evaluation(), evaluation()
    assert [r.inputs for r in first.registrations] == [r.inputs for r in second.registrations]


def test_disabling_it_in_the_lab_removes_exactly_its_objects(lab):
    from tests.helpers import evaluate_changed

    off = evaluate_changed("lab", lambda c: c["platform"].update(ray={"enabled": False})).check()
    removed = set(lab.by_urn()) - set(off.by_urn())
    # ...its ways into the lab's two tenant namespaces included.
    assert {lab.by_urn()[u].type.rsplit(":", 1)[-1] for u in removed} == {
        "KubeRay", "Namespace", "Command", "Release", "NetworkPolicy"
    }  # fmt: skip
    assert set(off.by_urn()) <= set(lab.by_urn())
