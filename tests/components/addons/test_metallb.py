"""MetalLB, built from the site alone."""

from __future__ import annotations

import base64

import yaml

from components.addons import metallb
from tests.helpers import (
    bundle_params,
    custom,
    deploy_addon,
    read_platform_config,
    releases,
    site,
    waits_for,
)


def test_it_hands_out_the_sites_pool_in_l2_mode():
    evaluation = deploy_addon(metallb.ADDON, at=site(load_balancer_pool="10.1.0.5-10.1.0.9"))
    values = releases(evaluation)["metallb"].inputs["values"]
    assert values["frrk8s"]["enabled"] is False and values["speaker"]["frr"]["enabled"] is False
    pool = custom(evaluation, "IPAddressPool", "metallb-pool")
    assert pool.inputs["spec"]["addresses"] == ["10.1.0.5-10.1.0.9"]
    l2 = custom(evaluation, "L2Advertisement", "metallb-l2")
    assert l2.inputs["spec"]["ipAddressPools"] == [pool.inputs["metadata"]["name"]]
    assert waits_for(evaluation, pool, releases(evaluation)["metallb"])


def test_only_a_site_with_a_pool_gets_it():
    assert "metallb" in read_platform_config({}).enabled
    assert "metallb" not in read_platform_config({}, at=site("aws")).enabled


def test_the_pool_waits_for_the_webhook_to_answer_not_only_for_the_chart():
    evaluation = deploy_addon(metallb.ADDON)
    gate = evaluation.named("metallb-webhook-ready")
    assert releases(evaluation)["metallb"].urn in gate.dependencies
    for name in ("metallb-pool", "metallb-l2"):
        assert gate.urn in evaluation.named(name).dependencies
    # The gate asks the API server to admit the very pool the program then creates.
    pool = custom(evaluation, "IPAddressPool", "metallb-pool")
    manifest = yaml.safe_load(base64.b64decode(bundle_params(gate)["MANIFEST_B64"]))
    assert manifest["spec"] == pool.inputs["spec"]
    assert "# ---- webhook-ready.sh ----" in gate.inputs["stdin"]
