"""The `identity:` section: the form of tenants' users, and the OIDC provider the platform
trusts when there is one.

`identity.oidc.clientSecret` is a secret: the whole `identity` key must then be stored as one
(`pulumi config set --secret --path identity.oidc.clientSecret ...` marks it so), it becomes a
secret Output, and no problem ever shows its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from model.fields import MISSING, Fields
from model.formats import CLAIM, CLIENT_ID, HTTPS_URL
from model.identity import Oidc, OidcEndpoints, UserForm
from model.settings import Context, keys_of, read_settings, setting

SECRET_KEY = "clientSecret"
# What a problem shows in place of the secret (or of a key that may hold it, misspelt).
NOT_SHOWN = "(secret, not shown)"


@dataclass(frozen=True, kw_only=True)
class EndpointsSettings:
    authorization: str = setting(
        "authorization", format=HTTPS_URL, doc="the discovery document's authorization_endpoint"
    )
    token: str = setting("token", format=HTTPS_URL, doc="its token_endpoint")
    userinfo: str = setting("userinfo", format=HTTPS_URL, doc="its userinfo_endpoint")


@dataclass(frozen=True, kw_only=True)
class OidcSettings:
    issuer_url: str = setting(
        "issuerUrl",
        format=HTTPS_URL,
        doc="the issuer, exactly as its tokens' `iss` claim says (its discovery document is "
        "under /.well-known/openid-configuration)",
    )
    client_id: str = setting(
        "clientId",
        format=CLIENT_ID,
        doc="the platform's client at the provider; also the audience the API server accepts",
    )
    client_secret: str = setting(
        SECRET_KEY,
        doc="secret: `pulumi config set --secret --path identity.oidc.clientSecret`",
    )
    username_claim: str = setting(
        "usernameClaim",
        "email",
        format=CLAIM,
        doc="the claim that names a user; tenants' `users` are its values",
    )
    groups_claim: str = setting(
        "groupsClaim", "groups", format=CLAIM, doc="the claim listing a user's groups"
    )
    endpoints: EndpointsSettings | None = setting(
        "endpoints",
        None,
        doc="the provider's endpoints, for Grafana's login (it reads no discovery document); "
        "without them Grafana keeps its admin login only",
    )


@dataclass(frozen=True, kw_only=True)
class IdentitySettings:
    usernames: UserForm = setting(
        "usernames",
        "email",
        doc="what tenants' `users` are: `email` addresses or plain user `name`s",
    )
    oidc: OidcSettings | None = setting(
        "oidc",
        None,
        doc="log in through this provider (the API server, JupyterHub, Grafana...); without "
        "it JupyterHub signs users up itself, with admin approval, and only administrators "
        "reach the Kubernetes API",
    )


@dataclass(frozen=True)
class IdentityConfig:
    usernames: UserForm
    oidc: Oidc | None


def _masked(raw: Any) -> tuple[Any, Any]:
    """(the section with the secret, and anything beside the known keys of `oidc` that might
    be it misspelt, replaced by NOT_SHOWN; the secret itself, or None)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("oidc"), Mapping):
        return raw, None
    oidc = dict(raw["oidc"])
    secret = oidc.get(SECRET_KEY)
    known = set(keys_of(OidcSettings)) - {SECRET_KEY}
    for key in oidc:
        if key not in known:
            oidc[key] = NOT_SHOWN
    return {**raw, "oidc": oidc}, secret


def read(top: Fields, context: Context, is_secret: bool) -> IdentityConfig | None:
    """The section, absent meaning e-mail users and no provider; None when it is wrong."""
    raw, secret = _masked(top.raw("identity"))
    # Read from the masked copy: whatever a problem quotes is never the secret.
    masked = Fields(
        {} if raw is MISSING else {"identity": raw}, top.path, top.problems, ["identity"]
    )
    section = masked.section("identity", keys_of(IdentitySettings))
    settings = None if section is None else read_settings(IdentitySettings, section, context)
    if settings is None:
        return None
    if settings.oidc is None:
        return IdentityConfig(settings.usernames, None)
    secret_key = f"{section.key('oidc')}.{SECRET_KEY}"
    fix = "pulumi config set --secret --path identity.oidc.clientSecret <secret>"
    if not isinstance(secret, str) or not secret or secret == NOT_SHOWN:
        top.problems.add(secret_key, NOT_SHOWN, "must be a non-empty string", fix)
        return None
    if not is_secret:
        top.problems.add(secret_key, NOT_SHOWN, "is stored in plain text", fix)
        return None
    oidc = settings.oidc
    if oidc.username_claim == "email" and settings.usernames != "email":
        section.bad(
            "usernames",
            "the provider names users by their e-mail (oidc.usernameClaim: email)",
            "set usernames: email, or name another usernameClaim",
        )
        return None
    return IdentityConfig(
        settings.usernames,
        Oidc(
            issuer_url=oidc.issuer_url,
            client_id=oidc.client_id,
            client_secret=pulumi.Output.secret(secret),
            username_claim=oidc.username_claim,
            groups_claim=oidc.groups_claim,
            endpoints=None
            if oidc.endpoints is None
            else OidcEndpoints(
                oidc.endpoints.authorization, oidc.endpoints.token, oidc.endpoints.userinfo
            ),
        ),
    )
