"""Kueue: its configuration, and the queues of the lab and of the test stack with several
professors and courses (tests/tenants.py), with their quotas, borrowing and preemption."""

from __future__ import annotations

import json

import celpy
import pytest
import yaml

from automation.engine import Evaluation
from components import versions
from components.addons import kueue
from components.addons.kueue import QueueingSettings
from model.fields import ConfigError
from tests.helpers import read_platform_config, refused, releases, waits_for
from tests.tenants import COURSES, FACULTY, POOL

API = "kubernetes:kueue.x-k8s.io/v1beta2:"


def objects(evaluation: Evaluation, kind: str) -> dict[str, dict]:
    """Kueue objects of `kind` by (namespace/)name."""
    found = {}
    for r in evaluation.of_type(API + kind):
        metadata = r.inputs["metadata"]
        key = (
            f"{metadata['namespace']}/{metadata['name']}"
            if "namespace" in metadata
            else metadata["name"]
        )
        found[key] = r.inputs
    return found


def configuration(evaluation: Evaluation) -> dict:
    values = releases(evaluation)["kueue"].inputs["values"]
    return yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])


def group(queue: dict, flavor: str) -> dict:
    """The quotas of `flavor` in a ClusterQueue or Cohort spec, by resource."""
    for resource_group in queue["spec"]["resourceGroups"]:
        for entry in resource_group["flavors"]:
            if entry["name"] == flavor:
                return {r["name"]: r for r in entry["resources"]}
    raise KeyError(flavor)


# ---- Kueue itself ---------------------------------------------------------------------------


def test_kueue_manages_the_tenants_batch_frameworks_and_never_pods(lab):
    config = configuration(lab)
    assert config["apiVersion"] == "config.kueue.x-k8s.io/v1beta2"
    assert config["integrations"]["frameworks"] == [
        "batch/job", "ray.io/rayjob", "ray.io/raycluster",
        "trainer.kubeflow.org/trainjob", "jobset.x-k8s.io/jobset",
    ]  # fmt: skip
    # Notebooks are bare pods: with no pod, deployment or statefulset integration, Kueue never
    # suspends, queues or preempts them.
    assert not {"pod", "deployment", "statefulset"} & set(config["integrations"]["frameworks"])
    # Every job of a tenant namespace is queued, with a queue name or not; none elsewhere.
    assert config["manageJobsWithoutQueueName"] is True
    assert config["managedJobsNamespaceSelector"] == {
        "matchExpressions": [{"key": "ml-platform.io/tenant", "operator": "Exists"}]
    }
    assert config["metrics"]["enableClusterQueueResources"] is True


def test_kueue_is_pinned_and_monitored(lab):
    release = releases(lab)["kueue"]
    assert (release.inputs["chart"], release.inputs["version"]) == (
        "oci://registry.k8s.io/kueue/charts/kueue", versions.KUEUE.version
    )  # fmt: skip
    values = release.inputs["values"]
    assert values["controllerManager"]["manager"]["image"]["tag"] == f"v{versions.KUEUE.version}"
    assert values["enablePrometheus"] is True
    assert waits_for(lab, release, releases(lab)["prometheus-operator-crds"])


def test_its_namespace_is_restricted(lab):
    (namespace,) = [r for r in lab.of_type("kubernetes:core/v1:Namespace") if r.name == "kueue-system-namespace"]  # fmt: skip
    assert (
        namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    )


# ---- queues -------------------------------------------------------------------------------


def test_flavors_select_the_nodes_kubeadm_labels(lab):
    flavors = objects(lab, "ResourceFlavor")
    assert flavors["gpu-exclusive"]["spec"]["nodeLabels"] == {"nvidia.com/device-plugin.config": "exclusive"}  # fmt: skip
    assert flavors["gpu-shared"]["spec"]["nodeLabels"] == {"nvidia.com/device-plugin.config": "shared"}  # fmt: skip
    assert flavors["cpu"]["spec"] == {}


