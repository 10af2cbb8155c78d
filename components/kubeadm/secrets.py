"""Join material generated up front (not scraped from `kubeadm init`), as secrets.

With the token and certificate key known before init, every join depends only on init having
finished, and a re-run never needs to read anything back from a host.
"""

from __future__ import annotations

import pulumi
import pulumi_random as random


class ClusterSecrets(pulumi.ComponentResource):
    token: pulumi.Output[str]
    token_id: pulumi.Output[str]
    token_secret: pulumi.Output[str]
    certificate_key: pulumi.Output[str]
    encryption_key: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-platform:kubeadm:ClusterSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Bootstrap tokens are [a-z0-9]{6}.[a-z0-9]{16}; RandomPassword keeps `result` secret.
        token_id = random.RandomPassword(
            f"{name}-token-id", length=6, upper=False, special=False, opts=child
        )
        token_secret = random.RandomPassword(
            f"{name}-token-secret", length=16, upper=False, special=False, opts=child
        )
        # kubeadm's --certificate-key: 32 random bytes, hex-encoded (AES-256).
        certificate_key = random.RandomBytes(f"{name}-certificate-key", length=32, opts=child)
        # The secretbox key of the EncryptionConfiguration: 32 bytes, base64-encoded.
        encryption_key = random.RandomBytes(f"{name}-encryption-key", length=32, opts=child)
        self.token_id = token_id.result
        self.token_secret = token_secret.result
        self.token = pulumi.Output.concat(token_id.result, ".", token_secret.result)
        self.certificate_key = certificate_key.hex
        self.encryption_key = encryption_key.base64
        self.register_outputs({})
