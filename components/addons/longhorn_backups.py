"""Longhorn's backups into the object store: a bucket of its own (versioned where the store
can) and Longhorn's default BackupTarget pointed at it. An add-on of its own because the
object store needs Longhorn's volumes first (MinIO's servers run on them); backing Longhorn up
into a MinIO on Longhorn protects against deleted or corrupted volumes, not against losing
Longhorn itself: for that, use an object store outside the cluster (docs/platform.md).

Upstream facts (longhorn/longhorn-manager@v1.12.1): the manager creates the BackupTarget
`default` at start and, when its ConfigMap `longhorn-default-resource` changes, rewrites only
the fields that ConfigMap sets, keeping the others (datastore/longhorn.go,
syncDefaultBackupTargetResourceWithCustomizedParameters); this add-on sets the URL, the
credential Secret and the poll interval on that object by server-side apply, forcing its
fields over the manager's. The URL is `s3://<bucket>@<region>/`; the credential Secret holds
the bucket's keys and, for stores other than AWS, AWS_ENDPOINTS
(longhorn/longhorn@v1.12.1:chart/values.yaml, defaultBackupStore).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.storage.longhorn import NAMESPACE
from model.services import ObjectStore

CONSUMER = "longhorn-backups"
ENDPOINTS_KEY = "AWS_ENDPOINTS"
POLL_INTERVAL = "300s"


@dataclass(frozen=True)
class LonghornBackupsArgs:
    object_store: ObjectStore
    # Longhorn (its namespace, CRDs and default BackupTarget) and the object store.
    depends_on: Sequence[pulumi.Resource]


class LonghornBackups(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: LonghornBackupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:LonghornBackups", name, None, opts)
        bucket = args.object_store.bucket(
            CONSUMER, NAMESPACE, versioned=True, depends_on=list(args.depends_on),
            endpoint_key=ENDPOINTS_KEY, parent=self,
        )  # fmt: skip
        self.target = kubernetes.apiextensions.CustomResourcePatch(
            f"{name}-target",
            api_version="longhorn.io/v1beta2",
            kind="BackupTarget",
            metadata={
                "name": "default",
                "namespace": NAMESPACE,
                "annotations": {"pulumi.com/patchForce": "true"},
            },
            spec={
                "backupTargetURL": pulumi.Output.concat(
                    "s3://", bucket.bucket, "@", bucket.region, "/"
                ),
                "credentialSecret": bucket.secret_name,
                "pollInterval": POLL_INTERVAL,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, *bucket.ready]),
        )
        self.register_outputs({})


def _deploy(_settings: None, context: AddonContext) -> Deployed:
    store = context.deployed["object-store"].component
    args = LonghornBackupsArgs(store, context.depends_on)
    return Deployed(LonghornBackups("longhorn-backups", args, context.opts))


ADDON: Addon[None] = Addon(
    name="longhorn-backups",
    summary="Longhorn's volume backups into a bucket of the object store",
    deploy=_deploy,
    needs=("storage", "object-store"),
    applies=lambda settings: (
        settings["storage"].provider == "longhorn" and settings["object-store"].provider != "none"
    ),
    when="where storage `provider` is `longhorn` and there is an object store",
)