@pytest.mark.parametrize("stack", ["lab", "campus"])
def test_each_professor_owns_their_gpus_borrows_all_idle_ones_and_reclaims_them(stack, request):
    evaluation = request.getfixturevalue(stack)
    faculty = FACULTY if stack == "campus" else [{"name": "prof-lee", "dedicatedGpus": 8}]
    queues = objects(evaluation, "ClusterQueue")
    for professor in faculty:
        queue = queues[professor["name"]]
        spec = queue["spec"]
        gpus = group(queue, "gpu-exclusive")["nvidia.com/gpu"]
        assert gpus["nominalQuota"] == str(professor.get("dedicatedGpus", 0))
        # No borrowing limit: every idle whole GPU of the cohort.
        assert "borrowingLimit" not in gpus and "lendingLimit" not in gpus
        assert spec["cohortName"] == "platform"
        assert spec["preemption"] == {
            "reclaimWithinCohort": "Any",
            "borrowWithinCohort": {"policy": "LowerPriority", "maxPriorityThreshold": 100},
            "withinClusterQueue": "LowerPriority",
        }
        # Only the professor's own namespace submits to it.
        assert spec["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": professor["name"]}}  # fmt: skip
        assert queue["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Active"}


@pytest.mark.parametrize("stack", ["lab", "campus"])
def test_each_course_has_its_quota_borrows_idle_gpus_and_preempts_no_one(stack, request):
    evaluation = request.getfixturevalue(stack)
    courses = COURSES if stack == "campus" else [{"name": "cs231", "gpuQuota": 4}]
    queues = objects(evaluation, "ClusterQueue")
    for course in courses:
        queue = queues[course["name"]]
        gpus = group(queue, "gpu-exclusive")["nvidia.com/gpu"]
        assert gpus["nominalQuota"] == str(course.get("gpuQuota", 0))
        assert "borrowingLimit" not in gpus
        assert queue["spec"]["preemption"] == {
            "reclaimWithinCohort": "Never",
            "borrowWithinCohort": {"policy": "Never"},
            "withinClusterQueue": "Never",
        }


def test_professors_rank_above_courses_and_may_preempt_only_course_work(campus):
    classes = {r.inputs["metadata"]["name"]: r.inputs["value"] for r in campus.of_type(API + "WorkloadPriorityClass")}  # fmt: skip
    assert classes == {"faculty": 1000, "course": 100}
    threshold = objects(campus, "ClusterQueue")["prof-lee"]["spec"]["preemption"][
        "borrowWithinCohort"
    ]
    assert classes["course"] <= threshold["maxPriorityThreshold"] < classes["faculty"]


def test_shared_slices_and_cpu_are_never_borrowed(campus):
    for name, queue in objects(campus, "ClusterQueue").items():
        slices = group(queue, "gpu-shared")["nvidia.com/gpu.shared"]
        assert slices == {"name": "nvidia.com/gpu.shared", "nominalQuota": "0", "borrowingLimit": "0", "lendingLimit": "0"}, name  # fmt: skip
        cpu = group(queue, "cpu")
        assert cpu["cpu"]["borrowingLimit"] == cpu["memory"]["lendingLimit"] == "0"
    assert group(objects(campus, "ClusterQueue")["cs231"], "cpu")["cpu"]["nominalQuota"] == "64"
    assert (
        group(objects(campus, "ClusterQueue")["prof-kim"], "cpu")["memory"]["nominalQuota"]
        == "512Gi"
    )


def test_the_cohort_lends_the_gpus_no_tenant_owns(lab, campus):
    assert group(objects(campus, "Cohort")["platform"], "gpu-exclusive")["nvidia.com/gpu"]["nominalQuota"] == str(POOL)  # fmt: skip
    # The lab: 32 exclusive GPUs, 8 dedicated to prof-lee, 4 to cs231.
    assert group(objects(lab, "Cohort")["platform"], "gpu-exclusive")["nvidia.com/gpu"]["nominalQuota"] == "20"  # fmt: skip


def test_every_tenant_namespace_has_the_default_local_queue(campus):
    local = objects(campus, "LocalQueue")
    for tenant in FACULTY + COURSES:
        queue = local[f"{tenant['name']}/default"]
        assert queue["spec"] == {"clusterQueue": tenant["name"]}
    assert len(local) == len(FACULTY + COURSES)


def test_local_queues_wait_for_their_namespace_and_queue(campus):
    local = {r.inputs["metadata"]["namespace"]: r for r in campus.of_type(API + "LocalQueue")}
    namespace = campus.named("tenant-cs231")
    queue = campus.named("kueue-cs231-cluster-queue")
    assert waits_for(campus, local["cs231"], namespace) and waits_for(campus, local["cs231"], queue)


