"""Rancher: its host, TLS from the platform issuer, the bootstrap password, its range."""

from __future__ import annotations

import pytest

from automation.engine import unwrap_secrets
from components import versions
from components.addons import certificates, rancher
from components.addons.certificates import CertificateSettings
from components.addons.rancher import RancherSettings
from tests.helpers import custom, deploy_addon, plain_text, releases, waits_for


def deploy(issuer: CertificateSettings | None = None):
    issuer = issuer or CertificateSettings()
    return deploy_addon(
        rancher.ADDON,
        RancherSettings(),
        others={"certificates": issuer},
        before=[certificates.ADDON],
    )


def test_at_its_host_with_a_certificate_from_the_platform_issuer():
    evaluation = deploy()
    values = releases(evaluation)["rancher"].inputs["values"]
    assert values["hostname"] == "rancher.ml.example.edu"
    assert values["ingress"]["tls"] == {"source": "secret", "secretName": "tls-rancher-ingress"}
    certificate = custom(evaluation, "cert-manager.io/v1:Certificate", "rancher-certificate")
    assert certificate.inputs["spec"]["dnsNames"] == ["rancher.ml.example.edu"]
    assert certificate.inputs["spec"]["issuerRef"]["name"] == "platform"
    assert waits_for(evaluation, certificate, releases(evaluation)["cert-manager"])
    assert evaluation.exports["rancherUrl"].value == "https://rancher.ml.example.edu"


def test_with_the_platforms_own_ca_rancher_is_told_it():
    evaluation = deploy()
    assert releases(evaluation)["rancher"].inputs["values"]["privateCA"] is True
    ca = custom(evaluation, "core/v1:Secret", "rancher-ca").inputs
    assert ca["metadata"] == {"name": "tls-ca", "namespace": "cattle-system"}
    root = custom(evaluation, "core/v1:Secret", "cert-manager-root-ca").inputs["stringData"]
    assert unwrap_secrets(ca["stringData"])["cacerts.pem"] == unwrap_secrets(root)["ca.crt"]


def test_with_a_public_ca_there_is_no_private_ca():
    evaluation = deploy(CertificateSettings(issuer="acme", acme_email="ops@example.edu"))
    assert releases(evaluation)["rancher"].inputs["values"]["privateCA"] is False
    assert not [r for r in evaluation.registrations if r.name == "rancher-ca"]


def test_the_bootstrap_password_is_generated_exported_and_never_plain():
    evaluation = deploy()
    password = evaluation.exports["rancherBootstrapPassword"]
    assert password.secret and len(password.value) == 32
    values = releases(evaluation)["rancher"].inputs["values"]
    assert "bootstrapPassword" not in values  # not in Helm's values and release history
    (env,) = values["extraEnv"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "rancher-bootstrap", "key": "password"}
    assert all(password.value not in plain_text(r.inputs) for r in evaluation.registrations)


def test_the_namespace_is_baseline():
    ns = custom(deploy(), "Namespace", "cattle-system-namespace")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_its_kubernetes_range_comes_from_the_pinned_chart():
    (support,) = [s for s in versions.ADDON_KUBERNETES_SUPPORT if s.component == "rancher"]
    assert support.release == versions.minor(versions.RANCHER.version) == "2.15"
    assert support.newest_minor == versions.newest_minor_below(versions.RANCHER_KUBE_VERSION)
    assert (support.oldest_minor, support.newest_minor) == (34, 36)


@pytest.mark.parametrize(
    ("constraint", "newest"), [("< 1.37.0-0", 36), ("<1.34.0-0", 33), ("< 1.40.0", 39)]
)
def test_a_charts_upper_bound_gives_the_newest_minor(constraint, newest):
    assert versions.newest_minor_below(constraint) == newest


@pytest.mark.parametrize("constraint", [">= 1.25.0-0", "< 2.0.0"])
def test_a_constraint_that_is_no_upper_bound_on_1x_is_refused(constraint):
    with pytest.raises(ValueError, match="not an upper bound"):
        versions.newest_minor_below(constraint)
