"""with_resolved: plain values stay plain; Outputs are awaited and keep their secrecy."""

from __future__ import annotations

import contextvars

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from components.outputs import with_resolved


class NoResources(pulumi.runtime.Mocks):
    def new_resource(self, args):
        raise AssertionError("with_resolved must not create resources")

    def call(self, args):
        return {}, []


def test_plain_values_give_a_plain_result():
    assert with_resolved({"a": "1", "b": "2"}, lambda v: v["a"] + v["b"]) == "12"


@pytest.mark.parametrize("secret", [False, True])
def test_outputs_are_resolved_and_keep_secrecy(secret):
    def run():
        pulumi.runtime.set_mocks(NoResources(), preview=False)
        token = pulumi.Output.secret("t") if secret else pulumi.Output.from_input("t")
        result = with_resolved({"name": "n", "token": token}, lambda v: f"{v['name']}:{v['token']}")
        assert isinstance(result, pulumi.Output)
        return _sync_await(result.future()), _sync_await(result.is_secret())

    assert contextvars.Context().run(run) == ("n:t", secret)
