"""What the three object stores share: bucket names, lifecycle rules, the consumer's Secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from model.services import ACCESS_KEY_ID, SECRET_ACCESS_KEY

# Incomplete multipart uploads (an interrupted artifact upload) are dropped after a week.
ABORT_UPLOADS_AFTER_DAYS = 7


@dataclass(frozen=True)
class BucketPolicy:
    """How long a bucket keeps what it holds."""

    versioned: bool
    expire_after_days: int | None
    # Days overwritten and deleted objects stay in a versioned bucket.
    noncurrent_days: int


def bucket_name(prefix: str, consumer: str) -> str:
    """`<prefix>-<consumer>`: the prefix is checked as the start of an S3 name (at most 40
    characters), consumers are the platform's own short names."""
    name = f"{prefix}-{consumer}"
    if len(name) > 63:
        raise ValueError(f"bucket name {name} is longer than S3's 63 characters")
    return name


def secret_name(consumer: str) -> str:
    return f"{consumer}-bucket"


def lifecycle_rules(policy: BucketPolicy) -> list[dict[str, Any]]:
    """The bucket's lifecycle as S3's JSON rules (the form RGW, MinIO's `mc ilm rule import`
    and AWS all read), sorted by ID: Rook applies them idempotently only then
    (rook/rook@v1.20.6:Documentation/Storage-Configuration/Object-Storage-RGW/
    ceph-object-bucket-claim.md, `bucketLifecycle`)."""
    rules: list[dict[str, Any]] = [
        {
            "ID": "abort-incomplete-uploads",
            "Status": "Enabled",
            "Prefix": "",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_UPLOADS_AFTER_DAYS},
        }
    ]
    if policy.expire_after_days:
        rules.append(
            {
                "ID": "expire",
                "Status": "Enabled",
                "Prefix": "",
                "Expiration": {"Days": policy.expire_after_days},
            }
        )
    if policy.versioned:
        rules.append(
            {
                "ID": "expire-noncurrent",
                "Status": "Enabled",
                "Prefix": "",
                "NoncurrentVersionExpiration": {"NoncurrentDays": policy.noncurrent_days},
            }
        )
    return sorted(rules, key=lambda rule: rule["ID"])


def credentials_secret(
    resource_name: str,
    consumer: str,
    namespace: str,
    access_key_id: pulumi.Input[str],
    secret_access_key: pulumi.Input[str],
    extra: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> kubernetes.core.v1.Secret:
    """The consumer's Secret in its namespace: its own keys and nothing else, both secret in
    the program and in the state (an access key id is an account name an attacker needs)."""
    return kubernetes.core.v1.Secret(
        resource_name,
        metadata={
            "name": secret_name(consumer),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "ml-platform"},
        },
        type="Opaque",
        string_data={
            ACCESS_KEY_ID: pulumi.Output.secret(access_key_id),
            SECRET_ACCESS_KEY: pulumi.Output.secret(secret_access_key),
            **extra,
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
