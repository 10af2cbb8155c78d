"""The public half of the stack's SSH key, so the user configures one secret, not two."""

from __future__ import annotations

import pulumi
from cryptography.hazmat.primitives import serialization


class SshKeyError(pulumi.RunError):
    """The configured sshPrivateKey cannot be read as a private key."""


def public_key_of(private_key: str) -> str:
    """OpenSSH public key line for an OpenSSH or PEM private key without passphrase."""
    data = private_key.encode()
    loaders = (serialization.load_ssh_private_key, serialization.load_pem_private_key)
    for load in loaders:
        try:
            key = load(data, password=None)
        except (ValueError, TypeError):
            continue
        return (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
    raise SshKeyError(
        "ml-platform:sshPrivateKey is not an unencrypted OpenSSH or PEM private key. "
        "Fix: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519 (a key without "
        "passphrase; pulumi-command cannot prompt for one)"
    )


def public_key_output(private_key: pulumi.Output[str]) -> pulumi.Output[str]:
    # A public key is not a secret; keeping it one would hide the key pair's diff for nothing.
    return pulumi.Output.unsecret(private_key.apply(public_key_of))
