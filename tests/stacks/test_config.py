"""The stack config contract: both stacks load; every bad input is refused before any resource."""

from __future__ import annotations

import pytest

from automation.engine import evaluate
from components import versions
from model.fields import ConfigError
from tests.helpers import Config, evaluate_changed, evaluate_config, host_key, stack_config

HOST_KEY = host_key("bastion")
# An RSA public key (ssh-keygen -t rsa -b 1024, public half only).
RSA_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQChOgCIDMEJF3VHIEUSO7enMxNVofcgiA4d7tCLQQi9cTGP3AGw"
    "TAgBlDi8WtbN7wMsseWGO/ypzKbL7NyT7ICb6qTw5WMwUCbXkCtAD6Rm5olJ8Xc6FjkTkpWxtWsQMomcXUPWQvZj"
    "9EutiL8kBRJ6kUHEFO3lUbEbSlOUE3HDpQ=="
)


@pytest.mark.parametrize("stack", ["lab", "dev"])
def test_committed_stacks_evaluate(stack):
    evaluation = evaluate(stack).check()
    assert evaluation.exports["infrastructure"].value in ("aws", "baremetal")
    assert (
        evaluation.exports["kubernetesVersion"].value
        == stack_config(stack)["kubernetes"]["version"]
    )


def hosts(config: Config) -> list[dict]:
    return config["baremetal"]["hosts"]


def set_in(path: str, value):
    """A change that sets config[path] (dotted) to value."""

    def change(config: Config) -> None:
        *parents, last = path.split(".")
        target = config
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value

    return change


def drop_control_plane(config: Config) -> None:
    config["baremetal"]["hosts"] = [h for h in hosts(config) if h["name"] != "cp-3"]


def no_control_plane(config: Config) -> None:
    config["baremetal"]["hosts"] = [h for h in hosts(config) if "control-plane" not in h["roles"]]


def storage_on_two_hosts(config: Config) -> None:
    for host in hosts(config)[5:]:
        host.pop("storageDevices", None)


def no_gpus(config: Config) -> None:
    for host in hosts(config):
        host.pop("gpu", None)
    config.pop("tenants")


