"""metrics-server and the VPA, built from their settings alone."""

from __future__ import annotations

import pytest

from components.addons import autoscaling
from components.addons.autoscaling import AutoscalingSettings
from model.fields import ConfigError
from tests.helpers import deploy_addon, read_platform_config, refused, releases, waits_for


def test_the_vpa_only_recommends_by_default():
    evaluation = deploy_addon(autoscaling.ADDON, AutoscalingSettings())
    r = releases(evaluation)
    assert r["vertical-pod-autoscaler"].inputs["values"] == {
        "recommender": {"enabled": True},
        "updater": {"enabled": False},
        "admissionController": {"enabled": False},
    }
    assert waits_for(evaluation, r["vertical-pod-autoscaler"], r["metrics-server"])
    assert r["metrics-server"].inputs["values"]["args"] == []  # kubelets verified over TLS


def test_auto_lets_it_act_and_off_leaves_it_out():
    acting = releases(deploy_addon(autoscaling.ADDON, AutoscalingSettings(vpa="auto")))
    assert acting["vertical-pod-autoscaler"].inputs["values"]["updater"] == {"enabled": True}
    off = releases(deploy_addon(autoscaling.ADDON, AutoscalingSettings(vpa="off")))
    assert set(off) == {"metrics-server"}


def test_an_unknown_mode_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError) as error:
        read_platform_config({"autoscaling": {"vpa": "recommendation"}})
    assert "did you mean 'recommend'" in refused(
        error.value, "ml-platform:platform.autoscaling.vpa"
    )
