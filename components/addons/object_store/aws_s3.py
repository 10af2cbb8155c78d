"""AWS S3 as the object store: per consumer, a bucket the program creates (private, encrypted,
TLS only, versioned where backups go, with lifecycle rules) and an IAM user whose only rights
are on that bucket, its access key delivered as a Secret in the consumer's namespace. Pods do
not use the nodes' instance roles, which hold no S3 rights.

The buckets are made here, in the add-on, with the AWS provider of the stack's region (from
the inventory), rather than by the AWS layer: which buckets exist follows which consumers are
enabled, a platform matter the AWS layer would otherwise have to know, and the bucket, its
user and the Secret that hands the key over live and die together in one component.

A bucket is kept when its consumer or the whole stack goes (`retain_on_delete`): its data is
not the program's to destroy; docs/operations/backup-restore.md says how to remove one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.addons.object_store.common import (
    BucketPolicy,
    bucket_name,
    credentials_secret,
    lifecycle_rules,
    secret_name,
)
from model.services import BucketAccess

# The IAM path of the platform's bucket users (keeps them apart in the account).
USER_PATH = "/ml-platform/"


@dataclass(frozen=True)
class AwsS3Args:
    bucket_prefix: str
    noncurrent_days: int
    region: str
    cluster_name: str
    provider: pulumi.ProviderResource
    depends_on: Sequence[pulumi.Resource]


def endpoint(region: str) -> str:
    return f"https://s3.{region}.amazonaws.com"


def user_policy(bucket_arn: str) -> str:
    """What a consumer may do: list its bucket and read, write and delete its objects (also
    their versions and multipart uploads); nothing on any other bucket or on the bucket's
    configuration."""
    statements = [
        {
            "Effect": "Allow",
            "Action": [
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:ListBucketMultipartUploads",
                "s3:GetBucketLocation",
            ],
            "Resource": bucket_arn,
        },
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": f"{bucket_arn}/*",
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def tls_only_policy(bucket_arn: str) -> str:
    statement = {
        "Sid": "DenyPlainHttp",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def aws_lifecycle(policy: BucketPolicy) -> list[dict]:
    """The lifecycle rules in the provider's shape."""
    rules = []
    for rule in lifecycle_rules(policy):
        converted: dict = {"id": rule["ID"], "status": "Enabled", "filter": {"prefix": ""}}
        if "AbortIncompleteMultipartUpload" in rule:
            days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            converted["abort_incomplete_multipart_upload"] = {"days_after_initiation": days}
        if "Expiration" in rule:
            converted["expiration"] = {"days": rule["Expiration"]["Days"]}
        if "NoncurrentVersionExpiration" in rule:
            days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
            converted["noncurrent_version_expiration"] = {"noncurrent_days": days}
        rules.append(converted)
    return rules


class AwsS3Store(pulumi.ComponentResource):
    """The object store on AWS S3; `bucket()` is the ObjectStore contract."""

    def __init__(
        self, name: str, args: AwsS3Args, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:AwsS3Store", name, None, opts)
        self._args = args
        self.endpoint = endpoint(args.region)
        self.register_outputs({"endpoint": self.endpoint})

    def bucket(
        self,
        consumer: str,
        namespace: str,
        *,
        versioned: bool = False,
        expire_after_days: int | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        endpoint_key: str | None = None,
        parent: pulumi.Resource | None = None,
    ) -> BucketAccess:
        owner = parent or self
        args = self._args
        name = bucket_name(args.bucket_prefix, consumer)
        tags = {"ml-platform/cluster": args.cluster_name, "ml-platform/consumer": consumer}
        cloud = pulumi.ResourceOptions(parent=owner, provider=args.provider)
        bucket = aws.s3.Bucket(
            f"{consumer}-bucket",
            bucket=name,
            force_destroy=False,
            tags=tags,
            opts=pulumi.ResourceOptions.merge(cloud, pulumi.ResourceOptions(retain_on_delete=True)),
        )
        on_bucket = pulumi.ResourceOptions.merge(cloud, pulumi.ResourceOptions(parent=bucket))
        settings: list[pulumi.Resource] = [
            aws.s3.BucketPublicAccessBlock(
                f"{consumer}-bucket-private",
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
                opts=on_bucket,
            ),
            aws.s3.BucketOwnershipControls(
                f"{consumer}-bucket-ownership",
                bucket=bucket.id,
                rule={"object_ownership": "BucketOwnerEnforced"},
                opts=on_bucket,
            ),
            aws.s3.BucketServerSideEncryptionConfiguration(
                f"{consumer}-bucket-encryption",
                bucket=bucket.id,
                rules=[
                    {
                        "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                        "bucket_key_enabled": True,
                    }
                ],
                opts=on_bucket,
            ),
            aws.s3.BucketPolicy(
                f"{consumer}-bucket-tls-only",
                bucket=bucket.id,
                policy=bucket.arn.apply(tls_only_policy),
                opts=on_bucket,
            ),
        ]
        policy = BucketPolicy(versioned, expire_after_days, args.noncurrent_days)
        versioning = None
        if versioned:
            versioning = aws.s3.BucketVersioning(
                f"{consumer}-bucket-versioning",
                bucket=bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=on_bucket,
            )
            settings.append(versioning)
        settings.append(
            aws.s3.BucketLifecycleConfiguration(
                f"{consumer}-bucket-lifecycle",
                bucket=bucket.id,
                rules=aws_lifecycle(policy),
                # AWS refuses noncurrent-version rules before versioning is on.
                opts=pulumi.ResourceOptions.merge(
                    on_bucket,
                    pulumi.ResourceOptions(depends_on=[versioning] if versioning else []),
                ),
            )
        )
        user = aws.iam.User(
            f"{consumer}-bucket-user",
            name=f"{args.cluster_name}-{consumer}",
            path=USER_PATH,
            tags=tags,
            opts=cloud,
        )
        aws.iam.UserPolicy(
            f"{consumer}-bucket-user-policy",
            user=user.name,
            policy=bucket.arn.apply(user_policy),
            opts=pulumi.ResourceOptions.merge(cloud, pulumi.ResourceOptions(parent=user)),
        )
        key = aws.iam.AccessKey(
            f"{consumer}-bucket-key",
            user=user.name,
            opts=pulumi.ResourceOptions.merge(
                cloud,
                pulumi.ResourceOptions(parent=user, additional_secret_outputs=["secret"]),
            ),
        )
        extra = {endpoint_key: self.endpoint} if endpoint_key else {}
        secret = credentials_secret(
            f"{consumer}-bucket-credentials",
            consumer,
            namespace,
            key.id,
            key.secret,
            extra,
            owner,
            depends_on,
        )
        return BucketAccess(
            endpoint=self.endpoint,
            region=args.region,
            bucket=bucket.bucket,
            namespace=namespace,
            secret_name=secret_name(consumer),
            ready=[*settings, secret],
        )
