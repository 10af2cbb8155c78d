"""Tenancy: per professor and per course a namespace, its policies, quotas and bindings, on the
lab and on a test stack with several of each (tests/tenants.py)."""

from __future__ import annotations

import pytest

from automation.engine import Evaluation
from components.addons import tenancy
from components.addons.tenancy import CourseQuota, FacultyQuota, TenancySettings
from tests.netpol import Address, Pod, cluster_of
from tests.tenants import COURSES, FACULTY, campus_config, evaluate_campus

NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMITS = "kubernetes:core/v1:LimitRange"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"
TENANTS = [t["name"] for t in FACULTY + COURSES]


def in_namespace(evaluation: Evaluation, type_: str, namespace: str) -> dict[str, dict]:
    """Objects of `type_` in `namespace`, by their Kubernetes name."""
    return {
        r.inputs["metadata"]["name"]: r.inputs
        for r in evaluation.of_type(type_)
        if r.inputs["metadata"].get("namespace") == namespace
    }


def namespaces(evaluation: Evaluation) -> dict[str, dict]:
    return {
        r.inputs["metadata"]["name"]: r.inputs["metadata"] for r in evaluation.of_type(NAMESPACE)
    }


@pytest.mark.parametrize("stack", ["lab", "campus"])
def test_each_tenant_has_a_restricted_namespace_labelled_by_kind(stack, request):
    evaluation = request.getfixturevalue(stack)
    expected = {"prof-lee": "faculty", "cs231": "course"}
    if stack == "campus":
        expected = {t["name"]: "faculty" for t in FACULTY} | {t["name"]: "course" for t in COURSES}
    found = namespaces(evaluation)
    for name, kind in expected.items():
        labels = found[name]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", name
        assert labels["ml-platform.io/tenant"] == name
        assert labels["ml-platform.io/tenant-kind"] == kind


def test_each_tenant_gets_the_same_policies_limits_and_its_quotas(campus):
    for name in TENANTS:
        assert set(in_namespace(campus, POLICY, name)) == {
            "default-deny", "allow-dns", "allow-same-namespace", "allow-platform-services",
            # JupyterHub's and KubeRay's ways in (their own modules).
            "jupyterhub-notebooks", "allow-kuberay-operator",
        }, name  # fmt: skip
        assert set(in_namespace(campus, LIMITS, name)) == {"defaults"}
        quotas = in_namespace(campus, QUOTA, name)
        assert set(quotas) == {"tenant", "no-critical-priority"}
        hard = quotas["tenant"]["spec"]["hard"]
        # Whole GPUs are Kueue's to share out; no tenant may expose a Service outside.
        assert "requests.nvidia.com/gpu" not in hard
        assert hard["services.loadbalancers"] == "0" and hard["services.nodeports"] == "0"
    cs231 = in_namespace(campus, QUOTA, "cs231")["tenant"]["spec"]["hard"]
    # One slice per student (three of them), CPU and memory from the course defaults.
    assert cs231["requests.nvidia.com/gpu.shared"] == "3"
    assert (cs231["requests.cpu"], cs231["requests.memory"]) == ("64", "256Gi")
    # A course without notebook GPUs and a professor get no slices.
    assert in_namespace(campus, QUOTA, "ml101")["tenant"]["spec"]["hard"]["requests.nvidia.com/gpu.shared"] == "0"  # fmt: skip
    prof = in_namespace(campus, QUOTA, "prof-lee")["tenant"]["spec"]["hard"]
    assert (prof["requests.cpu"], prof["requests.nvidia.com/gpu.shared"]) == ("128", "0")


def test_the_quotas_follow_the_settings():
    from model.tenants import Course
    from tests.helpers import site

    settings = TenancySettings(
        faculty=FacultyQuota(), courses=CourseQuota(cpu="8", memory="32Gi", storage="100Gi")
    )
    course = Course(name="c", users=("a", "b"), gpu_quota=1, notebook_gpu_fraction=4)
    hard = tenancy.resource_quota(course, settings, site(), replicas=4)
    assert (hard["requests.cpu"], hard["requests.memory"], hard["requests.storage"]) == (
        "8",
        "32Gi",
        "100Gi",
    )
    # Never more slices than the shared hosts have (one shared GPU, four slices).
    many = Course(name="c", users=tuple(f"s{n}" for n in range(10)), notebook_gpu_fraction=4)
    assert tenancy.resource_quota(many, settings, site(), replicas=4)["requests.nvidia.com/gpu.shared"] == "4"  # fmt: skip


def test_users_edit_their_own_namespace_and_nothing_cluster_wide(campus):
    for tenant in FACULTY + COURSES:
        bindings = in_namespace(campus, BINDING, tenant["name"])
        edit = bindings["tenant-edit"]
        assert edit["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"
        }  # fmt: skip
        # The API server names OIDC users with the prefix oidc: (components/kubeadm).
        assert [s["name"] for s in edit["subjects"]] == [f"oidc:{u}" for u in tenant["users"]]
    everyone = {f"oidc:{u}" for t in FACULTY + COURSES for u in t["users"]}
    for r in campus.registrations:
        if r.type.endswith("ClusterRoleBinding"):
            assert not {s["name"] for s in r.inputs.get("subjects", [])} & everyone, r.name


def test_without_an_identity_provider_no_one_is_bound(lab):
    assert not [r for r in lab.of_type(BINDING) if r.inputs["metadata"]["name"] == "tenant-edit"]


