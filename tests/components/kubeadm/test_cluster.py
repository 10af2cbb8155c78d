"""The kubeadm cluster as a deployment graph: what runs where, after what, with which secrets."""

from __future__ import annotations

import base64

import pytest
import yaml

from automation.engine import evaluate
from tests.helpers import (
    SCHEMA_VERSION,
    bundle_params,
    evaluate_changed,
    evaluate_config,
    lab_with_workers,
    plain_text,
    stack_config,
)

COMMAND = "command:remote:Command"


def commands(evaluation) -> dict:
    return {r.name: r for r in evaluation.of_type(COMMAND)}


def test_every_worker_join_depends_on_init_and_on_no_other_worker(lab):
    cmds = commands(lab)
    init, joins = cmds["init"].urn, {n: r for n, r in cmds.items() if n.startswith("join-gpu-")}
    assert len(joins) == 40
    join_urns = {r.urn for r in joins.values()}
    for join in joins.values():
        assert init in join.dependencies
        assert not (join.all_dependencies & join_urns)


def test_control_plane_joins_are_chained(lab):
    cmds = commands(lab)
    assert cmds["join-cp-2"].urn in cmds["join-cp-3"].dependencies
    assert cmds["init"].urn in cmds["join-cp-2"].dependencies
    assert cmds["prepare-cp-1"].urn in cmds["init"].dependencies


def test_critical_path_does_not_grow_with_workers(lab):
    cmds = commands(lab)
    worker_urns = {
        r.urn for n, r in cmds.items() if n.endswith(tuple(f"gpu-{i:02d}" for i in range(1, 41)))
    }
    for name in ("init", "refresh-join", "join-cp-2", "join-cp-3", "kubeconfig"):
        assert not (cmds[name].all_dependencies & worker_urns), name


def test_secrets_never_appear_in_plain_text(lab):
    params = bundle_params(commands(lab)["init"])
    init, *_ = yaml.safe_load_all(base64.b64decode(params["KUBEADM_CONFIG_B64"]))
    encryption = yaml.safe_load(base64.b64decode(params["ENCRYPTION_CONFIG_B64"]))
    secrets = {
        "token": init["bootstrapTokens"][0]["token"].split(".")[1],
        "certificate key": init["certificateKey"],
        "encryption key": encryption["resources"][0]["providers"][0]["secretbox"]["keys"][0][
            "secret"
        ],
    }
    for registration in lab.registrations:
        visible = plain_text(registration.inputs)
        for what, value in secrets.items():
            assert value not in visible, f"{what} in plain text in {registration.name}"
    for name, export in lab.exports.items():
        assert export.secret or not any(v in str(export.value) for v in secrets.values()), name
    kubeconfig = commands(lab)["kubeconfig"]
    assert lab.exports["kubeconfig"].secret
    assert "stdout" in kubeconfig.additional_secret_outputs
    assert kubeconfig.inputs["logging"] == "none"


