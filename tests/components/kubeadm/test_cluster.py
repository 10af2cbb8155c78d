"""The kubeadm cluster as a deployment graph: what runs where, after what, with which secrets,
and what a config edit (add, remove, replace, reorder a host) does to it."""

from __future__ import annotations

import base64
import shlex

import pytest
import yaml
from cryptography import x509
from pulumi.runtime import rpc

from automation.engine import evaluate
from components.kubeadm import documents
from components.kubeadm.secrets import ca_cert_hash
from model.fields import ConfigError
from tests.helpers import (
    SCHEMA_VERSION,
    bundle_params,
    evaluate_changed,
    evaluate_config,
    lab_with_workers,
    plain_text,
    refused,
    stack_config,
    waits_for,
)

COMMAND = "command:remote:Command"
WORKERS = tuple(f"gpu-{i:02d}" for i in range(1, 41))


def commands(evaluation) -> dict:
    return {r.name: r for r in evaluation.of_type(COMMAND)}


def delete_params(registration) -> dict[str, str]:
    """The parameters of a step's `delete` command (`sudo bash -c '<bundle>'`)."""
    (bundle,) = shlex.split(registration.inputs["delete"])[3:]
    params = {}
    for line in bundle.split("# ---- common.sh")[0].splitlines()[2:]:
        name, _, value = line.partition("=")
        params[name] = shlex.split(value)[0] if value else ""
    return params


def documents_of(registration, param: str) -> list[dict]:
    return list(yaml.safe_load_all(base64.b64decode(bundle_params(registration)[param])))


def unwrap(value):
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def host_commands(evaluation, host: str) -> dict:
    return {n: r for n, r in commands(evaluation).items() if n.endswith(f"-{host}")}


# ---- the chain -------------------------------------------------------------------------------


def test_each_host_gets_prepare_admit_join_drain_whatever_its_role(lab):
    names = set(commands(lab))
    for host in ("cp-1", "cp-2", "cp-3", *WORKERS):
        for step in ("prepare", "admit", "join", "drain"):
            assert f"{step}-{host}" in names, (step, host)
    assert {f"etcd-snapshots-cp-{n}" for n in (1, 2, 3)} <= names
    assert "init" not in names and "refresh-join" not in names


def test_every_worker_join_waits_for_the_init_host_and_no_other_worker(lab):
    cmds = commands(lab)
    init = cmds["join-cp-1"].urn
    worker_joins = {cmds[f"join-{w}"].urn for w in WORKERS}
    for worker in WORKERS:
        admit, join = cmds[f"admit-{worker}"], cmds[f"join-{worker}"]
        assert init in admit.dependencies and admit.urn in join.dependencies
        assert not (join.all_dependencies & worker_joins)


def test_control_planes_join_and_leave_one_at_a_time(lab):
    cmds = commands(lab)
    # cp-2 starts after the init host is a member, cp-3 after cp-2's join has finished...
    assert cmds["join-cp-1"].urn in cmds["admit-cp-2"].dependencies
    assert cmds["drain-cp-2"].urn in cmds["admit-cp-3"].dependencies
    # ...so Pulumi, which deletes a resource only after everything that depends on it, removes
    # cp-3 entirely (drain, reset, Node) before it starts on cp-2, and the init host last.
    assert cmds["drain-cp-1"].urn in cmds["admit-cp-2"].dependencies


def test_critical_path_does_not_grow_with_workers(lab):
    cmds = commands(lab)
    worker_urns = {r.urn for n, r in cmds.items() if n.endswith(WORKERS)}
    for name in ("join-cp-1", "join-cp-2", "join-cp-3", "kubeconfig", "drain-cp-3"):
        assert not (cmds[name].all_dependencies & worker_urns), name


# ---- removal order (item 2) ------------------------------------------------------------------


