"""The platform as each committed stack gets it: which add-ons, in which order, wired to the
infrastructure. What each add-on makes of its settings is tested in its own test module."""

from __future__ import annotations

import pytest

from automation.engine import Evaluation, evaluate, secret_values, unwrap_secrets
from components import versions
from components.addons import ADDONS
from tests.helpers import (
    custom,
    descendants,
    evaluate_changed,
    plain_text,
    releases,
    upstream,
    waits_for,
)

# The lab has tenants (a professor and a course): their queues and notebooks come with it; and
# the MLOps example, whose drift check pushes its metrics to the Pushgateway.
LAB_ONLY = {"metallb", "rook-ceph", "ceph-csi-drivers", "rook-ceph-cluster", "kueue", "jupyterhub",
            "pushgateway"}  # fmt: skip
DEV_ONLY = {"aws-cloud-controller-manager", "aws-ebs-csi-driver", "aws-efs-csi-driver"}
BOTH = {
    "prometheus-operator-crds",
    "kubelet-csr-approver",
    "traefik",
    "cert-manager",
    "gpu-operator",
    "kube-prometheus-stack",
    "metrics-server",
    "vertical-pod-autoscaler",
    "cloudnative-pg",
    "plugin-barman-cloud",
    "mlflow",
    "rancher",
    "kuberay-operator",
    "kubeflow-trainer",
}
# The pod network's releases (components/kubeadm/cni.py), named like the add-ons' releases.
CNI = {"calico", "calico-crds"}


def test_each_stack_gets_its_add_ons(lab, dev):
    assert set(releases(lab)) == BOTH | LAB_ONLY | CNI
    assert set(releases(dev)) == BOTH | DEV_ONLY | CNI


def test_the_stacks_settings_reach_their_add_ons(lab, dev):
    for evaluation, replicas, driver in ((lab, 4, False), (dev, 2, True)):
        values = releases(evaluation)["gpu-operator"].inputs["values"]
        assert values["driver"]["enabled"] is driver
        assert f"replicas: {replicas}" in values["devicePlugin"]["config"]["data"]["shared"]
    pool = custom(lab, "IPAddressPool", "metallb-pool")
    assert pool.inputs["spec"]["addresses"] == ["192.168.10.200-192.168.10.220"]
    storage = releases(lab)["rook-ceph-cluster"].inputs["values"]["cephClusterSpec"]["storage"]
    assert [n["name"] for n in storage["nodes"]] == [f"gpu-0{n}" for n in range(1, 7)]


def test_the_csr_approver_accepts_each_nodes_own_address(lab, dev):
    lab_values = releases(lab)["kubelet-csr-approver"].inputs["values"]
    prefixes = lab_values["providerIpPrefixes"]
    assert len(prefixes) == 43 and "192.168.10.107/32" in prefixes
    assert "192.168.10.10/32" not in prefixes  # the API VIP is no node's
    assert lab_values["bypassDnsResolution"] is False
    dev_values = releases(dev)["kubelet-csr-approver"].inputs["values"]
    assert len(dev_values["providerIpPrefixes"]) == 7
    assert all(
        p.startswith("10.0.") and p.endswith("/32") for p in dev_values["providerIpPrefixes"]
    )
    assert "ec2" in dev_values["providerRegex"]


def test_the_efs_class_names_the_aws_layers_file_system(dev):
    (efs,) = releases(dev)["aws-efs-csi-driver"].inputs["values"]["storageClasses"]
    file_system = dev.named("shared-storage-efs")
    assert efs["parameters"]["fileSystemId"] == f"{file_system.name}-id"  # its (mock) id
    assert file_system.urn in releases(dev)["aws-efs-csi-driver"].all_dependencies


