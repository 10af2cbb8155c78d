"""Top-level SSH settings besides the secret key: public keys also let in on every host."""

from __future__ import annotations

from dataclasses import dataclass

from model.fields import Fields
from model.formats import SSH_PUBLIC_KEY
from model.settings import Context, read_settings, setting


@dataclass(frozen=True, kw_only=True)
class SshSettings:
    authorized_keys: tuple[str, ...] = setting(
        "sshAuthorizedKeys",
        (),
        format=SSH_PUBLIC_KEY,
        doc="public keys let in for the SSH user on every host besides `sshPrivateKey`'s own: "
        "add the next key here before rotating (docs/operations/rotate-keys.md)",
    )


def read(top: Fields, context: Context) -> SshSettings | None:
    return read_settings(SshSettings, top, context)