def test_removing_cp_3_drains_then_resets_then_deletes_the_node(lab):
    cmds = host_commands(lab, "cp-3")
    drain, join, admit = cmds["drain-cp-3"], cmds["join-cp-3"], cmds["admit-cp-3"]
    # Pulumi deletes dependents first: drain (depends on join), then join (depends on admit).
    assert join.urn in drain.dependencies and admit.urn in join.dependencies
    # The drain runs on the init host and leaves the Node in place for the reset.
    assert drain.inputs["connection"] == commands(lab)["join-cp-1"].inputs["connection"]
    assert delete_params(drain) == {"NODE_NAME": "cp-1", "TARGET_NODE": "cp-3", "SELF": "false"}
    assert "drain-node.sh" in drain.inputs["delete"]
    # The reset runs on cp-3 itself: kubeadm leaves etcd while the Node still exists.
    assert "reset-node.sh" in join.inputs["delete"]
    assert unwrap(join.inputs["connection"])["host"] == "192.168.10.13"
    # Then the Node (and the etcd member, if the reset could not remove it) goes.
    assert "remove-node.sh" in admit.inputs["delete"]
    assert delete_params(admit)["CONTROL_PLANE"] == "true"


def test_the_init_host_leaves_last_and_its_drain_and_node_removal_do_nothing(lab):
    cmds = commands(lab)
    for name in ("drain-cp-1", "admit-cp-1"):
        assert delete_params(cmds[name])["SELF"] == "true"
    # Every other member waits for the init host's join, so it is deleted (reset) last.
    for host in ("cp-2", "cp-3", *WORKERS):
        assert waits_for(lab, cmds[f"admit-{host}"], cmds["join-cp-1"])


# ---- the machine is the identity (item 1) ----------------------------------------------------


def test_no_command_ignores_changes_to_its_connection(lab, dev):
    for evaluation in (lab, dev):
        for registration in evaluation.of_type(COMMAND):
            assert not registration.ignore_changes, registration.name


def test_replacing_gpu_07s_machine_prepares_and_joins_the_new_machine(lab):
    def readdress(config):
        host = next(h for h in config["baremetal"]["hosts"] if h["name"] == "gpu-07")
        host["address"] = "192.168.10.150"

    before, after = lab, evaluate_changed("lab", readdress).check()
    old, new = host_commands(before, "gpu-07"), host_commands(after, "gpu-07")
    for name in ("prepare-gpu-07", "admit-gpu-07", "join-gpu-07", "drain-gpu-07"):
        # `triggers` is pulumi-command's only replace-on-change input: a new machine replaces
        # the host's commands; the old machine is removed first (drain, reset, Node).
        assert unwrap(old[name].inputs["triggers"])[0] == "192.168.10.107"
        assert unwrap(new[name].inputs["triggers"])[0] == "192.168.10.150"
    for name in ("admit-gpu-07", "join-gpu-07", "drain-gpu-07"):
        assert new[name].delete_before_replace, name
    # The delete-before-replace cascade follows inputs: join's triggers carry admit's id, the
    # drain's the join's, so the engine deletes the old drain, join, admit in that order.
    assert new["admit-gpu-07"].urn in new["join-gpu-07"].property_dependencies["triggers"]
    assert new["join-gpu-07"].urn in new["drain-gpu-07"].property_dependencies["triggers"]
    # The new machine is where prepare and join run.
    assert unwrap(new["prepare-gpu-07"].inputs["connection"])["host"] == "192.168.10.150"
    assert unwrap(new["join-gpu-07"].inputs["connection"])["host"] == "192.168.10.150"
    # Nothing of another host changes.
    changed = {
        r.name
        for urn, r in after.by_urn().items()
        if r.type == COMMAND and r.inputs != before.by_urn()[urn].inputs
    }
    assert changed == set(old)


def test_an_aws_command_follows_its_instance(dev):
    cmds = commands(dev)
    instance_ids = {
        r.name.removeprefix("hosts-"): f"{r.name}-id"
        for r in dev.of_type("aws:ec2/instance:Instance")
    }
    for host in ("cp-2", "gpu-1"):
        for step in ("prepare", "admit", "join", "drain"):
            assert unwrap(cmds[f"{step}-{host}"].inputs["triggers"])[0] == instance_ids[host]


