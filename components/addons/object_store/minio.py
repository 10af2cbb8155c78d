"""MinIO as the object store, for labs without Ceph: a distributed MinIO (a StatefulSet of
`servers` pods, one volume each, erasure-coded across them) on the storage hosts, and per
consumer a bucket, a MinIO user whose policy names only that bucket, and a Secret with the
user's keys in the consumer's namespace.

MinIO's community edition is unmaintained: the project distributes source only since
RELEASE.2025-10-15T17-29-55Z and marks the repository "no longer maintained"
(minio/minio@7aac2a2c:README.md, February 2026). The image is the last one published,
RELEASE.2025-09-07T16-13-09Z, pinned by digest from quay.io; it does not have the fix for
GHSA-jjjj-jwhf-8rgr (CVE-2025-62506, privilege escalation through service accounts with
session policies), which shipped only in the source release. docs/platform.md says so.

Buckets, users and policies are made by a Job per bucket with the `mc` client the MinIO image
carries (minio/minio@RELEASE.2025-09-07T16-13-09Z:Dockerfile.release copies mc to /usr/bin);
keys reach `mc` through the environment and stdin, never its command line: `MC_HOST_<alias>`
holds the root credentials, and `mc admin user add ALIAS` with no keys reads both from stdin
when stdin is not a terminal (minio/mc@RELEASE.2025-08-13T08-35-41Z:cmd/admin-user-add.go,
fetchUserKeys). `mc admin policy attach` accepts an attachment that exists
(cmd/admin-policy-attach.go, errCodeChangeAlreadyApplied) and `mc ilm rule import` replaces
the bucket's lifecycle (cmd/ilm-rule-import.go), so a Job run again changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components import versions
from components.addons.helm import RESTRICTED, namespace
from components.addons.object_store.common import (
    BucketPolicy,
    bucket_name,
    credentials_secret,
    lifecycle_rules,
    secret_name,
)
from model.services import BucketAccess

NAMESPACE = "minio"
ROOT_SECRET = "minio-root"
API_PORT = 9000
CONSOLE_PORT = 9001
HEADLESS = "minio-hl"
ENDPOINT = f"http://minio.{NAMESPACE}.svc:{API_PORT}"
# MinIO signs for this region unless configured otherwise.
REGION = "us-east-1"
# MinIO's unprivileged user in the image's conventions.
USER_ID = 1000
LABELS = {"app.kubernetes.io/name": "minio", "app.kubernetes.io/part-of": "ml-platform"}

# Runs in the bucket Job; every value comes from the environment.
PROVISION_SCRIPT = """\
set -eu
export MC_HOST_platform="http://${MINIO_ROOT_USER}:${MINIO_ROOT_PASSWORD}@minio:9000"
until mc admin info platform >/dev/null 2>&1; do
    echo "waiting for MinIO"
    sleep 5
done
mc mb --ignore-existing "platform/${BUCKET}"
if [ "${VERSIONED}" = true ]; then
    mc version enable "platform/${BUCKET}"
