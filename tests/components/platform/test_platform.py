"""The platform add-ons as each stack gets them: which, with what settings, in which order."""

from __future__ import annotations

import yaml

from automation.engine import evaluate, secret_values
from components import versions
from tests.components.platform.conftest import custom, releases, upstream, waits_for
from tests.helpers import evaluate_changed, plain_text

LAB_ONLY = {"metallb", "rook-ceph", "ceph-csi-drivers", "rook-ceph-cluster"}
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
}
# The pod network's releases (components/kubeadm/cni.py), named like the add-ons' releases.
CNI = {"calico", "calico-crds"}


def test_each_stack_gets_its_add_ons(lab, dev):
    assert set(releases(lab)) == BOTH | LAB_ONLY | CNI
    assert set(releases(dev)) == BOTH | DEV_ONLY | CNI


def test_metallb_hands_out_the_configured_pool_in_l2(lab):
    values = releases(lab)["metallb"].inputs["values"]
    assert values["frrk8s"]["enabled"] is False and values["speaker"]["frr"]["enabled"] is False
    pool = custom(lab, "IPAddressPool", "metallb-pool")
    assert pool.inputs["spec"]["addresses"] == ["192.168.10.200-192.168.10.220"]
    l2 = custom(lab, "L2Advertisement", "metallb-l2")
    assert l2.inputs["spec"]["ipAddressPools"] == [pool.inputs["metadata"]["name"]]


def test_gpu_driver_follows_the_config(lab, dev):
    lab_values = releases(lab)["gpu-operator"].inputs["values"]
    dev_values = releases(dev)["gpu-operator"].inputs["values"]
    assert lab_values["driver"]["enabled"] is False  # preinstalled on the lab hosts
    assert dev_values["driver"]["enabled"] is True  # the operator builds it on AWS
    assert lab_values["toolkit"]["enabled"] and lab_values["nfd"]["enabled"]
    assert lab_values["migManager"]["enabled"] is False
    assert lab_values["dcgmExporter"]["serviceMonitor"]["enabled"] is True


def test_time_slicing_advertises_the_configured_replicas(lab, dev):
    for evaluation, replicas in ((lab, 4), (dev, 2)):
        values = releases(evaluation)["gpu-operator"].inputs["values"]
        config = values["devicePlugin"]["config"]
        sharing = yaml.safe_load(config["data"][config["default"]])["sharing"]["timeSlicing"]
        assert sharing["resources"] == [{"name": "nvidia.com/gpu", "replicas": replicas}]


def test_without_time_slicing_the_device_plugin_keeps_its_defaults():
    def whole_gpus(config):
        config["platform"]["gpu"].pop("timeSlicing")
        config["tenants"].pop("courses")  # their notebooks share GPUs

    whole = evaluate_changed("lab", whole_gpus)
    assert "devicePlugin" not in releases(whole.check())["gpu-operator"].inputs["values"]


def test_ceph_uses_exactly_the_configured_devices(lab):
    spec = releases(lab)["rook-ceph-cluster"].inputs["values"]["cephClusterSpec"]
    assert spec["mon"] == {"count": 3, "allowMultiplePerNode": False}
    storage = spec["storage"]
    assert storage["useAllNodes"] is False and storage["useAllDevices"] is False
    assert storage["nodes"] == [
        {"name": f"gpu-0{n}", "devices": [{"name": "/dev/nvme1n1"}]} for n in range(1, 7)
    ]


def test_ceph_block_pool_is_the_default_class_with_three_replicas_on_distinct_hosts(lab):
    values = releases(lab)["rook-ceph-cluster"].inputs["values"]
    (pool,) = values["cephBlockPools"]
    assert pool["spec"] == {"replicated": {"size": 3}, "failureDomain": "host"}
    assert pool["storageClass"]["isDefault"] is True
    (filesystem,) = values["cephFileSystems"]
    assert filesystem["storageClass"]["isDefault"] is False
    params = filesystem["storageClass"]["parameters"]
    assert params["csi.storage.k8s.io/node-stage-secret-name"] == "rook-csi-cephfs-node"


