"""Fixtures the add-on tests share."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to open a connection or resolve a name fails the test: what runs under it
    is an offline plan that must not fetch anything (manifests are fetched at deploy time)."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("the offline plan tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
