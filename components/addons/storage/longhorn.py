"""Longhorn on the hosts' own disks, for labs without spare devices for Ceph: every volume
replicated on three distinct nodes under a directory of the hosts (`dataPath`), and the
default StorageClass. Its UI (`longhorn_ui`) and its backups (`longhorn_backups`) are add-ons
of their own: they wait for Traefik and the object store, which in turn need volumes.

ReadWriteMany volumes come from the same class through Longhorn's share manager: one NFSv4
server pod per volume exporting a replicated block volume (hosts need the NFS client). It is
not a distributed file system like CephFS: all traffic of a volume goes through that one pod,
and if its node fails the volume is unavailable until the pod is recreated elsewhere.

Upstream facts (longhorn/longhorn@v1.12.1:chart/values.yaml): `persistence.*` shapes the
StorageClass `longhorn` the chart creates; `defaultSettings.*` are written to Longhorn's
settings at install and upgrade (`defaultReplicaCount` as JSON per data engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import versions
from components.addons.helm import PRIVILEGED, namespace, release

NAMESPACE = "longhorn-system"
STORAGE_CLASS = "longhorn"
# The UI's Service (longhorn/longhorn@v1.12.1:chart/templates/services.yaml).
UI_SERVICE = "longhorn-frontend"


@dataclass(frozen=True)
class LonghornArgs:
    data_path: str
    replicas: int
    # The Prometheus CRDs: the chart ships a ServiceMonitor.
    depends_on: Sequence[pulumi.Resource]


def longhorn_values(args: LonghornArgs) -> dict[str, Any]:
    return {
        "persistence": {
            "defaultClass": True,
            "defaultClassReplicaCount": args.replicas,
            "defaultFsType": "ext4",
            "reclaimPolicy": "Delete",
        },
        "defaultSettings": {
            "defaultDataPath": args.data_path,
            # Volumes made in the UI get as many replicas as the class gives.
            "defaultReplicaCount": f'{{"v1":"{args.replicas}"}}',
            # Never two replicas of a volume on one node: losing a node loses one replica.
            "replicaSoftAntiAffinity": "false",
        },
        "metrics": {"serviceMonitor": {"enabled": True}},
    }


class Longhorn(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: LonghornArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Longhorn", name, None, opts)
        # The manager, CSI plugin and instance managers run privileged on every node (iSCSI,
        # mounts, the host's data path): no Pod Security level below privileged admits them.
        ns = namespace(NAMESPACE, PRIVILEGED, self, args.depends_on)
        self.release = release(
            "longhorn",
            versions.LONGHORN,
            ns,
            longhorn_values(args),
            self,
            timeout_seconds=1200,
            # Volumes and their replicas live in Longhorn's objects: never uninstall it
            # because an install or upgrade failed.
            stateful=True,
        )
        self.register_outputs({})
