"""Off-host etcd backups: the snapshots each control plane takes (the kubeadm layer's
`etcd-snapshot` timer, daily, kept `kubernetes.etcdSnapshotRetentionDays` on the host) are
shipped, encrypted, to a bucket of the object store and kept there `retentionDays`.

A CronJob per control plane, pinned to it, reads the host's snapshot directory read-only and
copies what the bucket does not have yet with rclone through a crypt remote, so the snapshots
are encrypted before they leave the host whatever the store (RGW has no server-side
encryption without a KMS; S3 encrypts as well). An in-cluster job rather than a tool on the
hosts: nothing is installed on the control planes, the image is pinned like every other, its
credentials are the bucket's Secret and never reach a host's disk, failures show as Jobs and
alerts. Until the object store exists (a new cluster's first `pulumi up`) the snapshots simply
stay on the hosts; the first run after it exists ships them all.

The passphrase is generated, kept in the stack's secrets (output `etcdBackupPassphrase`: a
restore needs it when the cluster is gone) and reaches rclone on stdin (`rclone obscure -`,
rclone/rclone@v1.75.0:cmd/obscure/obscure.go), then its environment; rclone reads a remote
from RCLONE_CONFIG_<REMOTE>_<OPTION> variables (docs/content/docs.md) and the s3 backend's
keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY with `env_auth` (backend/s3/s3.go).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import CONTROL_PLANE_TOLERATION, PRIVILEGED, namespace
from model.fields import Fields
from model.formats import CRON
from model.inventory import Host
from model.services import ACCESS_KEY_ID, SECRET_ACCESS_KEY, BucketAccess, ObjectStore
from model.settings import Context, setting

NAMESPACE = "etcd-backups"
CONSUMER = "etcd-snapshots"
PASSPHRASE_SECRET = "etcd-backup-encryption"
# Where the kubeadm layer's timer writes the snapshots on each control plane
# (components/kubeadm/scripts/etcd-snapshot.sh, SNAPSHOT_DIR; a test keeps the two equal).
SNAPSHOT_DIR = "/var/lib/ml-platform/etcd-snapshots"
# Objects are `etcd/<host>/<encrypted name>` in the bucket.
PREFIX = "etcd"

# Runs in the shipping Job; every value comes from the environment.
SHIP_SCRIPT = """\
set -eu
export RCLONE_CONFIG_STORE_TYPE=s3
export RCLONE_CONFIG_STORE_PROVIDER="${STORE_PROVIDER}"
export RCLONE_CONFIG_STORE_ENV_AUTH=true
export RCLONE_CONFIG_STORE_ENDPOINT="${STORE_ENDPOINT}"
export RCLONE_CONFIG_STORE_REGION="${STORE_REGION}"
export RCLONE_CONFIG_STORE_NO_CHECK_BUCKET=true
export RCLONE_CONFIG_SNAPSHOTS_TYPE=crypt
export RCLONE_CONFIG_SNAPSHOTS_REMOTE="store:${BUCKET}/${PREFIX}/${HOST}"
RCLONE_CONFIG_SNAPSHOTS_PASSWORD=$(printf '%s\\n' "${PASSPHRASE}" | rclone obscure -)
export RCLONE_CONFIG_SNAPSHOTS_PASSWORD
unset PASSPHRASE
# Finished snapshots only (etcdctl writes <name>.part first); what is there already stays.
rclone copy /snapshots snapshots: --include 'etcd-*.db' --ignore-existing --stats-one-line -v
"""


@dataclass(frozen=True, kw_only=True)
class EtcdBackupSettings:
    enabled: bool = setting(
        "enabled", True, doc="ship the control planes' etcd snapshots to the object store"
    )
    schedule: str = setting(
        "schedule",
        "17 * * * *",
        format=CRON,
        doc="when each control plane ships new snapshots (they are taken daily)",
    )
    retention_days: int = setting(
        "retentionDays", 30, minimum=1, doc="days the object store keeps a snapshot"
    )


def _check(
    settings: EtcdBackupSettings, section: Fields, _context: Context, others: Mapping[str, Any]
) -> None:
    if settings.enabled and others["object-store"].provider == "none":
        section.bad(
            "enabled",
            "etcd snapshots are shipped to the object store, but objectStore.provider is none",
            "choose an object-store provider, or set etcdBackups.enabled: false (snapshots then "
            "stay on the control planes only)",
        )


def store_provider(endpoint: str) -> str:
    """rclone's s3 provider: `AWS` for AWS's endpoints (virtual-hosted style), else `Other`
    (path style, what RGW and MinIO serve)."""
    host = urlsplit(endpoint).hostname or ""
    return "AWS" if host.endswith(".amazonaws.com") else "Other"


def job_name(host: Host) -> str:
    return "ship-" + re.sub(r"[^a-z0-9-]", "-", host.name.lower())[:50]


def cronjob_spec(
    schedule: str, node_name: pulumi.Input[str], host: str, access: BucketAccess
) -> dict[str, Any]:
    def from_secret(name: str, secret: str, key: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}

    env = [
        from_secret("AWS_ACCESS_KEY_ID", access.secret_name, ACCESS_KEY_ID),
        from_secret("AWS_SECRET_ACCESS_KEY", access.secret_name, SECRET_ACCESS_KEY),
        from_secret("PASSPHRASE", PASSPHRASE_SECRET, "passphrase"),
        {"name": "STORE_ENDPOINT", "value": access.endpoint},
        {"name": "STORE_PROVIDER", "value": pulumi.Output.from_input(access.endpoint).apply(
            store_provider)},
        {"name": "STORE_REGION", "value": access.region},
        {"name": "BUCKET", "value": access.bucket},
        {"name": "PREFIX", "value": PREFIX},
        {"name": "HOST", "value": host},
        {"name": "HOME", "value": "/config"},
        {"name": "XDG_CONFIG_HOME", "value": "/config"},
    ]  # fmt: skip
    container = {
        "name": "ship",
        "image": versions.RCLONE_IMAGE,
        "command": ["/bin/sh", "-c", SHIP_SCRIPT],
        "env": env,
        # Root, to read the 0600 snapshots root owns (as their owner: no capability needed).
        "securityContext": {
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "snapshots", "mountPath": "/snapshots", "readOnly": True},
            {"name": "config", "mountPath": "/config"},
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
    }
    pod = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "nodeSelector": {"kubernetes.io/hostname": node_name},
        "tolerations": [CONTROL_PLANE_TOLERATION],
        "containers": [container],
        "volumes": [
            {"name": "snapshots", "hostPath": {"path": SNAPSHOT_DIR, "type": "Directory"}},
            {"name": "config", "emptyDir": {}},
        ],
    }
    return {
        "schedule": schedule,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 3600,
        "successfulJobsHistoryLimit": 1,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": 3600,
                "template": {"spec": pod},
            }
        },
    }


def alert_rules() -> list[dict[str, Any]]:
    """A control plane whose snapshots have not reached the store for a day and more."""
    return [
        {
            "name": "etcd-backups",
            "rules": [
                {
                    "alert": "EtcdSnapshotsNotShipped",
                    # Last success over 26 hours ago, or none in the 26 hours since it was made
                    # (kube-state-metrics: kube_cronjob_status_last_successful_time appears
                    # with the first success).
                    "expr": (
                        f'time() - kube_cronjob_status_last_successful_time{{namespace="{NAMESPACE}"}}'
                        " > 26 * 3600 or (time() - kube_cronjob_created"
                        f'{{namespace="{NAMESPACE}"}} > 26 * 3600 unless on(namespace, cronjob) '
                        f'kube_cronjob_status_last_successful_time{{namespace="{NAMESPACE}"}})'
                    ),
                    "for": "1h",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "no etcd snapshot shipped by {{ $labels.cronjob }} for over a day"
                    },
                }
            ],
        }
    ]


@dataclass(frozen=True)
class EtcdBackupArgs:
    settings: EtcdBackupSettings
    control_planes: Sequence[Host]
    object_store: ObjectStore
    monitoring: bool
    # The object store (and the Prometheus CRDs, for the alert).
    depends_on: Sequence[pulumi.Resource]


class EtcdBackups(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: EtcdBackupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:EtcdBackups", name, None, opts)
        # The Jobs read a host directory (hostPath), which no level below privileged admits;
        # they run as root only to read root's 0600 snapshots, with every capability dropped.
        ns = namespace(NAMESPACE, PRIVILEGED, self, args.depends_on)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        self.passphrase = random.RandomPassword(
            f"{name}-passphrase", length=48, special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )  # fmt: skip
        passphrase = kubernetes.core.v1.Secret(
            f"{name}-encryption",
            metadata={"name": PASSPHRASE_SECRET, "namespace": NAMESPACE},
            string_data={"passphrase": self.passphrase.result},
            opts=in_namespace,
        )
        settings = args.settings
        self.access = args.object_store.bucket(
            CONSUMER, NAMESPACE, versioned=True, expire_after_days=settings.retention_days,
            depends_on=[ns], parent=self,
        )  # fmt: skip
        for host in args.control_planes:
            kubernetes.batch.v1.CronJob(
                f"{name}-{job_name(host)}",
                metadata={"name": job_name(host), "namespace": NAMESPACE},
                spec=cronjob_spec(
                    settings.schedule, host.node_name or host.name, host.name, self.access
                ),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[passphrase, *self.access.ready]
                ),
            )
        if args.monitoring:
            kubernetes.apiextensions.CustomResource(
                f"{name}-alerts",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={"name": "etcd-backups", "namespace": NAMESPACE},
                spec={"groups": alert_rules()},
                opts=in_namespace,
            )
        self.register_outputs({})


def _deploy(settings: EtcdBackupSettings, context: AddonContext) -> Deployed:
    args = EtcdBackupArgs(
        settings,
        context.inventory.control_planes,
        context.deployed["object-store"].component,
        context.enabled("monitoring"),
        context.depends_on,
    )
    backups = EtcdBackups("etcd-backups", args, context.opts)
    return Deployed(
        backups,
        {
            "etcdBackupPassphrase": backups.passphrase.result,
            "etcdBackupBucket": backups.access.url,
        },
    )


ADDON: Addon[EtcdBackupSettings] = Addon(
    name="etcd-backups",
    summary="the control planes' etcd snapshots shipped, encrypted, to the object store",
    deploy=_deploy,
    settings=EtcdBackupSettings,
    section="etcdBackups",
    namespaces=("etcd-backups",),
    # Its bucket; the alert's PrometheusRule CRD.
    needs=("object-store", "prometheus-crds"),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled`",
    check=_check,
)
