"""The kubelet CSR approver: each node's certificate carries its own name and addresses only."""

from __future__ import annotations

import pytest

from components.addons import csr_approver
from tests.helpers import custom, deploy_addon, releases, site


@pytest.fixture(scope="module")
def lab_approver():
    return deploy_addon(csr_approver.ADDON, at=site(node_name_pattern="^[a-z0-9-]+$"))


def approver_values(evaluation) -> dict:
    return releases(evaluation)["kubelet-csr-approver"].inputs["values"]


def test_only_each_nodes_own_address_is_accepted(lab_approver):
    values = approver_values(lab_approver)
    # The sample inventory: cp-1 and gpu-1..gpu-4; no host network, no VIP, no pool.
    assert values["providerIpPrefixes"] == [
        "192.168.10.11/32",
        "192.168.10.101/32",
        "192.168.10.102/32",
        "192.168.10.103/32",
        "192.168.10.104/32",
    ]
    assert values["providerRegex"] == "^[a-z0-9-]+$"
    # Names are always resolved: a node's IPs must be what its own name resolves to.
    assert values["bypassDnsResolution"] is False


def test_lab_node_names_are_served_to_the_approver_by_a_resolver_of_their_own(lab_approver):
    config = custom(lab_approver, "ConfigMap", "kubelet-csr-approver-node-names")
    hosts = config.inputs["data"]["hosts"].splitlines()
    assert hosts == [
        "192.168.10.11 cp-1",
        "192.168.10.101 gpu-1",
        "192.168.10.102 gpu-2",
        "192.168.10.103 gpu-3",
        "192.168.10.104 gpu-4",
    ]
    assert "fallthrough" not in config.inputs["data"]["Corefile"]
    values = approver_values(lab_approver)
    assert values["dnsPolicy"] == "None"
    service = custom(lab_approver, "Service", "kubelet-csr-approver-node-names")
    (nameserver,) = values["dnsConfig"]["nameservers"]
    assert nameserver.startswith("10.96.")  # the resolver Service's ClusterIP
    assert service.urn in releases(lab_approver)["kubelet-csr-approver"].all_dependencies
    deployment = custom(lab_approver, "Deployment", "kubelet-csr-approver-node-names")
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["image"].startswith("registry.k8s.io/coredns/coredns:v")


def test_where_names_resolve_the_clouds_dns_answers():
    evaluation = deploy_addon(csr_approver.ADDON, at=site("aws"))
    values = approver_values(evaluation)
    assert "dnsPolicy" not in values and values["bypassDnsResolution"] is False
    assert not [r for r in evaluation.registrations if r.name.endswith("node-names")]
