"""Traefik, built from its settings alone."""

from __future__ import annotations

from components.addons import ingress
from components.addons.ingress import IngressSettings
from tests.helpers import deploy_addon, releases, site


def traefik_values(**site_changes) -> dict:
    evaluation = deploy_addon(ingress.ADDON, IngressSettings(replicas=3), at=site(**site_changes))
    return releases(evaluation)["traefik"].inputs["values"]


def test_it_is_the_default_class_behind_a_load_balancer_redirecting_to_https():
    values = traefik_values()
    assert values["deployment"]["replicas"] == 3
    assert values["ingressClass"]["isDefaultClass"] is True
    assert values["service"]["spec"]["type"] == "LoadBalancer"
    assert values["service"]["annotations"] == {}
    redirect = values["ports"]["web"]["http"]["redirections"]["entryPoint"]
    assert redirect == {"to": "websecure", "scheme": "https", "permanent": True}


def test_on_aws_the_cloud_controller_makes_an_nlb():
    annotations = traefik_values(cloud="aws")["service"]["annotations"]
    assert annotations == {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