# ---- named init host, reordering (item 5) -----------------------------------------------------


def test_the_init_host_is_named_and_runs_kubeadm_init(lab):
    cmds = commands(lab)
    init = bundle_params(cmds["join-cp-1"])
    assert "KUBEADM_CONFIG_B64" in init and "JOIN_CONFIG_B64" not in init
    # Where init.sh looks for a cluster that already runs (a replaced init host).
    assert init["CONTROL_PLANE_ENDPOINT"] == "192.168.10.10:6443"
    assert "JOIN_CONFIG_B64" in bundle_params(cmds["join-cp-2"])


def test_naming_another_init_host_deletes_nothing(lab):
    def cp2(config):
        config["baremetal"]["initHost"] = "cp-2"

    before, after = lab, evaluate_changed("lab", cp2).check()
    assert set(before.by_urn()) == set(after.by_urn())
    cmds = commands(after)
    assert "KUBEADM_CONFIG_B64" in bundle_params(cmds["join-cp-2"])
    assert "JOIN_CONFIG_B64" in bundle_params(cmds["join-cp-1"])
    assert delete_params(cmds["admit-cp-2"])["SELF"] == "true"


def test_swapping_cp_1_and_cp_2_in_the_list_changes_nothing(lab):
    def swap(config):
        hosts = config["baremetal"]["hosts"]
        hosts[0], hosts[1] = hosts[1], hosts[0]

    swapped = evaluate_changed("lab", swap).check().by_urn()
    before = lab.by_urn()
    assert set(swapped) == set(before)
    assert [r.name for u, r in swapped.items() if r.inputs != before[u].inputs] == []


def test_the_init_host_must_be_a_control_plane():
    def worker(config):
        config["baremetal"]["initHost"] = "gpu-01"

    with pytest.raises(ConfigError) as error:
        evaluate_changed("lab", worker).check()
    assert "is not a control plane" in refused(error.value, "ml-platform:baremetal.initHost")


# ---- join material (items 4, 10) -------------------------------------------------------------


