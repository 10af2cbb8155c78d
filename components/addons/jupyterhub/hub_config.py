"""Run by JupyterHub when it starts (the chart's `hub.extraConfig`, executed by
jupyterhub/zero-to-jupyterhub-k8s@4.4.0:jupyterhub/files/hub/jupyterhub_config.py with its
globals: `c`, the hub's config, and `get_config`, z2jh's reader of the chart values).

Its data is the values' `custom.mlPlatform`, written by components/addons/jupyterhub:
the tenants (their users and notebook profiles) and, with an OIDC provider, its issuer.

- A user gets the profiles of the tenants they belong to; each profile starts the notebook in
  that tenant's namespace (KubeSpawner 7 takes `namespace` from a profile's override and
  watches each namespace with its own reflector, so the hub needs only a Role in each).
- Someone of no tenant cannot start a notebook (there would be no namespace to put it in).
- With OIDC, the provider's endpoints come from its discovery document: oauthenticator 17.4
  does no discovery of its own.
- Without it, NativeAuthenticator: users sign up and an administrator approves them.
  NativeAuthenticator pre-approves everyone in `allowed_users`; here signing up is open to the
  tenants' users only and approves no one (jupyterhub/nativeauthenticator@1.3.0:
  nativeauthenticator/nativeauthenticator.py, create_user and get_authed_users).
"""

# ruff: noqa: F821  (`c` and `get_config` are the hub config's globals)

import json
import urllib.request
from typing import Any

PLATFORM = get_config("custom.mlPlatform")
TENANTS = PLATFORM["tenants"]


def tenants_of(name: str) -> list[dict]:
    return [t for t in TENANTS if name in t["users"]]


def profile_list(spawner: Any) -> list[dict]:
    return [p for t in tenants_of(spawner.user.name) for p in t["profiles"]]


def refuse_outsiders(spawner: Any) -> None:
    if not tenants_of(spawner.user.name):
        raise RuntimeError(
            f"{spawner.user.name} is in no course and with no professor: an administrator "
            "adds users to tenants in the stack config"
        )


c.KubeSpawner.profile_list = profile_list
c.Spawner.pre_spawn_hook = refuse_outsiders

if PLATFORM.get("oidcIssuer"):
    issuer = PLATFORM["oidcIssuer"]
    with urllib.request.urlopen(
        issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=15
    ) as response:
        discovery = json.load(response)
    # OpenID Connect Discovery 1.0, 4.3: the document's issuer is exactly the configured one.
    if discovery.get("issuer") != issuer:
        raise RuntimeError(
            f"the discovery document names {discovery.get('issuer')!r}, not {issuer!r}"
        )
    c.GenericOAuthenticator.authorize_url = discovery["authorization_endpoint"]
    c.GenericOAuthenticator.token_url = discovery["token_endpoint"]
    c.GenericOAuthenticator.userdata_url = discovery["userinfo_endpoint"]
else:
    from nativeauthenticator import NativeAuthenticator
    from nativeauthenticator.orm import UserInfo

    class TenantNativeAuthenticator(NativeAuthenticator):
        """Sign-up for the tenants' users (and the administrators) only; approval by an
        administrator, never by being listed."""

        def get_authed_users(self) -> set[str]:
            approved = {u.username for u in UserInfo.all_users(self.db) if u.is_authorized}
            return approved | set(self.admin_users)

        def validate_username(self, username: str) -> bool:
            listed = username in self.allowed_users or username in self.admin_users
            return listed and super().validate_username(username)

    c.JupyterHub.authenticator_class = TenantNativeAuthenticator
