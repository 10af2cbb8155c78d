"""Each namespace's Pod Security level admits every pod the charts render into it.

A namespace's level is its `pod-security.kubernetes.io/enforce` label as the program registers
it; a namespace the program does not label (kube-system, one Helm creates) is privileged:
kubeadm configures no cluster-wide default for the admission plugin. The checks are upstream's
(tools/pod_security.py, ported from k8s.io/pod-security-admission at release-1.36); pods that
operators create at run time are not in the charts and not checked here."""

from __future__ import annotations

import copy

import pytest

from tests.charts.conftest import Variant
from tools import pod_security
from tools.pod_security import (
    BASELINE,
    PRIVILEGED,
    RESTRICTED,
    checks_for,
    evaluate_pod,
    forbidden_detail,
    namespace_level,
)

NAMESPACE = "kubernetes:core/v1:Namespace"


def namespace_labels(variant: Variant) -> dict[str, dict[str, str]]:
    return {
        r.inputs["metadata"]["name"]: r.inputs["metadata"].get("labels") or {}
        for r in variant.evaluation.of_type(NAMESPACE)
    }


def rejected_pods(variant: Variant) -> list[str]:
    labels = namespace_labels(variant)
    problems = []
    for name, facts in sorted(variant.release_facts().items()):
        for pod in facts["pods"]:
            level, version = namespace_level(labels.get(pod["namespace"]))
            results = evaluate_pod(pod, level, version)
            if results:
                problems.append(
                    f"release {name}: {pod['workload']} in namespace {pod['namespace']} "
                    f"({level}): {forbidden_detail(results)}"
                )
    return problems


def test_every_namespace_admits_the_pods_rendered_into_it(variant):
    problems = rejected_pods(variant)
    assert not problems, f"{variant.name}:\n  " + "\n  ".join(problems)


def test_pods_are_checked_in_labelled_namespaces(variant):
    labels = namespace_labels(variant)
    checked = {
        pod["namespace"]
        for facts in variant.release_facts().values()
        for pod in facts["pods"]
        if namespace_level(labels.get(pod["namespace"]))[0] != PRIVILEGED
    }
    assert {"cert-manager", "traefik"} <= checked


def test_a_pod_its_namespace_forbids_is_caught(variant):
    facts = copy.deepcopy(variant.facts)
    traefik = facts["traefik"]["pods"][0]
    traefik["spec"]["hostNetwork"] = True
    traefik["spec"]["containers"][0].setdefault("securityContext", {})["privileged"] = True
    changed = Variant(variant.name, variant.evaluation, variant.releases, facts)
    found = set(rejected_pods(changed)) - set(rejected_pods(variant))
    container = traefik["spec"]["containers"][0]["name"]
    assert found == {
        f"release traefik: {traefik['workload']} in namespace traefik (baseline): "
        "host namespaces (hostNetwork=true), "
        f'privileged (container "{container}" must not set securityContext.privileged=true)'
    }


# ---- the checks themselves -------------------------------------------------------------------


def pod(**spec) -> dict:
    """A pod that the restricted level admits, with `spec` fields replaced."""
    container = {
        "name": "app",
        "image": "example.io/app:1.0",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    base = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    return {"metadata": {}, "spec": {**base, **spec}}


def with_container(**security_context) -> dict:
    restricted = pod()
    restricted["spec"]["containers"][0]["securityContext"].update(security_context)
    return restricted


def reasons(candidate: dict, level: str, version: str = "latest") -> list[str]:
    return [r.reason for r in evaluate_pod(candidate, level, version)]


def test_a_restricted_pod_passes_every_level():
    for level in (PRIVILEGED, BASELINE, RESTRICTED):
        assert reasons(pod(), level) == []


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (pod(hostNetwork=True), "host namespaces"),
        (pod(hostPID=True), "host namespaces"),
        (pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "hostPath volumes"),
        (with_container(privileged=True), "privileged"),
        (with_container(capabilities={"add": ["SYS_ADMIN"]}), "non-default capabilities"),
        (with_container(procMount="Unmasked"), "procMount"),
        (with_container(seccompProfile={"type": "Unconfined"}), "seccompProfile"),
        (with_container(appArmorProfile={"type": "Unconfined"}), "forbidden AppArmor profile"),
        (with_container(seLinuxOptions={"type": "spc_t"}), "seLinuxOptions"),
        (with_container(windowsOptions={"hostProcess": True}), "hostProcess"),
        (
            pod(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}),
            "forbidden sysctls",
        ),
    ],
)
def test_baseline_forbids(candidate, reason):
    assert reasons(candidate, BASELINE) == [reason]
    assert reasons(candidate, RESTRICTED)  # the same check, or the restricted one replacing it
    assert reasons(candidate, PRIVILEGED) == []


