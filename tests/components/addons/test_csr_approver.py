"""The kubelet CSR approver, built from the site alone."""

from __future__ import annotations

from components.addons import csr_approver
from tests.helpers import deploy_addon, releases, site


def approver_values(**changes) -> dict:
    evaluation = deploy_addon(csr_approver.ADDON, at=site(**changes))
    return releases(evaluation)["kubelet-csr-approver"].inputs["values"]


def test_it_accepts_the_sites_node_names_and_addresses():
    values = approver_values(node_network="192.168.20.0/24", node_name_pattern="^node-[0-9]+$")
    assert values["providerIpPrefixes"] == ["192.168.20.0/24"]
    assert values["providerRegex"] == "^node-[0-9]+$"


def test_names_are_resolved_only_where_dns_knows_them():
    assert approver_values(node_names_resolve=False)["bypassDnsResolution"] is True
    assert approver_values(node_names_resolve=True)["bypassDnsResolution"] is False