def test_the_dev_stack_has_no_tenants_and_no_kueue(dev):
    assert "kueue" not in releases(dev)


# ---- priorities by tenant kind -------------------------------------------------------------

CEL = celpy.Environment()


def applies(policy: dict, labels: dict | None) -> bool:
    """Whether the policy's matchConditions hold for an object with `labels`."""
    obj = {"metadata": {"name": "j"} | ({"labels": labels} if labels is not None else {})}
    return all(
        bool(CEL.program(CEL.compile(c["expression"])).evaluate({"object": celpy.json_to_cel(obj)}))
        for c in policy["spec"]["matchConditions"]
    )


def admission(evaluation: Evaluation, kind: str) -> dict[str, dict]:
    type_ = f"kubernetes:admissionregistration.k8s.io/v1:{kind}"
    return {r.inputs["metadata"]["name"]: r.inputs for r in evaluation.of_type(type_)}


def test_course_jobs_always_run_at_course_priority(lab):
    policy = admission(lab, "MutatingAdmissionPolicy")["ml-platform-course-priority"]
    label = "kueue.x-k8s.io/priority-class"
    assert applies(policy, None) and applies(policy, {}) and applies(policy, {label: "faculty"})
    assert not applies(policy, {label: "course"})
    (mutation,) = policy["spec"]["mutations"]
    assert (
        "'kueue.x-k8s.io/priority-class': 'course'" in mutation["applyConfiguration"]["expression"]
    )
    binding = admission(lab, "MutatingAdmissionPolicyBinding")["ml-platform-course-priority"]
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {"matchLabels": {"ml-platform.io/tenant-kind": "course"}}  # fmt: skip


def test_professors_jobs_default_to_faculty_priority(lab):
    policy = admission(lab, "MutatingAdmissionPolicy")["ml-platform-faculty-priority"]
    label = "kueue.x-k8s.io/priority-class"
    assert applies(policy, None) and applies(policy, {"app": "x"})
    assert not applies(policy, {label: "course"})
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert {(r["apiGroups"][0], res) for r in rules for res in r["resources"]} == {
        ("batch", "jobs"), ("ray.io", "rayjobs"), ("ray.io", "rayclusters"),
        ("trainer.kubeflow.org", "trainjobs"), ("jobset.x-k8s.io", "jobsets"),
    }  # fmt: skip


# ---- metrics and the dashboard --------------------------------------------------------------

# What the dashboard may query: Kueue's metrics at v0.19.2 (pkg/metrics/metrics.go, with the
# `kueue_` subsystem; histograms as _bucket) and DCGM's fields.
KNOWN_SERIES = {
    "kueue_cluster_queue_resource_usage", "kueue_cluster_queue_nominal_quota",
    "kueue_pending_workloads", "kueue_admitted_active_workloads",
    "kueue_preempted_workloads_total", "kueue_admission_wait_time_seconds_bucket",
    "kueue_cluster_queue_status", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED",
}  # fmt: skip


def test_the_dashboard_ships_as_a_configmap_grafana_loads(lab):
    (configmap,) = [
        r for r in lab.of_type("kubernetes:core/v1:ConfigMap") if r.name == "kueue-dashboard"
    ]
    assert configmap.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"
    (board,) = [json.loads(text) for text in configmap.inputs["data"].values()]
    expressions = [t["expr"] for p in board["panels"] for t in p["targets"]]
    expressions.append(board["templating"]["list"][0]["query"])
    import re

    used = {m for e in expressions for m in re.findall(r"\b(?:kueue|DCGM)_[A-Za-z0-9_]+", e)}
    assert used and used <= KNOWN_SERIES, used - KNOWN_SERIES
    # GPU use per tenant comes from the pods' namespace DCGM reports (honoured labels).
    assert any('DCGM_FI_DEV_GPU_UTIL{namespace=~"$tenant"}' in e for e in expressions)


# ---- checks -------------------------------------------------------------------------------


def test_queueing_without_tenants_is_refused():
    with pytest.raises(ConfigError) as error:
        read_platform_config({"queueing": {"enabled": True}})
    assert "no tenants" in refused(error.value, "ml-platform:platform.queueing.enabled")


def test_settings_defaults():
    assert QueueingSettings(enabled=True).replicas == 2
    values = kueue.kueue_values(QueueingSettings(enabled=True, replicas=1))
    assert values["controllerManager"]["podDisruptionBudget"]["enabled"] is False