def test_each_stack_gets_its_buckets(lab, dev):
    claims = {
        r.inputs["spec"]["bucketName"]: r.inputs["metadata"]["namespace"]
        for r in lab.registrations
        if r.type.endswith(":ObjectBucketClaim")
    }
    assert claims == {"ml-platform-lab-postgres-backups": "postgres",
                      "ml-platform-lab-mlflow-artifacts": "mlflow",
                      "ml-platform-lab-etcd-snapshots": "etcd-backups",
                      # Each tenant's own, for its notebooks (JupyterHub).
                      "ml-platform-lab-tenant-prof-lee": "prof-lee",
                      "ml-platform-lab-tenant-cs231": "cs231",
                      # Kubeflow Pipelines' artifacts; the MLOps example's recorded inputs.
                      "ml-platform-lab-kubeflow-pipelines": "kubeflow",
                      "ml-platform-lab-mlops-example": "prof-lee"}  # fmt: skip
    buckets = {r.inputs["bucket"] for r in dev.of_type("aws:s3/bucket:Bucket")}
    assert buckets == {"ml-platform-dev-postgres-backups", "ml-platform-dev-mlflow-artifacts",
                       "ml-platform-dev-etcd-snapshots"}  # fmt: skip


def test_urls_and_admin_passwords_are_stack_outputs(lab, dev):
    for evaluation in (lab, dev):
        exports = evaluation.exports
        domain = "ml.lab.example.edu" if evaluation is lab else "ml.dev.example.edu"
        for name, host in (("grafanaUrl", "grafana"), ("mlflowUrl", "mlflow"),
                           ("rancherUrl", "rancher")):  # fmt: skip
            assert exports[name].value == f"https://{host}.{domain}" and not exports[name].secret
        for name in ("grafanaAdminPassword", "mlflowAdminPassword", "rancherBootstrapPassword"):
            assert exports[name].secret, name
        assert exports["mlflowTrackingUri"].value == "http://mlflow.mlflow.svc:80"


def secrets_of(evaluation: Evaluation) -> set[str]:
    """Every secret value the evaluation knows: secret exports, and what the Kubernetes
    Secrets it makes hold (credentials, passwords, keys)."""
    found = {str(e.value) for e in evaluation.exports.values() if e.secret and e.value}
    for registration in evaluation.of_type("kubernetes:core/v1:Secret"):
        data = unwrap_secrets(registration.inputs.get("stringData") or {})
        found |= {v for k, v in data.items() if isinstance(v, str) and k not in PUBLIC_KEYS}
    return {value for value in found if len(value) >= 8}


# Secret keys whose values are not secret (names, endpoints, a CA's public certificate).
PUBLIC_KEYS = {"username", "admin-user", "MINIO_ROOT_USER", "AWS_REGION", "AWS_ENDPOINTS",
               "cacerts.pem", "ca.crt", "tls.crt"}  # fmt: skip


@pytest.mark.parametrize("stack", ["lab", "dev"])
def test_no_password_access_key_or_secret_key_is_plain_text_anywhere(stack, request):
    evaluation = request.getfixturevalue(stack)
    secrets = secrets_of(evaluation)
    # Grafana's, MLflow's and Rancher's passwords, both databases', the CA key; on AWS the
    # buckets' keys too (Rook writes the claims' keys in the cluster, never in the program).
    assert len(secrets) >= (10 if stack == "dev" else 6)
    plain_exports = " ".join(str(e.value) for e in evaluation.exports.values() if not e.secret)
    for registration in evaluation.registrations:
        text = plain_text(registration.inputs)
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{registration.type} {registration.name} holds a secret in plain text"
    assert not [s for s in secrets if s in plain_exports]
    for registration in evaluation.of_type("kubernetes:core/v1:Secret"):
        assert secret_values(registration.inputs["stringData"]), registration.name


def test_the_grafana_password_is_a_secret_stack_output(lab):
    assert lab.exports["grafanaAdminPassword"].secret


# --- ordering -------------------------------------------------------------------------


def test_every_add_on_waits_for_the_pod_network(lab):
    # Not for the operator's release: for calico-node Ready (the CNI's readiness gate).
    ready = lab.named("cluster-cni-calico-ready")
    for name, release in releases(lab).items():
        if name not in CNI:
            assert waits_for(lab, release, ready), name


def test_on_aws_every_add_on_waits_for_the_cloud_controller(dev):
    ccm = releases(dev)["aws-cloud-controller-manager"]
    for name, release in releases(dev).items():
        if release is not ccm and name not in CNI:
            assert waits_for(dev, release, ccm), name