def test_the_object_store_exists_only_for_mlflow_on_ceph(lab):
    assert releases(lab)["rook-ceph-cluster"].inputs["values"]["cephObjectStores"]
    minio = evaluate_changed("lab", lambda c: c["platform"]["mlflow"].update(objectStore="minio"))
    assert releases(minio.check())["rook-ceph-cluster"].inputs["values"]["cephObjectStores"] == []


def test_ceph_csi_drivers_use_rooks_driver_names(lab):
    drivers = releases(lab)["ceph-csi-drivers"].inputs["values"]["drivers"]
    assert drivers["rbd"]["name"] == "rook-ceph.rbd.csi.ceph.com"
    assert drivers["cephfs"]["name"] == "rook-ceph.cephfs.csi.ceph.com"
    assert not drivers["nfs"]["enabled"] and not drivers["nvmeof"]["enabled"]


def test_aws_storage_is_encrypted_gp3_by_default_and_efs_for_shared_volumes(dev):
    (gp3,) = releases(dev)["aws-ebs-csi-driver"].inputs["values"]["storageClasses"]
    assert gp3["parameters"]["encrypted"] == "true" and gp3["parameters"]["type"] == "gp3"
    assert gp3["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    (efs,) = releases(dev)["aws-efs-csi-driver"].inputs["values"]["storageClasses"]
    file_system = dev.named("shared-storage-efs")  # the file system of the AWS layer
    assert efs["parameters"]["provisioningMode"] == "efs-ap"
    assert efs["parameters"]["fileSystemId"] == f"{file_system.name}-id"  # its (mock) id
    assert file_system.urn in releases(dev)["aws-efs-csi-driver"].all_dependencies


def test_the_cloud_controller_runs_on_control_planes_with_routes_left_alone(dev):
    values = releases(dev)["aws-cloud-controller-manager"].inputs["values"]
    assert "--configure-cloud-routes=false" in values["args"]
    assert values["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert values["image"]["tag"] == versions.AWS_CLOUD_CONTROLLER_MANAGER_IMAGE_TAG


def test_traefik_is_the_default_ingress_class_behind_a_load_balancer(lab, dev):
    for evaluation, expected in (
        (lab, {}),
        (dev, {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}),
    ):
        values = releases(evaluation)["traefik"].inputs["values"]
        assert values["ingressClass"]["isDefaultClass"] is True
        assert values["service"]["spec"]["type"] == "LoadBalancer"
        assert values["service"]["annotations"] == expected
    redirect = values["ports"]["web"]["http"]["redirections"]["entryPoint"]
    assert redirect == {"to": "websecure", "scheme": "https", "permanent": True}


def test_self_signed_ca_issuer_by_default_and_acme_on_request(lab):
    issuer = custom(lab, "ClusterIssuer", "cert-manager-platform")
    assert issuer.inputs["spec"] == {"ca": {"secretName": "platform-root-ca"}}
    ca = custom(lab, "Certificate", "cert-manager-platform-root-ca")
    assert ca.inputs["spec"]["isCA"] is True
    assert waits_for(lab, issuer, ca) and waits_for(lab, ca, releases(lab)["cert-manager"])
    acme = evaluate_changed(
        "lab",
        lambda c: c["platform"].update(
            certificates={"issuer": "acme", "acmeEmail": "ops@lab.example.edu"}
        ),
    ).check()
    spec = custom(acme, "ClusterIssuer", "cert-manager-platform").inputs["spec"]["acme"]
    assert spec["email"] == "ops@lab.example.edu"
    assert spec["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert spec["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]
    assert not [r for r in acme.registrations if r.type.endswith("Certificate")]


def test_the_csr_approver_accepts_node_names_from_the_node_network(lab, dev):
    lab_values = releases(lab)["kubelet-csr-approver"].inputs["values"]
    assert lab_values["providerIpPrefixes"] == ["192.168.10.0/24"]
    assert lab_values["bypassDnsResolution"] is True
    dev_values = releases(dev)["kubelet-csr-approver"].inputs["values"]
    assert dev_values["providerIpPrefixes"] == ["10.0.0.0/16"]
    assert "ec2" in dev_values["providerRegex"]


def test_monitoring_settings_come_from_the_config(lab):
    changed = evaluate_changed(
        "lab",
        lambda c: c["platform"].update(
            monitoring={"retention": "30d", "volumeSize": "200Gi", "storageClass": "local-nvme"}
        ),
    ).check()
    spec = releases(changed)["kube-prometheus-stack"].inputs["values"]["prometheus"][
        "prometheusSpec"
    ]
    assert spec["retention"] == "30d"
    assert spec["retentionSize"] == "174080MB"  # 85% of 200Gi: old data goes before the disk fills
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "200Gi"
    assert claim["storageClassName"] == "local-nvme"
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    default = releases(lab)["kube-prometheus-stack"].inputs["values"]["prometheus"][
        "prometheusSpec"
    ]
    assert (
        default["retention"] == "15d"
        and "storageClassName" not in default["storageSpec"]["volumeClaimTemplate"]["spec"]
    )


def test_dashboards_and_alerts(lab, dev):
    grafana = releases(lab)["kube-prometheus-stack"].inputs["values"]["grafana"]
    assert set(grafana["dashboards"]) == {"gpu", "ceph"}
    assert set(
        releases(dev)["kube-prometheus-stack"].inputs["values"]["grafana"]["dashboards"]
    ) == {"gpu"}
    rules = custom(lab, "PrometheusRule", "monitoring-platform-alerts").inputs["spec"]["groups"]
    alerts = {rule["alert"] for group in rules for rule in group["rules"]}
    assert {"GPUXidError", "GPUUnhealthy", "CertificateExpiration"} <= alerts
    defaults = releases(lab)["kube-prometheus-stack"].inputs["values"]["defaultRules"]["rules"]
    assert defaults["etcd"] and defaults["kubernetesSystem"]  # etcd, KubeNodeNotReady


def test_vpa_only_recommends_by_default(lab):
    values = releases(lab)["vertical-pod-autoscaler"].inputs["values"]
    assert values == {
        "recommender": {"enabled": True},
        "updater": {"enabled": False},
        "admissionController": {"enabled": False},
    }
    off = evaluate_changed("lab", lambda c: c["platform"].update(autoscaling={"vpa": "off"}))
    assert "vertical-pod-autoscaler" not in releases(off.check())


def test_the_grafana_password_is_generated_and_never_plain(lab):
    password = lab.exports["grafanaAdminPassword"]
    assert password.secret and len(password.value) == 32
    secret = custom(lab, "core/v1:Secret", "monitoring-grafana-admin")
    assert secret_values(secret.inputs["stringData"])
    assert all(password.value not in plain_text(r.inputs) for r in lab.registrations)
    values = releases(lab)["kube-prometheus-stack"].inputs["values"]["grafana"]
    assert values["admin"]["existingSecret"] == secret.inputs["metadata"]["name"]


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


def test_rook_installs_in_its_three_steps_and_monitoring_after_storage(lab):
    r = releases(lab)
    assert waits_for(lab, r["ceph-csi-drivers"], r["rook-ceph"])
    assert waits_for(lab, r["rook-ceph-cluster"], r["ceph-csi-drivers"])
    assert waits_for(lab, r["kube-prometheus-stack"], r["rook-ceph-cluster"])
    assert waits_for(lab, custom(lab, "IPAddressPool", "metallb-pool"), r["metallb"])
    assert waits_for(lab, r["traefik"], custom(lab, "IPAddressPool", "metallb-pool"))
    assert waits_for(lab, r["metrics-server"], r["kubelet-csr-approver"])
    assert waits_for(lab, r["vertical-pod-autoscaler"], r["metrics-server"])


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
    # No add-on waits for any worker: the platform starts once the control plane and CNI are up.
    joins = {x.urn for x in lab.registrations if x.name.startswith("join-gpu-")}
    assert not joins & upstream(lab, r["kube-prometheus-stack"].urn)


def test_every_chart_is_pinned_to_the_versions_module(lab, dev):
    pinned = {
        (c.chart, c.version) for c in vars(versions).values() if isinstance(c, versions.HelmChart)
    } | {(versions.CALICO_CHART, versions.CALICO_VERSION)}
    for evaluation in (lab, dev):
        for release in evaluation.of_type("kubernetes:helm.sh/v3:Release"):
            assert (release.inputs["chart"], release.inputs["version"]) in pinned


def test_the_first_preview_of_a_new_environment_works():
    for stack in ("lab", "dev"):
        preview = evaluate(stack, preview=True).check()
        assert set(releases(preview)) >= BOTH