LAB_CASES = [
    # (id, change, key path that must be named, words the message must hold)
    ("even-control-planes", drop_control_plane, "ml-platform:baremetal.hosts", "odd number"),
    ("zero-control-planes", no_control_plane, "ml-platform:baremetal.hosts", "odd number"),
    ("duplicate-name", lambda c: hosts(c)[4].update(name="gpu-01"), "ml-platform:baremetal.hosts", "share the name gpu-01"),
    ("duplicate-address", lambda c: hosts(c)[4].update(address="192.168.10.101"), "ml-platform:baremetal.hosts", "share the address"),
    ("malformed-ip", lambda c: hosts(c)[0].update(address="192.168.10.300"), "ml-platform:baremetal.hosts[0].address", "not an IPv4 address"),
    ("pod-service-overlap", set_in("kubernetes.serviceSubnet", "10.244.128.0/17"), "ml-platform:kubernetes.serviceSubnet", "overlaps"),
    ("pod-subnet-over-hosts", set_in("kubernetes.podSubnet", "192.168.0.0/16"), "ml-platform:baremetal.hosts", "lies inside"),
    ("vip-in-pool", set_in("baremetal.controlPlaneVip", "192.168.10.205"), "ml-platform:baremetal.controlPlaneVip", "MetalLB pool"),
    ("vip-is-host", set_in("baremetal.controlPlaneVip", "192.168.10.11"), "ml-platform:baremetal.controlPlaneVip", "address of host cp-1"),
    ("unknown-key", set_in("baremetal.controlPlaneVIP", "192.168.10.10"), "ml-platform:baremetal.controlPlaneVIP", "did you mean 'controlPlaneVip'"),
    ("unknown-top-key", set_in("kubernets", {}), "ml-platform:kubernets", "did you mean 'kubernetes'"),
    ("unknown-role", lambda c: hosts(c)[3].update(roles=["wroker"]), "ml-platform:baremetal.hosts[3].roles", "did you mean 'worker'"),
    ("unsupported-version", set_in("kubernetes.version", "1.29.4"), "ml-platform:kubernetes.version", "outside what every pinned add-on supports"),
    ("inexact-version", set_in("kubernetes.version", "1.36"), "ml-platform:kubernetes.version", "exact version"),
    ("wrong-type", set_in("platform.gpu.timeSlicing.replicas", "four"), "ml-platform:platform.gpu.timeSlicing.replicas", "must be a whole number"),
    ("bool-as-count", lambda c: hosts(c)[3]["gpu"].update(count=True), "ml-platform:baremetal.hosts[3].gpu.count", "got bool"),
    ("malformed-cidr", set_in("kubernetes.podSubnet", "10.244.0.1/16"), "ml-platform:kubernetes.podSubnet", "not an IPv4 CIDR"),
    ("ceph-two-hosts", storage_on_two_hosts, "ml-platform:platform.storage.provider", "only 2 host(s)"),
    ("gpu-without-gpu-hosts", no_gpus, "ml-platform:platform.gpu", "no host has a GPU"),
    ("unknown-infrastructure", set_in("infrastructure", "openstack"), "ml-platform:infrastructure", "one of aws, baremetal"),
    ("relative-device", lambda c: hosts(c)[3].update(storageDevices=["nvme1n1"]), "ml-platform:baremetal.hosts[3].storageDevices", "absolute /dev path"),
    ("replicas-below-one", set_in("platform.gpu.timeSlicing.replicas", 0), "ml-platform:platform.gpu.timeSlicing.replicas", "at least 1"),
    ("pool-backwards", set_in("baremetal.loadBalancerAddresses", "192.168.10.220-192.168.10.200"), "ml-platform:baremetal.loadBalancerAddresses", "ends before it starts"),
    ("aws-section-on-lab", set_in("aws", {"region": "us-east-1"}), "ml-platform:aws", "infrastructure is baremetal"),
    ("pool-outside-host-network", set_in("baremetal.loadBalancerAddresses", "192.168.20.200-192.168.20.220"), "ml-platform:baremetal.loadBalancerAddresses", "not inside the hosts' network 192.168.10.0/24"),
    ("host-outside-host-network", lambda c: hosts(c)[7].update(address="192.168.11.7"), "ml-platform:baremetal.hosts[7].address", "not inside the hosts' network"),
    ("host-network-missing", lambda c: c["baremetal"].pop("hostNetwork"), "ml-platform:baremetal.hostNetwork", "is required"),
    ("retention-not-duration", set_in("platform.monitoring.retention", "15 days"), "ml-platform:platform.monitoring.retention", "not a Prometheus duration"),
    ("volume-not-size", set_in("platform.monitoring.volumeSize", "50GB"), "ml-platform:platform.monitoring.volumeSize", "not a size"),
    ("monitoring-without-storage", set_in("platform.storage.provider", "none"), "ml-platform:platform.monitoring.storageClass", "need volumes"),
    ("acme-without-email", set_in("platform.certificates.issuer", "acme"), "ml-platform:platform.certificates.acmeEmail", "required with issuer acme"),
    ("unknown-vpa-mode", set_in("platform.autoscaling.vpa", "recommendation"), "ml-platform:platform.autoscaling.vpa", "did you mean 'recommend'"),
    ("too-many-dedicated-gpus", lambda c: c["tenants"]["faculty"][0].update(dedicatedGpus=41), "ml-platform:tenants.faculty", "the exclusive hosts have 32"),
    ("rgw-without-rook", set_in("platform.storage.provider", "longhorn"), "ml-platform:platform.objectStore.provider", "needs storage.provider rook-ceph"),
    ("s3-off-aws", set_in("platform.objectStore.provider", "s3"), "ml-platform:platform.objectStore.provider", "the s3 store is an AWS bucket"),
    ("mlflow-without-object-store", set_in("platform.objectStore.provider", "none"), "ml-platform:platform.mlflow.enabled", "objectStore.provider is none"),
    ("backups-without-object-store", lambda c: c["platform"].update(objectStore={"provider": "none"}, mlflow={"enabled": False}), "ml-platform:platform.postgres.backups", "objectStore.provider is none"),
    ("rancher-outside-its-range", set_in("kubernetes.version", "1.37.0"), "ml-platform:kubernetes.version", "rancher 2.15: 1.34-1.36"),
    ("bucket-prefix-not-s3", set_in("platform.objectStore.bucketPrefix", "ML.Lab"), "ml-platform:platform.objectStore.bucketPrefix", "not a valid start of S3 bucket names"),
    ("tenant-bucket-too-long", lambda c: (c["platform"].update(objectStore={"provider": "ceph-rgw", "bucketPrefix": "a-university-machine-learning-lab"}), c["tenants"]["faculty"][0].update(name="professor-with-a-long-name")), "ml-platform:platform.objectStore.bucketPrefix", "longer than S3's 63 characters"),
    ("etcd-backups-without-object-store", lambda c: c["platform"].update(objectStore={"provider": "none"}, mlflow={"enabled": False}, postgres={"backups": False}), "ml-platform:platform.etcdBackups.enabled", "objectStore.provider is none"),
    ("minio-without-volumes", lambda c: c["platform"].update(storage={"provider": "none"}, objectStore={"provider": "minio"}, monitoring={"storageClass": "x"}, postgres={"storageClass": "x"}), "ml-platform:platform.objectStore.provider", "MinIO's servers need volumes"),
    # Strings are checked by what they become (item 8): a space in gpu.model would have been
    # another kubelet flag in kubeadm's space-joined --node-labels.
    ("space-in-gpu-model", lambda c: hosts(c)[3]["gpu"].update(model="rtx-4090 --anonymous-auth=true"), "ml-platform:baremetal.hosts[3].gpu.model", "not a Kubernetes label value"),
    ("trailing-newline", set_in("baremetal.vipInterface", "eno1\n"), "ml-platform:baremetal.vipInterface", "not a network interface name"),
    ("non-ascii-digits", set_in("kubernetes.version", "1.36.\u0664"), "ml-platform:kubernetes.version", "exact version"),
    ("empty-ssh-user", set_in("baremetal.sshUser", ""), "ml-platform:baremetal.sshUser", "must not be empty"),
    ("empty-bastion-user", set_in("baremetal.bastion", {"address": "bastion.lab.example.edu", "user": "", "hostKey": HOST_KEY}), "ml-platform:baremetal.bastion.user", "must not be empty"),
    # Host keys (item 9) and the init host (item 5).
    ("missing-host-key", lambda c: hosts(c)[5].pop("hostKey"), "ml-platform:baremetal.hosts[5].hostKey", "anyone answering on 192.168.10.103"),
    ("rsa-host-key", lambda c: hosts(c)[5].update(hostKey=RSA_KEY), "ml-platform:baremetal.hosts[5].hostKey", "not an ed25519 or ECDSA SSH host key"),
    ("host-key-of-another-type", lambda c: hosts(c)[5].update(hostKey="ssh-ed25519 " + RSA_KEY.split()[1]), "ml-platform:baremetal.hosts[5].hostKey", "not a ssh-ed25519 key"),
    ("shared-host-key", lambda c: hosts(c)[5].update(hostKey=hosts(c)[6]["hostKey"]), "ml-platform:baremetal.hosts", "share one host key"),
    ("bastion-without-host-key", set_in("baremetal.bastion", {"address": "bastion.lab.example.edu"}), "ml-platform:baremetal.bastion.hostKey", "no host key"),
    ("init-host-missing", lambda c: c["baremetal"].pop("initHost"), "ml-platform:baremetal.initHost", "is required"),
    ("init-host-unknown", set_in("baremetal.initHost", "cp-9"), "ml-platform:baremetal.initHost", "not one of the hosts"),
    ("init-host-is-a-worker", set_in("baremetal.initHost", "gpu-01"), "ml-platform:baremetal.initHost", "not a control plane"),
    ("bad-api-server-url", set_in("baremetal.apiServerUrl", "http://127.0.0.1:6443"), "ml-platform:baremetal.apiServerUrl", "https://"),
    ("bad-authorized-key", set_in("sshAuthorizedKeys", ["ssh-ed25519 AAAA x@y"]), "ml-platform:sshAuthorizedKeys", "not an SSH public key"),
]  # fmt: skip