def test_monitored_add_ons_wait_for_the_prometheus_crds(lab):
    crds = releases(lab)["prometheus-operator-crds"]
    for name in BOTH - {"prometheus-operator-crds"} | {"rook-ceph", "rook-ceph-cluster"}:
        assert waits_for(lab, releases(lab)[name], crds), name
    assert waits_for(lab, custom(lab, "PrometheusRule", "monitoring-platform-alerts"), crds)


def test_needs_order_what_must_be_ordered(lab):
    r = releases(lab)
    assert waits_for(lab, r["kube-prometheus-stack"], r["rook-ceph-cluster"])
    assert waits_for(lab, r["traefik"], custom(lab, "IPAddressPool", "metallb-pool"))
    assert waits_for(lab, r["metrics-server"], r["kubelet-csr-approver"])


def test_mlflow_waits_for_its_database_and_bucket_and_nothing_unrelated(lab, dev):
    for evaluation in (lab, dev):
        r = releases(evaluation)
        mlflow = r["mlflow"]
        database = custom(evaluation, "postgresql.cnpg.io/v1:Database", "mlflow-db")
        assert waits_for(evaluation, mlflow, database)
        assert waits_for(evaluation, mlflow, r["cloudnative-pg"])
        for unrelated in ("gpu-operator", "kube-prometheus-stack", "rancher", "traefik",
                          "metrics-server", "vertical-pod-autoscaler"):  # fmt: skip
            assert not waits_for(evaluation, mlflow, r[unrelated]), unrelated
    claim = custom(lab, "ObjectBucketClaim", "mlflow-artifacts-bucket-claim")
    assert waits_for(lab, releases(lab)["mlflow"], claim)
    (bucket,) = [b for b in dev.of_type("aws:s3/bucket:Bucket") if "mlflow" in b.name]
    assert waits_for(dev, releases(dev)["mlflow"], bucket)


def test_postgres_backups_wait_for_the_object_store_and_rancher_for_nothing_of_the_data(lab):
    r = releases(lab)
    cluster = custom(lab, "postgresql.cnpg.io/v1:Cluster", "postgres-cluster")
    store = custom(lab, "CephObjectStore", "ceph-rgw-store")
    assert waits_for(lab, cluster, store)
    assert waits_for(lab, store, r["rook-ceph-cluster"])
    for data in ("cloudnative-pg", "mlflow", "rook-ceph-cluster"):
        assert not waits_for(lab, r["rancher"], r[data]), data


def test_independent_add_ons_install_in_parallel(lab):
    r = releases(lab)
    independent = [
        "gpu-operator",
        "cert-manager",
        "rook-ceph-cluster",
        "metallb",
        "kubelet-csr-approver",
    ]
    # The data services beside what they do not use.
    for later, earlier in (
        ("rancher", "gpu-operator"),
        ("gpu-operator", "rancher"),
        ("cloudnative-pg", "gpu-operator"),
        ("mlflow", "gpu-operator"),
        ("kube-prometheus-stack", "mlflow"),
        ("mlflow", "rancher"),
        ("rancher", "kube-prometheus-stack"),
        ("cloudnative-pg", "traefik"),
    ):
        assert not waits_for(lab, r[later], r[earlier]), f"{later} waits for {earlier}"  # fmt: skip
    for later in independent:
        for earlier in independent:
            if later != earlier:
                assert not waits_for(lab, r[later], r[earlier]), f"{later} waits for {earlier}"
    # Only Ceph (and, through it, what needs a volume or a bucket) waits for workers: for the
    # six storage hosts to be nodes. No add-on waits for any other worker, so the time to a
    # working platform does not grow with the number of workers.
    joins = {x.name: x.urn for x in lab.registrations if x.name.startswith("join-gpu-")}
    storage_hosts = {f"join-gpu-0{n}" for n in range(1, 7)}
    # (The Pushgateway needs no volume: it is in monitoring's namespace, which waits for the
    # storage Prometheus' volume comes from.)
    on_volumes = {"rook-ceph-cluster", "kube-prometheus-stack", "jupyterhub", "cloudnative-pg",
                  "plugin-barman-cloud", "mlflow", "pushgateway"}  # fmt: skip
    for name, release in r.items():
        waited = {n for n, urn in joins.items() if urn in upstream(lab, release.urn)}
        if name in on_volumes - {"rook-ceph-cluster"}:
            assert waited == storage_hosts, name
        elif name != "rook-ceph-cluster":
            assert not waited, name