fi
printf '%s' "${LIFECYCLE}" | mc ilm rule import "platform/${BUCKET}"
printf '%s' "${POLICY}" >/tmp/policy.json
mc admin policy create platform "${BUCKET}" /tmp/policy.json
printf '%s\\n%s\\n' "${ACCESS_KEY}" "${SECRET_KEY}" | mc admin user add platform
mc admin policy attach platform "${BUCKET}" --user "${ACCESS_KEY}"
"""


@dataclass(frozen=True)
class MinioArgs:
    bucket_prefix: str
    noncurrent_days: int
    servers: int
    volume_size: str
    storage_class: str | None
    # Node names of the hosts with storage devices: the servers go there when there are
    # enough of them, one per host.
    storage_nodes: tuple[str, ...]
    depends_on: Sequence[pulumi.Resource]


def restricted_container() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": USER_ID,
        "runAsGroup": USER_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def server_urls(servers: int) -> str:
    """MinIO's expansion notation for the servers' volumes, one per pod."""
    return f"http://minio-{{0...{servers - 1}}}.{HEADLESS}.{NAMESPACE}.svc.cluster.local/data"


def affinity(args: MinioArgs) -> dict:
    spread = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": LABELS}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    if len(args.storage_nodes) >= args.servers:
        spread["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/hostname",
                                "operator": "In",
                                "values": list(args.storage_nodes),
                            }
                        ]
                    }
                ]
            }
        }
    return spread


def statefulset_spec(args: MinioArgs) -> dict:
    env = [
        {
            "name": key,
            "valueFrom": {"secretKeyRef": {"name": ROOT_SECRET, "key": key}},
        }
        for key in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD")
    ]
    env += [
        # Prometheus scrapes /minio/v2/metrics/cluster without a token.
        {"name": "MINIO_PROMETHEUS_AUTH_TYPE", "value": "public"},
        {"name": "HOME", "value": "/tmp"},
    ]
    probe = {"port": API_PORT, "scheme": "HTTP"}
    claim: dict = {
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": args.volume_size}},
        },
    }
    if args.storage_class:
        claim["spec"]["storageClassName"] = args.storage_class
    return {
        "serviceName": HEADLESS,
        "replicas": args.servers,
        # Distributed MinIO starts only with all its servers up, so they start together.
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": LABELS},
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "fsGroup": USER_ID,
                    "fsGroupChangePolicy": "OnRootMismatch",
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "affinity": affinity(args),
                "containers": [
                    {
                        "name": "minio",
                        "image": versions.MINIO_IMAGE,
                        "command": ["minio"],
                        "args": [
                            "server",
                            "--address",
                            f":{API_PORT}",
                            "--console-address",
                            f":{CONSOLE_PORT}",
                            server_urls(args.servers),
                        ],
                        "env": env,
                        "ports": [
                            {"name": "api", "containerPort": API_PORT},
                            {"name": "console", "containerPort": CONSOLE_PORT},
                        ],
                        "readinessProbe": {
                            "httpGet": {"path": "/minio/health/ready", **probe},
                            "periodSeconds": 10,
                        },
                        "livenessProbe": {
                            "httpGet": {"path": "/minio/health/live", **probe},
                            "periodSeconds": 20,
                            "failureThreshold": 6,
                        },
                        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}},
                        "securityContext": restricted_container(),
                        "volumeMounts": [
                            {"name": "data", "mountPath": "/data"},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
        "volumeClaimTemplates": [claim],
    }


def user_policy(bucket: str) -> str:
    statements = [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation",
                       "s3:ListBucketMultipartUploads"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
                       "s3:DeleteObjectVersion", "s3:AbortMultipartUpload",
                       "s3:ListMultipartUploadParts"],
            "Resource": [f"arn:aws:s3:::{bucket}/*"],
        },
    ]  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def provision_job_spec(bucket: str, policy: BucketPolicy, keys_secret: str) -> dict:
    def from_secret(name: str, secret: str, key: str) -> dict:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}

    env = [
        from_secret("MINIO_ROOT_USER", ROOT_SECRET, "MINIO_ROOT_USER"),
        from_secret("MINIO_ROOT_PASSWORD", ROOT_SECRET, "MINIO_ROOT_PASSWORD"),
        from_secret("ACCESS_KEY", keys_secret, "AWS_ACCESS_KEY_ID"),
        from_secret("SECRET_KEY", keys_secret, "AWS_SECRET_ACCESS_KEY"),
        {"name": "BUCKET", "value": bucket},
        {"name": "VERSIONED", "value": "true" if policy.versioned else "false"},
        {"name": "LIFECYCLE", "value": json.dumps({"Rules": lifecycle_rules(policy)})},
        {"name": "POLICY", "value": user_policy(bucket)},
        {"name": "HOME", "value": "/tmp"},
        {"name": "MC_CONFIG_DIR", "value": "/tmp/.mc"},
    ]
    return {
        "backoffLimit": 6,
        # Waiting for a fresh MinIO included.
        "activeDeadlineSeconds": 1800,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/part-of": "ml-platform"}},
            "spec": {
                "restartPolicy": "OnFailure",
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "mc",
                        "image": versions.MINIO_IMAGE,
                        "command": ["/bin/sh", "-c", PROVISION_SCRIPT],
                        "env": env,
                        "securityContext": restricted_container(),
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    }


class MinioStore(pulumi.ComponentResource):
    """The object store on MinIO; `bucket()` is the ObjectStore contract."""

    def __init__(
        self, name: str, args: MinioArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:MinioStore", name, None, opts)
        self._args = args
        self.endpoint = ENDPOINT
        # MinIO runs as an unprivileged user with no host access.
        self.namespace = namespace(NAMESPACE, RESTRICTED, self, args.depends_on)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        self.root_password = random.RandomPassword(
            f"{name}-root-password", length=40, special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )  # fmt: skip
        root = kubernetes.core.v1.Secret(
            f"{name}-root",
            metadata={"name": ROOT_SECRET, "namespace": NAMESPACE},
            string_data={
                "MINIO_ROOT_USER": "platform-admin",
                "MINIO_ROOT_PASSWORD": self.root_password.result,
            },
            opts=in_namespace,
        )
        for service, headless in (("minio", False), (HEADLESS, True)):
            spec: dict = {
                "selector": LABELS,
                "ports": [
                    {"name": "api", "port": API_PORT, "targetPort": API_PORT},
                    {"name": "console", "port": CONSOLE_PORT, "targetPort": CONSOLE_PORT},
                ],
            }
            if headless:
                # The servers find each other by name before any of them is ready.
                spec.update(clusterIP="None", publishNotReadyAddresses=True)
            kubernetes.core.v1.Service(
                f"{name}-{service}",
                metadata={"name": service, "namespace": NAMESPACE, "labels": LABELS},
                spec=spec,
                opts=in_namespace,
            )
        kubernetes.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": "minio", "namespace": NAMESPACE},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": LABELS}},
            opts=in_namespace,
        )
        # Pulumi waits for every replica to be ready: the servers have formed the cluster.
        self.servers = kubernetes.apps.v1.StatefulSet(
            f"{name}-servers",
            metadata={"name": "minio", "namespace": NAMESPACE, "labels": LABELS},
            spec=statefulset_spec(args),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[root],
                custom_timeouts=pulumi.CustomTimeouts(create="20m", update="20m"),
            ),
        )
        self.register_outputs({"endpoint": ENDPOINT})

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
        child = pulumi.ResourceOptions(parent=owner)
        # The user's name is its access key; kept secret like the secret key.
        access_key = random.RandomPassword(
            f"{consumer}-bucket-access-key", length=20, special=False, lower=False, opts=child
        )
        secret_key = random.RandomPassword(
            f"{consumer}-bucket-secret-key", length=40, special=False, opts=child
        )
        # The keys twice: for the Job here, and for the consumer in its namespace.
        keys = credentials_secret(
            f"{consumer}-bucket-minio-keys",
            f"{consumer}-user",
            NAMESPACE,
            access_key.result,
            secret_key.result,
            {},
            owner,
            [self.namespace],
        )
        policy = BucketPolicy(versioned, expire_after_days, args.noncurrent_days)
        job = kubernetes.batch.v1.Job(
            f"{consumer}-bucket-provision",
            metadata={"name": f"bucket-{consumer}", "namespace": NAMESPACE},
            spec=provision_job_spec(name, policy, secret_name(f"{consumer}-user")),
            opts=pulumi.ResourceOptions(
                parent=owner,
                depends_on=[self.servers, keys],
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m"),
            ),
        )
        extra = {endpoint_key: ENDPOINT} if endpoint_key else {}
        secret = credentials_secret(
            f"{consumer}-bucket-credentials",
            consumer,
            namespace,
            access_key.result,
            secret_key.result,
            extra,
            owner,
            depends_on,
        )
        return BucketAccess(
            endpoint=ENDPOINT,
            region=REGION,
            bucket=name,
            namespace=namespace,
            secret_name=secret_name(consumer),
            ready=[job, secret],
        )