DEV_CASES = [
    ("open-admin-cidr", set_in("aws.adminCidrs", ["0.0.0.0/0"]), "ml-platform:aws.adminCidrs", "to the internet"),
    ("two-halves-of-the-internet", set_in("aws.adminCidrs", ["0.0.0.0/1", "128.0.0.0/1"]), "ml-platform:aws.adminCidrs", "together cover 4294967296 addresses (0.0.0.0/0)"),
    ("too-wide-admin-cidrs", set_in("aws.adminCidrs", ["10.0.0.0/7"]), "ml-platform:aws.adminCidrs", "together cover"),
    ("zero-azs", set_in("aws.availabilityZones", []), "ml-platform:aws.availabilityZones", "is empty"),
    ("azs-as-a-count", set_in("aws.availabilityZones", 3), "ml-platform:aws.availabilityZones", "must be a list"),
    ("zone-of-another-region", set_in("aws.availabilityZones", ["us-west-2a"]), "ml-platform:aws.availabilityZones", "not a zone of us-east-1"),
    ("duplicate-zone", set_in("aws.availabilityZones", ["us-east-1a", "us-east-1a"]), "ml-platform:aws.availabilityZones", "lists us-east-1a 2 times"),
    ("unknown-api-access", set_in("aws.apiAccess", "open"), "ml-platform:aws.apiAccess", "one of internal, public"),
    ("unknown-unreachable-host", set_in("aws.unreachableHosts", ["gpu-9"]), "ml-platform:aws.unreachableHosts", "not one of the instances"),
    ("vpc-overlaps-pods", set_in("aws.vpcCidr", "10.244.0.0/16"), "ml-platform:aws.vpcCidr", "overlaps"),
    ("even-aws-control-planes", set_in("aws.controlPlane.count", 2), "ml-platform:aws.controlPlane.count", "odd number"),
    ("malformed-admin-cidr", set_in("aws.adminCidrs", ["198.51.100.0/33"]), "ml-platform:aws.adminCidrs", "not an IPv4 CIDR"),
    ("vpc-too-small", set_in("aws.vpcCidr", "10.0.0.0/24"), "ml-platform:aws.vpcCidr", "too small"),
    ("ceph-on-aws", set_in("platform.storage.provider", "rook-ceph"), "ml-platform:platform.storage.provider", "bare-metal"),
    ("unknown-gpu-instance", set_in("aws.gpuWorkers.instanceType", "x9.gpu"), "ml-platform:aws.gpuWorkers", "no known GPU"),
    ("longhorn-on-aws", set_in("platform.storage.provider", "longhorn"), "ml-platform:platform.storage.provider", "Longhorn is for bare-metal hosts"),
    ("rgw-on-aws", set_in("platform.objectStore.provider", "ceph-rgw"), "ml-platform:platform.objectStore.provider", "needs storage.provider rook-ceph"),
    ("s3-bucket-prefix-too-long", set_in("platform.objectStore.bucketPrefix", "a" * 41), "ml-platform:platform.objectStore.bucketPrefix", "not a valid start of S3 bucket names"),
]  # fmt: skip


