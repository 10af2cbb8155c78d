"""cert-manager and the platform issuer, built from their settings alone."""

from __future__ import annotations

import pytest

from components.addons import certificates
from components.addons.certificates import CertificateSettings
from model.fields import ConfigError
from tests.helpers import custom, deploy_addon, read_platform_config, refused, releases, waits_for


def test_a_self_signed_root_ca_signs_by_default():
    evaluation = deploy_addon(certificates.ADDON, CertificateSettings())
    issuer = custom(evaluation, "ClusterIssuer", "cert-manager-platform")
    assert issuer.inputs["spec"] == {"ca": {"secretName": "platform-root-ca"}}
    ca = custom(evaluation, "Certificate", "cert-manager-platform-root-ca")
    assert ca.inputs["spec"]["isCA"] is True
    assert waits_for(evaluation, issuer, ca)
    assert waits_for(evaluation, ca, releases(evaluation)["cert-manager"])


def test_acme_solves_http01_through_the_ingress():
    settings = CertificateSettings(issuer="acme", acme_email="ops@lab.example.edu")
    evaluation = deploy_addon(certificates.ADDON, settings)
    spec = custom(evaluation, "ClusterIssuer", "cert-manager-platform").inputs["spec"]["acme"]
    assert spec["email"] == "ops@lab.example.edu"
    assert spec["server"] == certificates.LETS_ENCRYPT
    assert spec["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]
    assert not [r for r in evaluation.registrations if r.type.endswith("Certificate")]


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