def test_every_chart_is_pinned_in_the_versions_module(lab, dev):
    pinned = {
        (c.chart, c.version) for c in vars(versions).values() if isinstance(c, versions.HelmChart)
    } | {(versions.CALICO_CHART, versions.CALICO_VERSION)}
    for evaluation in (lab, dev):
        for release in evaluation.of_type("kubernetes:helm.sh/v3:Release"):
            assert (release.inputs["chart"], release.inputs["version"]) in pinned
    registered = {(c.chart, c.version) for addon in ADDONS for c in addon.charts}
    assert {(r.inputs["chart"], r.inputs["version"]) for r in lab.of_type("kubernetes:helm.sh/v3:Release") if not r.name.startswith("cluster-")} <= registered  # fmt: skip


def without_mlops_example(config: dict) -> None:
    """The lab's MLOps example off (it needs MLflow, Kubeflow Pipelines, monitoring...)."""
    config["platform"]["mlops"]["example"]["enabled"] = False


def example_urns(evaluation: Evaluation) -> set[str]:
    """The MLOps example's component and everything under it."""
    return descendants(evaluation, "ml-platform:platform:MlopsExample")


def test_disabling_an_add_on_removes_exactly_it(lab):
    def change(config: dict) -> None:
        without_mlops_example(config)  # it needs monitoring's Pushgateway
        config["platform"]["monitoring"] = {"enabled": False}

    off = evaluate_changed("lab", change)
    removed = set(lab.by_urn()) - set(off.check().by_urn()) - example_urns(lab)
    # ...the dashboards the GPU operator and Rook would ship for it (four Commands), and the
    # queue dashboard Kueue ships as a ConfigMap.
    assert {lab.by_urn()[u].type.rsplit(":", 1)[-1] for u in removed} == {
        "Monitoring", "Namespace", "RandomPassword", "Secret", "Release", "PrometheusRule", "Command",
        "ConfigMap",
    }  # fmt: skip
    assert sum(lab.by_urn()[u].name.endswith("-dashboard") for u in removed) == 5
    assert "grafanaAdminPassword" not in off.exports


def changed_urns(before: Evaluation, after: Evaluation) -> set[str]:
    """URNs added, removed, or registered with other inputs."""
    a, b = before.by_urn(), after.by_urn()
    changed = set(a) ^ set(b)
    changed |= {
        u for u in set(a) & set(b) if unwrap_secrets(a[u].inputs) != unwrap_secrets(b[u].inputs)
    }
    return changed


def test_switching_the_object_store_changes_only_what_depends_on_it(lab):
    minio = evaluate_changed(
        "lab", lambda c: c["platform"].update(objectStore={"provider": "minio"})
    )
    changed = changed_urns(lab, minio.check())
    kinds = {urn.split("::")[-2].rsplit("$", 1)[-1] for urn in changed}
    # The store itself, the consumers' bucket resources, the consumers that name an endpoint.
    assert kinds <= {
        "ml-platform:platform:CephRgwStore", "ml-platform:platform:MinioStore",
        "kubernetes:ceph.rook.io/v1:CephObjectStore", "kubernetes:storage.k8s.io/v1:StorageClass",
        "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim", "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:Secret", "kubernetes:core/v1:Service", "kubernetes:apps/v1:StatefulSet",
        "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:batch/v1:Job",
        "random:index/randomPassword:RandomPassword", "kubernetes:helm.sh/v3:Release",
        "kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "kubernetes:batch/v1:CronJob",
        # Tenants' notebooks may reach the store: their egress policy names its address.
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        # Kubeflow Pipelines' manifests (applied by a Command) and the MLOps example's model
        # name the store's endpoint.
        "command:remote:Command", "kubernetes:apps/v1:Deployment",
    }, kinds  # fmt: skip
    names = {lab.by_urn().get(u, minio.by_urn().get(u)).name for u in changed}
    changed_releases = {n for n in names if n in releases(lab)}
    # Their endpoints (MLflow's artifacts, the notebooks' S3 settings); nothing else moves.
    assert changed_releases == {"mlflow", "jupyterhub"}
    for untouched in ("rook-ceph", "rook-ceph-cluster", "cloudnative-pg", "kube-prometheus-stack",
                      "gpu-operator", "cert-manager", "traefik", "rancher"):  # fmt: skip
        assert releases(lab)[untouched].urn not in changed, untouched
    assert not [u for u in changed if "kubeadm" in u], "the cluster does not move"
    assert "postgres-cluster" not in names  # its backups' store is renamed nowhere


