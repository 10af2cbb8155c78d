"""cert-manager and the platform issuer, built from their settings alone."""

from __future__ import annotations

import pytest

from components.addons import certificates
from components.addons.certificates import CertificateSettings
from model.fields import ConfigError
from tests.helpers import (
    custom,
    deploy_addon,
    plain_text,
    read_platform_config,
    refused,
    releases,
    waits_for,
)


def test_the_platforms_own_root_ca_signs_by_default():
    evaluation = deploy_addon(certificates.ADDON, CertificateSettings())
    issuer = custom(evaluation, "ClusterIssuer", "cert-manager-platform")
    assert issuer.inputs["spec"] == {"ca": {"secretName": "platform-ca"}}
    ca = custom(evaluation, "SelfSignedCert", "cert-manager-ca")
    assert ca.inputs["isCaCertificate"] is True
    assert set(ca.inputs["allowedUses"]) == {"cert_signing", "crl_signing", "digital_signature"}
    secret = custom(evaluation, "core/v1:Secret", "cert-manager-root-ca")
    assert secret.inputs["metadata"] == {"name": "platform-ca", "namespace": "cert-manager"}
    assert secret.inputs["type"] == "kubernetes.io/tls"
    assert waits_for(evaluation, issuer, secret)
    assert waits_for(evaluation, secret, releases(evaluation)["cert-manager"])
    # Its certificate is public: users trust it; its key is only in the Secret, secret.
    exported = evaluation.exports["platformCaCertificate"]
    assert not exported.secret and exported.value.startswith("-----BEGIN CERTIFICATE-----")
    key = custom(evaluation, "PrivateKey", "cert-manager-ca-key")
    assert key.inputs["algorithm"] == "ECDSA"
    assert plain_text(secret.inputs["stringData"]) == ""


def test_acme_solves_http01_through_the_ingress():
    settings = CertificateSettings(issuer="acme", acme_email="ops@lab.example.edu")
    evaluation = deploy_addon(certificates.ADDON, settings)
    spec = custom(evaluation, "ClusterIssuer", "cert-manager-platform").inputs["spec"]["acme"]
    assert spec["email"] == "ops@lab.example.edu"
    assert spec["server"] == certificates.LETS_ENCRYPT
    assert spec["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]
    assert not [r for r in evaluation.registrations if r.type.endswith(("Certificate", "Cert"))]
    assert "platformCaCertificate" not in evaluation.exports


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ({"issuer": "acme"}, "acmeEmail", "required with issuer acme"),
        ({"issuer": "acme", "acmeEmail": "ops at lab"}, "acmeEmail", "not an e-mail address"),
        ({"acmeServer": "http://acme.example/dir"}, "acmeServer", "https:// URL"),
    ],
)
def test_bad_acme_settings_are_refused(section, key, words):
    with pytest.raises(ConfigError) as error:
        read_platform_config({"certificates": section})
    assert words in refused(error.value, f"ml-platform:platform.certificates.{key}")