def test_joins_pin_the_generated_cluster_ca(lab):
    cmds = commands(lab)
    init = bundle_params(cmds["join-cp-1"])
    ca = base64.b64decode(init["CA_CERT_B64"]).decode()
    certificate = x509.load_pem_x509_certificate(ca.encode())
    from cryptography.hazmat.primitives import serialization

    expected = ca_cert_hash(
        certificate.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for host in ("cp-2", "gpu-07"):
        join, _ = documents_of(cmds[f"join-{host}"], "JOIN_CONFIG_B64")
        discovery = join["discovery"]["bootstrapToken"]
        assert discovery["caCertHashes"] == [expected]
        assert "unsafeSkipCAVerification" not in discovery


def test_every_join_gets_its_own_token_minted_before_it_and_deleted_after(lab):
    cmds = commands(lab)
    tokens = {}
    for host in ("cp-2", "gpu-07", "gpu-08"):
        join, _ = documents_of(cmds[f"join-{host}"], "JOIN_CONFIG_B64")
        tokens[host] = join["discovery"]["bootstrapToken"]["token"]
        admit = bundle_params(cmds[f"admit-{host}"])
        assert tokens[host] == f"{admit['TOKEN_ID']}.{admit['TOKEN_SECRET']}"
        assert admit["TOKEN_TTL_HOURS"] == "72"
        assert bundle_params(cmds[f"drain-{host}"])["TOKEN_ID"] == admit["TOKEN_ID"]
    assert len(set(tokens.values())) == 3
    # A control-plane join gets the certificates uploaded again just before it.
    assert "CERTIFICATE_KEY_CONFIG_B64" in bundle_params(cmds["admit-cp-2"])
    assert "CERTIFICATE_KEY_CONFIG_B64" not in bundle_params(cmds["admit-gpu-07"])


def test_a_41st_worker_adds_its_own_commands_and_reruns_nothing_on_an_existing_host(lab):
    assert lab_with_workers(40) == stack_config("lab")  # the committed lab is the base
    before = lab.by_urn()
    after = evaluate_config("lab", lab_with_workers(41)).check().by_urn()
    assert set(before) - set(after) == set()
    added = sorted(after[u].name for u in set(after) - set(before) if after[u].type == COMMAND)
    assert added == ["admit-gpu-041", "drain-gpu-041", "join-gpu-041", "prepare-gpu-041"]
    changed = [after[u].name for u in before if before[u].inputs != after[u].inputs]
    # Only what lists every node may change: the CSR approver's per-node addresses.
    assert all(not name.startswith(("prepare-", "admit-", "join-", "drain-")) for name in changed)
    # (and the queues' cohort, which counts every GPU).
    assert set(changed) <= {
        "kubelet-csr-approver",
        "kubelet-csr-approver-node-names",
        "kueue-cohort",
    }


def test_a_second_evaluation_with_no_change_shows_no_diff(lab):
    again = evaluate("lab").check().by_urn()
    first = lab.by_urn()
    assert set(again) == set(first)
    assert [r.name for u, r in again.items() if r.inputs != first[u].inputs] == []


# ---- secrets (items 9, 13) -------------------------------------------------------------------


def test_secrets_never_appear_in_plain_text(lab):
    cmds = commands(lab)
    init = bundle_params(cmds["join-cp-1"])
    admit = bundle_params(cmds["admit-gpu-07"])
    docs = documents_of(cmds["join-cp-1"], "KUBEADM_CONFIG_B64")
    encryption = yaml.safe_load(base64.b64decode(init["ENCRYPTION_CONFIG_B64"]))
    secrets = {
        "CA key": base64.b64decode(init["CA_KEY_B64"]).decode().splitlines()[1],
        "token": admit["TOKEN_SECRET"],
        "certificate key": docs[0]["certificateKey"],
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
    kubeconfig = cmds["kubeconfig"]
    assert lab.exports["kubeconfig"].secret
    assert "stdout" in kubeconfig.additional_secret_outputs
    assert kubeconfig.inputs["logging"] == "none"


def test_steps_that_handle_secrets_keep_their_tools_output_on_the_host(lab):
    cmds = commands(lab)
    for name in ("join-cp-1", "join-gpu-07", "admit-cp-2", "drain-gpu-07"):
        stdin = rpc.unwrap_rpc_secret(cmds[name].inputs["stdin"])
        assert "ML_OUTPUT_LOG=/var/log/ml-platform/" in stdin, name
        assert cmds[name].inputs["logging"] == "none"


def test_connections_verify_host_keys(lab, dev):
    config = stack_config("lab")
    keys = {h["name"]: h["hostKey"] for h in config["baremetal"]["hosts"]}
    cmds = commands(lab)
    assert unwrap(cmds["join-gpu-07"].inputs["connection"])["hostKey"] == keys["gpu-07"]
    # The init host's steps for gpu-07 run on cp-1, verified against cp-1's key.
    assert unwrap(cmds["admit-gpu-07"].inputs["connection"])["hostKey"] == keys["cp-1"]
    # AWS: the key the program generated for that instance, and the bastion's.
    connection = unwrap(commands(dev)["join-gpu-1"].inputs["connection"])
    assert connection["hostKey"].startswith("ssh-ed25519 ")
    assert connection["proxy"]["hostKey"].startswith("ssh-ed25519 ")
    assert connection["hostKey"] != connection["proxy"]["hostKey"]


def test_an_unreachable_host_keeps_its_on_host_commands_and_skips_their_delete(lab):
    def dead(config):
        host = next(h for h in config["baremetal"]["hosts"] if h["name"] == "gpu-07")
        host["unreachable"] = True

    before, after = lab, evaluate_changed("lab", dead).check()
    cmds = commands(after)
    assert cmds["join-gpu-07"].retain_on_delete and cmds["prepare-gpu-07"].retain_on_delete
    # The init host's steps still remove its Node and etcd member when it goes.
    assert not cmds["admit-gpu-07"].retain_on_delete and not cmds["drain-gpu-07"].retain_on_delete
    assert not cmds["join-gpu-08"].retain_on_delete
    # Marking it connects to nothing: no input of any command changes.
    assert [
        r.name for u, r in after.by_urn().items() if r.inputs != before.by_urn()[u].inputs
    ] == []


# ---- documents -------------------------------------------------------------------------------


def test_kubeadm_documents_have_the_right_api_and_fields(lab):
    docs = documents_of(commands(lab)["join-cp-1"], "KUBEADM_CONFIG_B64")
    kinds = [(d["apiVersion"], d["kind"]) for d in docs]
    assert kinds == [
        ("kubeadm.k8s.io/v1beta4", "InitConfiguration"),
        ("kubeadm.k8s.io/v1beta4", "ClusterConfiguration"),
        ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"),
        ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"),
    ]
    init, cluster, kubelet, _ = docs
    token = init["bootstrapTokens"][0]
    assert len(token["token"]) == 23 and token["token"][6] == "." and token["ttl"] == "15m"
    assert len(init["certificateKey"]) == 64
    assert init["patches"] == {"directory": "/etc/kubernetes/ml-platform-patches"}
    assert cluster["controlPlaneEndpoint"] == "192.168.10.10:6443"
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12"}
    assert cluster["kubernetesVersion"] == f"v{stack_config('lab')['kubernetes']['version']}"
    api_args = {a["name"]: a["value"] for a in cluster["apiServer"]["extraArgs"]}
    assert api_args["encryption-provider-config"] == "/etc/kubernetes/encryption/config.yaml"
    assert "audit-policy-file" in api_args
    assert {"127.0.0.1", "localhost", "192.168.10.10"} <= set(cluster["apiServer"]["certSANs"])
    assert kubelet["cgroupDriver"] == "systemd" and kubelet["serverTLSBootstrap"] is True
    assert init["nodeRegistration"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"


def test_metrics_listen_on_the_node_address_not_everywhere(lab):
    cmds = commands(lab)
    _, cluster, _, proxy = documents_of(cmds["join-cp-1"], "KUBEADM_CONFIG_B64")
    assert "etcd" not in cluster  # no cluster-wide 0.0.0.0 listener
    assert proxy["metricsBindAddress"] == "127.0.0.1:10249"
    for host, address in (("cp-1", "192.168.10.11"), ("cp-2", "192.168.10.12")):
        patch = yaml.safe_load(
            base64.b64decode(bundle_params(cmds[f"join-{host}"])["ETCD_PATCH_B64"])
        )
        (container,) = patch["spec"]["containers"]
        assert container["name"] == "etcd"
        assert container["args"] == [
            f"--listen-metrics-urls=http://127.0.0.1:2381,http://{address}:2381"
        ]


def join_labels(evaluation, host: str) -> str:
    params = bundle_params(commands(evaluation)[f"join-{host}"])
    join, _ = yaml.safe_load_all(base64.b64decode(params["JOIN_CONFIG_B64"]))
    return {a["name"]: a["value"] for a in join["nodeRegistration"]["kubeletExtraArgs"]}[
        "node-labels"
    ]


def test_workers_are_labelled_with_their_gpu_and_untainted(lab):
    join, _ = documents_of(commands(lab)["join-gpu-07"], "JOIN_CONFIG_B64")
    registration = join["nodeRegistration"]
    assert registration["taints"] == []
    # The device plugin serves each node the config its label names (whole or sliced GPUs).
    assert join_labels(lab, "gpu-07") == (
        "ml-platform.io/gpu-model=rtx-4090,nvidia.com/device-plugin.config=exclusive"
    )
    assert join_labels(lab, "gpu-40").endswith(",nvidia.com/device-plugin.config=shared")
    assert "controlPlane" not in join
    assert join["discovery"]["bootstrapToken"]["apiServerEndpoint"] == "192.168.10.10:6443"


def test_a_host_with_both_roles_is_not_tainted():
    def both(config):
        host = next(h for h in config["baremetal"]["hosts"] if h["name"] == "cp-2")
        host["roles"] = ["control-plane", "worker"]

    evaluation = evaluate_changed("lab", both).check()
    join, _ = documents_of(commands(evaluation)["join-cp-2"], "JOIN_CONFIG_B64")
    assert join["nodeRegistration"]["taints"] == []
    assert "controlPlane" in join
    dedicated, _ = documents_of(commands(evaluation)["join-cp-3"], "JOIN_CONFIG_B64")
    assert dedicated["nodeRegistration"]["taints"][0]["effect"] == "NoSchedule"


def test_a_node_label_that_would_break_the_kubelet_flag_is_refused():
    node = documents.NodeSettings("gpu-1", "192.0.2.1", False, "rtx-4090", gpu_sharing="a,b=c")
    with pytest.raises(ValueError, match="not a Kubernetes label value"):
        documents.node_registration(node)
    plain = documents.NodeSettings("cp-1", "192.0.2.2", True)
    assert "node-labels" not in str(documents.node_registration(plain))


def test_first_control_plane_uses_super_admin_conf_for_kube_vip_during_init(lab):
    params = bundle_params(commands(lab)["join-cp-1"])
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


def test_canal_instead_of_calico():
    evaluation = evaluate_changed("lab", lambda c: c["kubernetes"].update(cni="canal")).check()
    assert not [
        r
        for r in evaluation.of_type("kubernetes:helm.sh/v3:Release")
        if r.name.startswith("cluster-")
    ]
    canal = evaluation.named("cluster-cni-canal")
    assert "10.244.0.0/16" in canal.inputs["stdin"]
    assert not canal.ignore_changes


def test_calico_gets_the_pod_subnet(lab):
    release = lab.named("cluster-cni-calico")
    assert release.inputs["chart"] == "tigera-operator"
    pools = release.inputs["values"]["installation"]["calicoNetwork"]["ipPools"]
    assert pools[0]["cidr"] == "10.244.0.0/16"


def test_aws_cluster_uses_the_nlb_and_external_cloud_provider(dev):
    params = bundle_params(commands(dev)["join-cp-1"])
    init, cluster, *_ = yaml.safe_load_all(base64.b64decode(params["KUBEADM_CONFIG_B64"]))
    assert cluster["controlPlaneEndpoint"].endswith(".elb.us-east-1.amazonaws.com:6443")
    assert init["nodeRegistration"]["name"].endswith(".ec2.internal")
    kubelet_args = {a["name"]: a["value"] for a in init["nodeRegistration"]["kubeletExtraArgs"]}
    assert kubelet_args["cloud-provider"] == "external"
    assert "KUBE_VIP_MANIFEST_B64" not in params


def test_the_ssh_keys_reach_every_host_and_the_aws_bastion(lab, dev):
    params = bundle_params(commands(lab)["prepare-gpu-07"])
    keys = base64.b64decode(params["AUTHORIZED_KEYS_B64"]).decode().splitlines()
    assert len(keys) == 1 and keys[0].startswith("ssh-ed25519 ")
    assert params["SSH_USER"] == "ubuntu" and params["EXCLUSIVE_KEYS"] == "false"
    bastion = commands(dev)["authorize-bastion"]
    assert bundle_params(bastion)["EXCLUSIVE_KEYS"] == "true"
    assert unwrap(bastion.inputs["connection"])["hostKey"].startswith("ssh-ed25519 ")


def test_the_kubeconfig_points_where_the_program_reaches_the_api():
    from components.kubeadm.cluster import with_server

    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n"
        "    server: https://192.168.10.10:6443\n    certificate-authority-data: QUJD\n"
    )
    tunnel = yaml.safe_load(with_server(kubeconfig, "https://127.0.0.1:6443"))
    assert tunnel["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": "QUJD",
    }
    assert with_server(kubeconfig, None) == kubeconfig
