"""The identity provider the platform trusts, when the stack config names one
(`identity.oidc`): users log in to the platform's web applications through it, and tenants'
`users` are its usernames."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class Oidc:
    issuer_url: str
    client_id: str
    client_secret: pulumi.Output[str]  # secret
    # The claim that names a user (matched against tenants' `users`) and the one listing groups.
    username_claim: str
    groups_claim: str
