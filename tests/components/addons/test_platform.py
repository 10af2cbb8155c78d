"""The platform as each committed stack gets it: which add-ons, in which order, wired to the
infrastructure. What each add-on makes of its settings is tested in its own test module."""

from __future__ import annotations

from automation.engine import evaluate
from components import versions
from components.addons import ADDONS
from tests.helpers import custom, evaluate_changed, releases, upstream, waits_for

# The lab has tenants (a professor and a course): their queues and notebooks come with it.
LAB_ONLY = {"metallb", "rook-ceph", "ceph-csi-drivers", "rook-ceph-cluster", "kueue", "jupyterhub"}
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


def test_independent_add_ons_install_in_parallel(lab):
    r = releases(lab)
    independent = [
        "gpu-operator",
        "cert-manager",
        "rook-ceph-cluster",
        "metallb",
        "kubelet-csr-approver",
    ]
    for later in independent:
        for earlier in independent:
            if later != earlier:
                assert not waits_for(lab, r[later], r[earlier]), f"{later} waits for {earlier}"
    # Only Ceph (and, through it, what needs a volume) waits for workers: for the six storage
    # hosts to be nodes. No add-on waits for any other worker, so the time to a working
    # platform does not grow with the number of workers.
    joins = {x.name: x.urn for x in lab.registrations if x.name.startswith("join-gpu-")}
    storage_hosts = {f"join-gpu-0{n}" for n in range(1, 7)}
    # Prometheus and JupyterHub keep data on volumes.
    for needs_volumes in ("kube-prometheus-stack", "jupyterhub"):
        waited = {name for name, urn in joins.items() if urn in upstream(lab, r[needs_volumes].urn)}
        assert waited == storage_hosts, needs_volumes
    for name, release in r.items():
        if name not in {"rook-ceph-cluster", "kube-prometheus-stack", "jupyterhub"}:
            assert not set(joins.values()) & upstream(lab, release.urn), name


def test_every_chart_is_pinned_in_the_versions_module(lab, dev):
    pinned = {
        (c.chart, c.version) for c in vars(versions).values() if isinstance(c, versions.HelmChart)
    } | {(versions.CALICO_CHART, versions.CALICO_VERSION)}
    for evaluation in (lab, dev):
        for release in evaluation.of_type("kubernetes:helm.sh/v3:Release"):
            assert (release.inputs["chart"], release.inputs["version"]) in pinned
    registered = {(c.chart, c.version) for addon in ADDONS for c in addon.charts}
    assert {(r.inputs["chart"], r.inputs["version"]) for r in lab.of_type("kubernetes:helm.sh/v3:Release") if not r.name.startswith("cluster-")} <= registered  # fmt: skip


def test_disabling_an_add_on_removes_exactly_it(lab):
    off = evaluate_changed("lab", lambda c: c["platform"].update(monitoring={"enabled": False}))
    removed = set(lab.by_urn()) - set(off.check().by_urn())
    # ...the dashboards the GPU operator and Rook would ship for it (four Commands), and the
    # queue dashboard Kueue ships as a ConfigMap.
    assert {lab.by_urn()[u].type.rsplit(":", 1)[-1] for u in removed} == {
        "Monitoring", "Namespace", "RandomPassword", "Secret", "Release", "PrometheusRule", "Command",
        "ConfigMap",
    }  # fmt: skip
    assert sum(lab.by_urn()[u].name.endswith("-dashboard") for u in removed) == 5
    assert "grafanaAdminPassword" not in off.exports


def test_the_first_preview_of_a_new_environment_works():
    for stack in ("lab", "dev"):
        preview = evaluate(stack, preview=True).check()
        assert set(releases(preview)) >= BOTH