def test_kubeadm_documents_have_the_right_api_and_fields(lab):
    params = bundle_params(commands(lab)["init"])
    docs = list(yaml.safe_load_all(base64.b64decode(params["KUBEADM_CONFIG_B64"])))
    kinds = [(d["apiVersion"], d["kind"]) for d in docs]
    assert kinds == [
        ("kubeadm.k8s.io/v1beta4", "InitConfiguration"),
        ("kubeadm.k8s.io/v1beta4", "ClusterConfiguration"),
        ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"),
        ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"),
    ]
    init, cluster, kubelet, proxy = docs
    assert proxy["metricsBindAddress"] == "0.0.0.0:10249"
    token = init["bootstrapTokens"][0]["token"]
    assert len(token) == 23 and token[6] == "."
    assert len(init["certificateKey"]) == 64
    assert cluster["controlPlaneEndpoint"] == "192.168.10.10:6443"
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12"}
    assert cluster["kubernetesVersion"] == f"v{stack_config('lab')['kubernetes']['version']}"
    api_args = {a["name"]: a["value"] for a in cluster["apiServer"]["extraArgs"]}
    assert api_args["encryption-provider-config"] == "/etc/kubernetes/encryption/config.yaml"
    assert "audit-policy-file" in api_args
    assert kubelet["cgroupDriver"] == "systemd" and kubelet["serverTLSBootstrap"] is True
    assert init["nodeRegistration"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"


def test_workers_are_labelled_with_their_gpu_and_untainted(lab):
    params = bundle_params(commands(lab)["join-gpu-07"])
    join, _ = yaml.safe_load_all(base64.b64decode(params["JOIN_CONFIG_B64"]))
    registration = join["nodeRegistration"]
    assert registration["taints"] == []
    args = {a["name"]: a["value"] for a in registration["kubeletExtraArgs"]}
    assert args["node-labels"] == "ml-platform.io/gpu-model=rtx-4090"
    assert "controlPlane" not in join
    assert join["discovery"]["bootstrapToken"]["apiServerEndpoint"] == "192.168.10.10:6443"


def test_first_control_plane_uses_super_admin_conf_for_kube_vip_during_init(lab):
    params = bundle_params(commands(lab)["init"])
    during = yaml.safe_load(base64.b64decode(params["KUBE_VIP_MANIFEST_B64"]))
    after = yaml.safe_load(base64.b64decode(params["KUBE_VIP_FINAL_MANIFEST_B64"]))
    assert during["spec"]["volumes"][0]["hostPath"]["path"] == "/etc/kubernetes/super-admin.conf"
    assert after["spec"]["volumes"][0]["hostPath"]["path"] == "/etc/kubernetes/admin.conf"
    env = {e["name"]: e.get("value") for e in after["spec"]["containers"][0]["env"]}
    assert env["address"] == "192.168.10.10" and env["vip_interface"] == "eno1"


def test_kube_vip_pod_validates_against_kubernetes_136(lab):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    params = bundle_params(commands(lab)["join-cp-2"])
    pod = yaml.safe_load(base64.b64decode(params["KUBE_VIP_MANIFEST_B64"]))
    kubernetes_validate.validate(pod, SCHEMA_VERSION, strict=True)


def test_a_41st_worker_touches_only_its_own_host():
    before = evaluate_config("lab", lab_with_workers(40)).check().by_urn()
    after = evaluate_config("lab", lab_with_workers(41)).check().by_urn()
    added = set(after) - set(before)
    assert set(before) - set(after) == set()
    assert sorted(after[u].name for u in added) == [
        "drain-gpu-041",
        "join-gpu-041",
        "prepare-gpu-041",
    ]
    changed = [after[u].name for u in before if before[u].inputs != after[u].inputs]
    # Renewing the join token on the first control plane is how the new worker can join.
    assert changed == ["refresh-join"]


def test_removed_hosts_are_drained_then_reset(lab):
    cmds = commands(lab)
    drain = cmds["drain-gpu-05"]
    assert "create" not in drain.inputs or not drain.inputs["create"]
    assert "kubectl" in drain.inputs["delete"] and "drain" in drain.inputs["delete"]
    assert cmds["join-gpu-05"].urn in drain.dependencies
    assert "kubeadm reset" in cmds["join-gpu-05"].inputs["delete"]


def test_canal_instead_of_calico():
    evaluation = evaluate_changed("lab", lambda c: c["kubernetes"].update(cni="canal")).check()
    assert not [
        r
        for r in evaluation.of_type("kubernetes:helm.sh/v3:Release")
        if r.name.startswith("cluster-")
    ]
    canal = evaluation.named("cluster-cni-canal")
    assert "10.244.0.0/16" in canal.inputs["stdin"]


def test_calico_gets_the_pod_subnet(lab):
    release = lab.named("cluster-cni-calico")
    assert release.inputs["chart"] == "tigera-operator"
    pools = release.inputs["values"]["installation"]["calicoNetwork"]["ipPools"]
    assert pools[0]["cidr"] == "10.244.0.0/16"


def test_aws_cluster_uses_the_nlb_and_external_cloud_provider():
    dev = evaluate("dev").check()
    params = bundle_params(commands(dev)["init"])
    init, cluster, *_ = yaml.safe_load_all(base64.b64decode(params["KUBEADM_CONFIG_B64"]))
    assert cluster["controlPlaneEndpoint"].endswith(".elb.us-east-1.amazonaws.com:6443")
    assert init["nodeRegistration"]["name"].endswith(".ec2.internal")
    kubelet_args = {a["name"]: a["value"] for a in init["nodeRegistration"]["kubeletExtraArgs"]}
    assert kubelet_args["cloud-provider"] == "external"
    assert "KUBE_VIP_MANIFEST_B64" not in params