def test_baseline_forbids_host_ports_and_probe_hosts():
    candidate = pod()
    container = candidate["spec"]["containers"][0]
    container["ports"] = [{"containerPort": 80, "hostPort": 80}]
    container["livenessProbe"] = {"httpGet": {"host": "10.0.0.1", "port": 80}}
    assert evaluate_pod(candidate, BASELINE) == [
        pod_security.Result(False, "hostPort", 'container "app" uses hostPort 80'),
        pod_security.Result(
            False,
            "probe or lifecycle host",
            'container "app" uses probe or lifecycle host "10.0.0.1"',
        ),
    ]
    # Probe hosts are forbidden from policy version 1.34 on.
    assert reasons(candidate, BASELINE, "v1.33") == ["hostPort"]


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (with_container(allowPrivilegeEscalation=True), "allowPrivilegeEscalation != false"),
        (with_container(capabilities={"drop": ["NET_RAW"]}), "unrestricted capabilities"),
        (
            with_container(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
            "unrestricted capabilities",
        ),
        (with_container(runAsUser=0), "runAsUser=0"),
        (with_container(runAsNonRoot=False), "runAsNonRoot != true"),
        (
            pod(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
            "runAsNonRoot != true",
        ),
        (pod(securityContext={"runAsNonRoot": True}), "seccompProfile"),
        (pod(volumes=[{"name": "data", "nfs": {}}]), "restricted volume types"),
    ],
)
def test_restricted_forbids_what_baseline_allows(candidate, reason):
    assert reasons(candidate, BASELINE) == []
    assert reason in reasons(candidate, RESTRICTED)


def test_restricted_allows_what_it_allows():
    assert (
        reasons(
            with_container(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}), RESTRICTED
        )
        == []
    )
    volumes = [
        {"name": n, kind: {}} for n, kind in (("a", "configMap"), ("b", "csi"), ("c", "image"))
    ]
    assert reasons(pod(volumes=volumes), RESTRICTED) == []
    # A user namespace relaxes runAsNonRoot and runAsUser from 1.35 on, and procMount for
    # baseline only (restricted gained its own procMount check in 1.35).
    userns = with_container(runAsUser=0, runAsNonRoot=False)
    userns["spec"]["hostUsers"] = False
    assert reasons(userns, RESTRICTED) == []
    assert reasons(userns, RESTRICTED, "v1.34") == ["runAsNonRoot != true", "runAsUser=0"]
    unmasked = with_container(procMount="Unmasked")
    unmasked["spec"]["hostUsers"] = False
    assert reasons(unmasked, BASELINE) == []
    assert reasons(unmasked, BASELINE, "v1.34") == ["procMount"]
    assert reasons(unmasked, RESTRICTED) == ["procMount"]
    # Windows pods are exempt from the Linux-only restricted checks.
    windows = pod(os={"name": "windows"}, securityContext={"runAsNonRoot": True})
    windows["spec"]["containers"][0]["securityContext"] = {}
    assert reasons(windows, RESTRICTED) == []


def test_restricted_replaces_the_overlapping_baseline_checks():
    ids = [i for i, _ in checks_for(RESTRICTED)]
    assert "capabilities_restricted" in ids and "capabilities_baseline" not in ids
    assert "restrictedVolumes" in ids and "hostPathVolumes" not in ids
    assert "seccompProfile_restricted" in ids and "seccompProfile_baseline" not in ids
    assert "procMount_restricted" in ids and "procMount" not in ids
    assert checks_for(PRIVILEGED) == []
    assert [i for i, _ in checks_for(BASELINE)] == sorted(
        c.id for c in pod_security.CHECKS if c.level == BASELINE
    )


def test_versions_pick_the_revision_of_their_time():
    assert pod_security.parse_version("latest") == pod_security.parse_version("v1.36") == 35
    tcp = pod(
        securityContext={
            **pod()["spec"]["securityContext"],
            "sysctls": [{"name": "net.ipv4.tcp_rmem"}],
        }
    )
    assert reasons(tcp, BASELINE) == []
    assert reasons(tcp, BASELINE, "v1.31") == ["forbidden sysctls"]
    engine = with_container(seLinuxOptions={"type": "container_engine_t"})
    assert reasons(engine, BASELINE) == []
    assert reasons(engine, BASELINE, "v1.30") == ["seLinuxOptions"]


def test_namespace_without_a_label_is_privileged():
    assert namespace_level(None) == (PRIVILEGED, "latest")
    labels = {pod_security.ENFORCE_LABEL: "restricted", pod_security.ENFORCE_VERSION_LABEL: "v1.30"}
    assert namespace_level(labels) == (RESTRICTED, "v1.30")
