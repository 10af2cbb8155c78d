"""With an OIDC provider, the API server trusts it: a structured AuthenticationConfiguration
written next to the encryption config on every control plane, and the flag naming it."""

from __future__ import annotations

import base64

import yaml

from components.kubeadm import documents
from tests.components.kubeadm.test_cluster import commands
from tests.components.kubeadm.test_scripts import b64, host, init_params, ok  # noqa: F401
from tests.helpers import bundle_params
from tests.tenants import OIDC


def api_server_args(cluster_document: dict) -> dict[str, str]:
    return {a["name"]: a["value"] for a in cluster_document["apiServer"]["extraArgs"]}


def test_control_planes_trust_the_issuer_and_prefix_its_users(campus):
    steps = commands(campus)
    for step in ("join-cp-1", "join-cp-2", "join-cp-3"):  # join-cp-1 runs kubeadm init
        params = bundle_params(steps[step])
        config = yaml.safe_load(base64.b64decode(params["AUTHENTICATION_CONFIG_B64"]))
        assert config["apiVersion"] == "apiserver.config.k8s.io/v1"
        assert config["kind"] == "AuthenticationConfiguration"
        (jwt,) = config["jwt"]
        assert jwt["issuer"] == {"url": OIDC["issuerUrl"], "audiences": [OIDC["clientId"]]}
        assert jwt["claimMappings"] == {
            "username": {"claim": "email", "prefix": "oidc:"},
            "groups": {"claim": "groups", "prefix": "oidc:"},
        }
    init = bundle_params(steps["join-cp-1"])
    _, cluster, *_ = yaml.safe_load_all(base64.b64decode(init["KUBEADM_CONFIG_B64"]))
    assert api_server_args(cluster)["authentication-config"] == documents.AUTHENTICATION_CONFIG_PATH
    # Workers write no control-plane files.
    assert "AUTHENTICATION_CONFIG_B64" not in bundle_params(steps["join-gpu-07"])
    # The file is in the directory the API server mounts already.
    mounts = [v["mountPath"] for v in cluster["apiServer"]["extraVolumes"]]
    assert documents.AUTHENTICATION_CONFIG_PATH.rsplit("/", 1)[0] in mounts
    # The client secret never reaches a host: the API server only checks tokens.
    for step in ("join-cp-1", "join-cp-2"):
        assert OIDC["clientSecret"] not in str(bundle_params(steps[step]))


def test_without_a_provider_nothing_changes(lab):
    init = bundle_params(commands(lab)["join-cp-1"])
    assert "AUTHENTICATION_CONFIG_B64" not in init
    _, cluster, *_ = yaml.safe_load_all(base64.b64decode(init["KUBEADM_CONFIG_B64"]))
    assert "authentication-config" not in api_server_args(cluster)


def test_init_writes_the_authentication_config_where_the_flag_says(host):  # noqa: F811
    config = "kind: AuthenticationConfiguration\n"
    ok(host.run("init", **init_params(AUTHENTICATION_CONFIG_B64=b64(config))))
    written = host.path(documents.AUTHENTICATION_CONFIG_PATH.lstrip("/"))
    assert written.read_text() == config
    assert oct(written.stat().st_mode & 0o777) == "0o600"


def test_without_it_init_writes_none(host):  # noqa: F811
    ok(host.run("init", **init_params()))
    assert not host.path(documents.AUTHENTICATION_CONFIG_PATH.lstrip("/")).exists()
