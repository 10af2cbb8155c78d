"""Tenants, GPU sharing and identity in the stack config: every bad input refused, before any
resource, with its key named."""

from __future__ import annotations

import pytest

from automation.engine import StackSettings, evaluate, load_stack
from stacks.checks import platform_namespaces
from tests.helpers import Config, evaluate_changed, stack_config
from tests.stacks.test_config import assert_refused, hosts

FACULTY = "ml-platform:tenants.faculty[0]"
COURSE = "ml-platform:tenants.courses[0]"
OIDC = {
    "issuerUrl": "https://login.lab.example.edu/realms/lab",
    "clientId": "ml-platform",
    "clientSecret": "an-oidc-client-secret-value",
}


def course(config: Config) -> dict:
    return config["tenants"]["courses"][0]


def professor(config: Config) -> dict:
    return config["tenants"]["faculty"][0]


def all_exclusive(config: Config) -> None:
    for host in hosts(config):
        if "gpu" in host:
            host["gpu"].pop("sharing", None)
    config["platform"]["gpu"]["timeSlicing"] = {"replicas": 1}


def another_course_named_prof_lee(config: Config) -> None:
    config["tenants"]["courses"].append({"name": "prof-lee", "users": ["x@lab.example.edu"]})


CASES = [
    # (id, change, key that must be named, words)
    ("dedicated-beyond-exclusive", lambda c: professor(c).update(dedicatedGpus=33), "ml-platform:tenants.faculty", "exclusive hosts have 32 (8 of the 40 GPUs are shared)"),
    ("course-quotas-beyond-what-is-left", lambda c: course(c).update(gpuQuota=25), "ml-platform:tenants.courses", "24 left after the faculty's 8"),
    ("fraction-not-the-replicas", lambda c: course(c).update(notebookGpuFraction="1/2"), f"{COURSE}.notebookGpuFraction", "which is 1/4"),
    ("fraction-not-a-fraction", lambda c: course(c).update(notebookGpuFraction="0.25"), f"{COURSE}.notebookGpuFraction", "must be 1/N"),
    ("fraction-without-shared-gpus", all_exclusive, f"{COURSE}.notebookGpuFraction", "no host has gpu.sharing: shared"),
    ("shared-hosts-unsliced", lambda c: c["platform"]["gpu"].update(timeSlicing={"replicas": 1}), "ml-platform:platform.gpu.timeSlicing.replicas", "whole GPU under another name"),
    ("unknown-sharing", lambda c: hosts(c)[5]["gpu"].update(sharing="sliced"), "ml-platform:baremetal.hosts[5].gpu.sharing", "one of exclusive, shared"),
    ("name-not-dns-label", lambda c: course(c).update(name="CS_231"), f"{COURSE}.name", "not a DNS label"),
    ("name-is-a-platform-namespace", lambda c: professor(c).update(name="monitoring"), f"{FACULTY}.name", "namespace the platform or Kubernetes uses"),
    ("name-is-kubernetes-own", lambda c: course(c).update(name="kube-cs231"), f"{COURSE}.name", "namespace the platform or Kubernetes uses"),
    ("user-not-an-email", lambda c: course(c).update(users=["ta cs231"]), f"{COURSE}.users", "not an e-mail address"),
    ("user-in-capitals", lambda c: course(c).update(users=["TA@lab.example.edu"]), f"{COURSE}.users", "capital letters"),
    ("user-listed-twice", lambda c: professor(c).update(users=["lee@lab.example.edu"] * 2), f"{FACULTY}.users", "lists lee@lab.example.edu 2 times"),
    ("two-tenants-one-name", another_course_named_prof_lee, "ml-platform:tenants", "2 tenants are named prof-lee"),
    ("usernames-unknown", lambda c: c.update(identity={"usernames": "upn"}), "ml-platform:identity.usernames", "one of email, name"),
    ("user-not-a-name", lambda c: c.update(identity={"usernames": "name"}), f"{FACULTY}.users", "not a user name"),
    ("queueing-without-gpu-operator", lambda c: c["platform"]["gpu"].update(enabled=False), "ml-platform:platform.queueing.enabled", "GPU operator is off"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "change", "key", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_tenants_are_refused(case, change, key, words):
    assert_refused(evaluate_changed("lab", change), key, words)


def test_every_namespace_the_program_makes_is_reserved(lab, dev, campus):
    """What the tenant-name check refuses covers what the add-ons create (each declares its
    namespaces in its ADDON), so a tenant can never take one of them over."""
    reserved = platform_namespaces()
    assert {"monitoring", "gpu-operator", "kube-system", "calico-system"} <= reserved
    for evaluation in (lab, dev, campus):
        made = {
            r.inputs["metadata"]["name"]
            for r in evaluation.of_type("kubernetes:core/v1:Namespace")
            if "ml-platform.io/tenant" not in (r.inputs["metadata"].get("labels") or {})
        }
        assert made <= reserved, made - reserved


def with_identity(identity: dict, secret: bool = True, stack: str = "lab"):
    """`stack` with an `identity` section; the key stored as a secret or in plain text."""
    base = load_stack(stack)
    values = {**base.values, "ml-platform:identity": identity}
    keys = base.secret_keys | ({"ml-platform:identity"} if secret else set())
    return evaluate(stack, StackSettings(values, frozenset(keys)))


def test_an_oidc_provider_is_read(campus):
    """The tenants' test stack (tests/tenants.py) has one, stored as a secret."""
    assert campus.registrations


def test_a_client_secret_in_plain_text_is_refused_without_showing_it():
    evaluation = with_identity({"oidc": OIDC}, secret=False)
    assert_refused(evaluation, "ml-platform:identity.oidc.clientSecret", "plain text")
    assert OIDC["clientSecret"] not in str(evaluation.error)


def test_a_misspelt_client_secret_is_refused_without_showing_it():
    oidc = {k: v for k, v in OIDC.items() if k != "clientSecret"}
    evaluation = with_identity({"oidc": {**oidc, "clientSecrt": OIDC["clientSecret"]}})
    assert_refused(evaluation, "ml-platform:identity.oidc.clientSecrt", "did you mean")
    assert_refused(evaluation, "ml-platform:identity.oidc.clientSecret", "is required")
    assert OIDC["clientSecret"] not in str(evaluation.error)


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"issuerUrl": "http://login.lab.example.edu"}, "issuerUrl", "must be an https:// URL"),
        ({"clientId": "ml platform"}, "clientId", "not an OIDC client id"),
        ({"usernameClaim": "e mail"}, "usernameClaim", "not a JWT claim name"),
        # Grafana renders these through `tpl`: a brace would be a template.
        (
            {
                "endpoints": {
                    "authorization": "https://x/{{ .Values }}",
                    "token": "https://x/t",
                    "userinfo": "https://x/u",
                }
            },
            "endpoints.authorization",
            "https:// URL",
        ),
    ],
)
def test_bad_oidc_settings_are_refused(change, key, words):
    evaluation = with_identity({"oidc": {**OIDC, **change}})
    assert_refused(evaluation, f"ml-platform:identity.oidc.{key}", words)


def test_e_mail_claims_need_e_mail_users():
    evaluation = with_identity({"usernames": "name", "oidc": OIDC})
    assert_refused(evaluation, "ml-platform:identity.usernames", "by their e-mail")


def test_the_lab_shares_only_the_hosts_it_says():
    config = stack_config("lab")
    shared = [h["name"] for h in hosts(config) if h.get("gpu", {}).get("sharing") == "shared"]
    assert shared == [f"gpu-{n}" for n in range(33, 41)]