def assert_refused(evaluation, key: str, words: str) -> None:
    assert isinstance(evaluation.error, ConfigError), evaluation.error
    assert evaluation.registrations == [], "a resource was registered despite a config error"
    matching = [p for p in evaluation.error.problems if p.key == key]
    assert matching, f"no problem names {key}: {evaluation.error}"
    assert any(words in p.render() for p in matching), str(evaluation.error)
    assert all(p.fix for p in evaluation.error.problems), "every problem says how to fix it"


@pytest.mark.parametrize(
    ("case", "change", "key", "words"), LAB_CASES, ids=[c[0] for c in LAB_CASES]
)
def test_lab_refuses_bad_input(case, change, key, words):
    assert_refused(evaluate_changed("lab", change), key, words)


@pytest.mark.parametrize(
    ("case", "change", "key", "words"), DEV_CASES, ids=[c[0] for c in DEV_CASES]
)
def test_dev_refuses_bad_input(case, change, key, words):
    assert_refused(evaluate_changed("dev", change), key, words)


def test_missing_ssh_key_is_refused():
    evaluation = evaluate_config("lab", stack_config("lab"), remove=("ml-platform:sshPrivateKey",))
    assert_refused(evaluation, "ml-platform:sshPrivateKey", "pulumi config set --secret")


def test_plain_text_ssh_key_is_refused_without_echoing_it():
    from automation.engine import StackSettings, load_stack

    base = load_stack("lab")
    settings = StackSettings(base.values, frozenset())  # the key is there, but not secret
    evaluation = evaluate("lab", settings)
    assert_refused(evaluation, "ml-platform:sshPrivateKey", "plain text")
    assert "PRIVATE KEY" not in str(evaluation.error)


def test_all_problems_are_reported_together():
    def many(config: Config) -> None:
        config["kubernetes"]["version"] = "1.20.0"
        config["baremetal"]["controlPlaneVip"] = "192.168.10.11"
        hosts(config)[5]["name"] = "gpu-01"

    evaluation = evaluate_changed("lab", many)
    keys = {p.key for p in evaluation.error.problems}
    assert {
        "ml-platform:kubernetes.version",
        "ml-platform:baremetal.controlPlaneVip",
        "ml-platform:baremetal.hosts",
    } <= keys
    assert str(evaluation.error).startswith("the stack config has 3 problems")


def test_config_error_is_a_run_error_so_pulumi_prints_no_traceback():
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)


def test_defaults_fill_what_is_left_out():
    def minimal(config: Config) -> None:
        config["kubernetes"] = {}
        config.pop("platform")
        config.pop("tenants")

    evaluation = evaluate_changed("lab", minimal).check()
    assert evaluation.exports["kubernetesVersion"].value == versions.KUBERNETES_VERSION


def test_the_host_key_opt_out_is_explicit():
    def no_keys(config: Config) -> None:
        for host in hosts(config):
            host.pop("hostKey")

    assert_refused(
        evaluate_changed("lab", no_keys), "ml-platform:baremetal.hosts[0].hostKey", "no host key"
    )

    def opted_out(config: Config) -> None:
        no_keys(config)
        config["baremetal"]["insecureIgnoreHostKeys"] = True

    evaluation = evaluate_changed("lab", opted_out).check()
    join = next(r for r in evaluation.registrations if r.name == "join-gpu-07")
    from pulumi.runtime import rpc

    assert "hostKey" not in rpc.unwrap_rpc_secret(join.inputs["connection"])