def test_the_first_preview_of_a_new_environment_works():
    for stack in ("lab", "dev"):
        preview = evaluate(stack, preview=True).check()
        assert set(releases(preview)) >= BOTH


def test_kubeflow_pipelines_gets_its_bucket_and_databases_from_the_real_data_services():
    on = evaluate_changed("lab", lambda c: c["platform"].update(pipelines={"enabled": True}))
    on.check()
    claim = custom(on, "ObjectBucketClaim", "kubeflow-pipelines-bucket-claim")
    assert claim.inputs["metadata"]["namespace"] == "kubeflow"
    assert "KubeflowPipelines" in claim.urn  # its own, not the store's
    role = custom(on, "DatabaseRole", "mlpipeline-db-role")
    assert role.inputs["spec"]["createdb"] is True  # its API server runs CREATE DATABASE
    cluster = custom(on, "postgresql.cnpg.io/v1:Cluster", "postgres-cluster")
    assert waits_for(on, role, cluster)


def test_switching_mlflow_off_removes_exactly_its_own_and_keeps_its_data(lab):
    def change(config: dict) -> None:
        without_mlops_example(config)  # it keeps its model in MLflow
        config["platform"]["mlflow"] = {"enabled": False}

    off = evaluate_changed("lab", change)
    changed = changed_urns(lab, off.check()) - example_urns(lab)
    removed = [lab.by_urn()[u] for u in changed if u in lab.by_urn()]
    assert all(u in lab.by_urn() and u not in off.by_urn() for u in changed)  # only removals
    assert {r.type.rsplit(":", 1)[-1] for r in removed} == {
        "Mlflow", "Namespace", "Release", "Secret", "RandomPassword", "Database", "DatabaseRole",
        "ObjectBucketClaim",
    }  # fmt: skip
    # What keeps its data is retained by the operators when its object goes.
    for registration in removed:
        spec = registration.inputs.get("spec") or {}
        if registration.type.endswith(":Database"):
            assert spec["databaseReclaimPolicy"] == "retain"
        if registration.type.endswith(":DatabaseRole"):
            assert spec["databaseRoleReclaimPolicy"] == "retain"
    bucket_class = custom(lab, "StorageClass", "ceph-rgw-bucket-class")
    assert bucket_class.inputs["reclaimPolicy"] == "Retain"


def test_hosts_get_longhorns_prerequisites_only_when_longhorn_is_the_storage(lab):
    from tests.helpers import bundle_params
    from tools.chart_facts import evaluated

    def flags(evaluation: Evaluation) -> set[str]:
        prepares = [r for r in evaluation.registrations if r.name.startswith("prepare-")]
        assert len(prepares) == 43
        return {bundle_params(r)["LONGHORN"] for r in prepares}

    assert flags(lab) == {"false"}
    longhorn = evaluated("lab-longhorn-minio")
    assert flags(longhorn) == {"true"}
    components = {r.type.rsplit(":", 1)[-1] for r in longhorn.registrations if not r.custom}
    assert {"Longhorn", "LonghornUi", "LonghornBackups", "MinioStore"} <= components
    assert "RookCeph" not in components and "CephRgwStore" not in components