def test_a_course_gets_a_shared_data_volume_and_a_professor_does_not(campus):
    """JupyterHub makes it (it needs storage, which the namespaces must not wait for)."""
    (data,) = in_namespace(campus, CLAIM, "cs231").values()
    assert data["metadata"]["name"] == "course-data"
    assert data["spec"]["accessModes"] == ["ReadWriteMany"]
    assert data["spec"]["storageClassName"] == "ceph-filesystem"
    assert in_namespace(campus, CLAIM, "prof-lee") == {}


def test_removing_a_tenant_keeps_its_namespace_data_and_isolation(campus):
    """Pulumi forgets them rather than deleting them: the namespace (homes, course data), the
    course's data volume and the deny-all policy stay; the rest goes."""
    retained = {r.name for r in campus.registrations if r.retain_on_delete}
    for name in TENANTS:
        assert {f"tenant-{name}", f"tenant-{name}-default-deny"} <= retained
        assert f"tenant-{name}-allow-dns" not in retained
    # A course's data volume (JupyterHub makes it) is kept too.
    assert "jupyterhub-cs231-data" in retained


# ---- isolation, evaluated ------------------------------------------------------------------

KUBE_SYSTEM = {"kube-system": {}, "rook-ceph": {}, "monitoring": {}}


def test_a_students_pods_reach_their_own_dns_and_the_object_store_only(campus):
    cluster = cluster_of(campus.registrations, KUBE_SYSTEM)
    student = Pod("cs231", {"app": "train"})
    assert cluster.connects(student, Pod("cs231", {"app": "ray-head"}), 6379)
    assert cluster.connects(student, Pod("kube-system", {"k8s-app": "kube-dns"}), 53, "UDP")
    assert cluster.connects(student, Pod("rook-ceph", {"app": "rook-ceph-rgw"}), 8080)
    assert not cluster.connects(student, Pod("rook-ceph", {"app": "rook-ceph-mon"}), 6789)
    assert not cluster.connects(student, Pod("monitoring", {"app": "prometheus"}), 9090)
    assert not cluster.connects(student, Address("203.0.113.7"), 443)
    assert not cluster.connects(student, Address("169.254.169.254"), 80)


def test_a_student_namespace_and_another_tenants_pods_cannot_reach_each_other(campus):
    cluster = cluster_of(campus.registrations, KUBE_SYSTEM)
    for other in TENANTS:
        if other == "cs231":
            continue
        theirs = Pod(other, {"app": "train"})
        for port in (22, 8888, 6379, 8265):
            assert not cluster.connects(Pod("cs231", {"app": "x"}), theirs, port), other
            assert not cluster.connects(
                theirs, Pod("cs231", {"component": "singleuser-server"}), port
            )


def test_nothing_outside_a_tenant_reaches_its_pods(campus):
    """Ingress on its own: pods of namespaces no policy restricts (a platform namespace,
    `default`) are refused too, not only by the other tenant's egress rules."""
    cluster = cluster_of(campus.registrations, {**KUBE_SYSTEM, "default": {}})
    for outsider in (Pod("default", {"app": "x"}), Pod("monitoring", {"app": "prometheus"})):
        for tenant in TENANTS:
            assert not cluster.connects(outsider, Pod(tenant, {"app": "train"}), 8080), tenant


def test_without_the_policies_the_evaluator_would_let_them_through(campus):
    """The evaluator is not vacuous: take the deny-all away and the same connection passes."""
    open_cluster = cluster_of([r for r in campus.registrations if r.type != POLICY], KUBE_SYSTEM)
    assert open_cluster.connects(Pod("cs231", {"app": "x"}), Pod("prof-lee", {"app": "y"}), 22)


def test_on_aws_with_s3_tenants_reach_https_but_not_the_metadata_service():
    policies = tenancy.network_policies("s3")
    from tests.netpol import Cluster, Policy

    cluster = Cluster({"t": {}}, [Policy("t", spec) for spec in policies.values()])
    pod = Pod("t")
    assert cluster.connects(pod, Address("52.216.1.1"), 443)
    assert not cluster.connects(pod, Address("52.216.1.1"), 80)
    assert not cluster.connects(pod, Address("169.254.169.254"), 443)
    assert not cluster.connects(pod, Address("10.0.1.5"), 443)


# ---- changes ---------------------------------------------------------------------------


def test_a_second_run_changes_nothing(campus):
    """Another `pulumi up` with the same config: every tenant object, queue and the hub's
    values come out the same (no diff)."""
    second = evaluate_campus(campus_config()).check()
    # Registrations arrive concurrently: compared by URN, not by order.
    assert {u: r.inputs for u, r in second.by_urn().items()} == {
        u: r.inputs for u, r in campus.by_urn().items()
    }


def test_adding_a_course_changes_nothing_of_the_other_tenants(campus, campus_plus_course):
    before, after = campus.by_urn(), campus_plus_course.by_urn()
    added = set(after) - set(before)
    assert set(before) <= set(after)
    assert {after[u].name for u in added if after[u].custom} >= {
        "tenant-cs330", "tenant-cs330-default-deny", "tenant-cs330-quota",
        "kueue-cs330-cluster-queue", "kueue-cs330-local-queue",
    }  # fmt: skip
    assert all("cs330" in after[u].name for u in added), sorted(after[u].name for u in added)
    changed = {before[u].name for u in before if before[u].inputs != after[u].inputs}
    # What every tenant shares: the cohort lends the GPUs no tenant owns (two fewer now), and
    # JupyterHub learns the new course's users and profiles.
    assert changed == {"kueue-cohort", "jupyterhub"}, changed
