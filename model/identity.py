"""The identity provider the platform trusts, when the stack config names one
(`identity.oidc`): users log in to the platform's web applications through it, and tenants'
`users` are its usernames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi

# What tenants' `users` are: e-mail addresses or plain user names (`identity.usernames`).
UserForm = Literal["email", "name"]
# The API server prefixes every OIDC username with this (AuthenticationConfiguration
# claimMappings.username.prefix), so that no token can name a `system:` user; RoleBindings name
# `oidc:<user>`.
KUBERNETES_USERNAME_PREFIX = "oidc:"
KUBERNETES_GROUPS_PREFIX = "oidc:"


@dataclass(frozen=True)
class OidcEndpoints:
    """The provider's endpoints, for applications that read no discovery document (Grafana)."""

    authorization_url: str
    token_url: str
    userinfo_url: str


@dataclass(frozen=True)
class Oidc:
    issuer_url: str
    client_id: str
    client_secret: pulumi.Output[str]  # secret
    # The claim that names a user (matched against tenants' `users`) and the one listing groups.
    username_claim: str
    groups_claim: str
    endpoints: OidcEndpoints | None = None

    def kubernetes_user(self, user: str) -> str:
        """The name the API server gives `user` once it has checked the user's token."""
        return f"{KUBERNETES_USERNAME_PREFIX}{user}"
