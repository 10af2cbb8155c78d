"""Rook-Ceph on the hosts' spare devices. Rook 1.20 installs in three charts, in order: the
operator (with the ceph-csi-operator and the CRDs), the ceph-csi drivers, then the cluster
(CephCluster, a replicated block pool as the default StorageClass, CephFS for shared
volumes). Ceph's object store (RGW) belongs to the object-store add-on, which creates its
CephObjectStore itself and waits for it to be Ready."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import versions
from components.addons import admin
from components.addons.addon import AddonContext
from components.addons.helm import PRIVILEGED, namespace, release

ROOK_NAMESPACE = "rook-ceph"
BLOCK_POOL = "ceph-blockpool"
BLOCK_CLASS = "ceph-block"
FILESYSTEM_CLASS = "ceph-filesystem"
# Ceph's replicas sit on distinct hosts; three survive the loss of one.
REPLICAS = 3


@dataclass(frozen=True)
class StorageNode:
    node_name: str
    devices: tuple[str, ...]


@dataclass(frozen=True)
class RookCephArgs:
    nodes: tuple[StorageNode, ...]
    # The Prometheus CRDs: the cluster chart ships PrometheusRules.
    depends_on: Sequence[pulumi.Resource]
    # The storage hosts as nodes (their joins): the cluster's OSDs run on them.
    nodes_joined: Sequence[pulumi.Resource]
    # Where its gates and dashboards run from.
    context: AddonContext


def _csi_secrets(driver: str) -> dict[str, str]:
    """The StorageClass parameters naming the CSI secrets Rook creates (a list entry in the
    cluster chart replaces the default entry whole, so they are restated)."""
    provisioner, node = f"rook-csi-{driver}-provisioner", f"rook-csi-{driver}-node"
    parameters = {}
    for role, secret in (
        ("provisioner", provisioner),
        ("controller-expand", provisioner),
        ("controller-publish", provisioner),
        ("node-stage", node),
    ):
        parameters[f"csi.storage.k8s.io/{role}-secret-name"] = secret
        parameters[f"csi.storage.k8s.io/{role}-secret-namespace"] = ROOK_NAMESPACE
    return parameters


def rook_operator_values() -> dict[str, Any]:
    return {
        "crds": {"enabled": True},
        "monitoring": {"enabled": True},
        "csi": {"installCsiOperator": True},
        # Bucket claims may also set a lifecycle (old backups expire); bucket policies and
        # owners stay refused (rook/rook@v1.20.6:deploy/charts/rook-ceph/values.yaml, where
        # the chart's default allows only the quotas).
        "obcAllowAdditionalConfigFields": "maxObjects,maxSize,bucketLifecycle",
    }


def ceph_csi_drivers_values() -> dict[str, Any]:
    """Rook's recommended values: the chart's defaults name drivers Rook does not use."""
    every_node = {"tolerations": [{"operator": "Exists"}]}
    return {
        "operatorConfig": {
            "namespace": ROOK_NAMESPACE,
            "driverSpecDefaults": {
                "imageSet": {"name": "rook-csi-operator-image-set-configmap"},
                "nodePlugin": {"priorityClassName": "system-node-critical"},
                # Rook's values for this chart (rook/rook@v1.20.6:deploy/charts/
                # ceph-csi-drivers/values.yaml): provisioners are cluster-critical.
                "controllerPlugin": {"priorityClassName": "system-cluster-critical"},
            },
        },
        # Replicas and tolerations set per driver: the chart always writes them there, and
        # per-driver fields win over driverSpecDefaults.
        "drivers": {
            "rbd": {
                "enabled": True,
                "name": f"{ROOK_NAMESPACE}.rbd.csi.ceph.com",
                "controllerPlugin": {"replicas": 2},
                "nodePlugin": every_node,
            },
            "cephfs": {
                "enabled": True,
                "name": f"{ROOK_NAMESPACE}.cephfs.csi.ceph.com",
                "controllerPlugin": {"replicas": 2},
                "nodePlugin": every_node,
            },
            "nfs": {"enabled": False, "name": f"{ROOK_NAMESPACE}.nfs.csi.ceph.com"},
            "nvmeof": {"enabled": False, "name": f"{ROOK_NAMESPACE}.nvmeof.csi.ceph.com"},
        },
    }


def _replicated(failure_domain: bool = True) -> dict[str, Any]:
    pool: dict[str, Any] = {"replicated": {"size": REPLICAS}}
    if failure_domain:
        pool["failureDomain"] = "host"
    return pool


def rook_cluster_values(args: RookCephArgs) -> dict[str, Any]:
    nodes = [
        {"name": node.node_name, "devices": [{"name": device} for device in node.devices]}
        for node in args.nodes
    ]
    return {
        "operatorNamespace": ROOK_NAMESPACE,
        "cephImage": {
            "repository": versions.CEPH_IMAGE_REPOSITORY,
            "tag": versions.CEPH_IMAGE_TAG,
            "allowUnsupported": False,
        },
        "monitoring": {"enabled": True, "createPrometheusRules": True},
        "toolbox": {"enabled": True},
        "cephClusterSpec": {
            "dataDirHostPath": "/var/lib/rook",
            # AES keys until every node runs Linux 7.0 (Ubuntu 24.04 does not).
            "security": {"cephx": {"csi": {"keyType": "aes"}}},
            "mon": {"count": 3, "allowMultiplePerNode": False},
            "mgr": {"count": 2, "allowMultiplePerNode": False},
            "dashboard": {"enabled": True, "ssl": True},
            # Only the listed devices: Ceph wipes what it takes.
            "storage": {"useAllNodes": False, "useAllDevices": False, "nodes": nodes},
        },
        "cephBlockPools": [
            {
                "name": BLOCK_POOL,
                "spec": _replicated(),
                "storageClass": {
                    "enabled": True,
                    "name": BLOCK_CLASS,
                    "isDefault": True,
                    "reclaimPolicy": "Delete",
                    "allowVolumeExpansion": True,
                    "volumeBindingMode": "Immediate",
                    "parameters": {
                        "imageFormat": "2",
                        "imageFeatures": "layering",
                        "csi.storage.k8s.io/fstype": "ext4",
                        **_csi_secrets("rbd"),
                    },
                },
            }
        ],
        "cephFileSystems": [
            {
                "name": FILESYSTEM_CLASS,
                "spec": {
                    "metadataPool": _replicated(failure_domain=False),
                    "dataPools": [{"name": "data0", **_replicated()}],
                    # The chart's defaults for the MDS (a list entry replaces the default
                    # entry whole): rook/rook@v1.20.6:deploy/charts/rook-ceph-cluster/
                    # values.yaml, cephFileSystems[0].spec.metadataServer.
                    "metadataServer": {
                        "activeCount": 1,
                        "activeStandby": True,
                        "resources": {
                            "limits": {"memory": "4Gi"},
                            "requests": {"cpu": "1000m", "memory": "4Gi"},
                        },
                        "priorityClassName": "system-cluster-critical",
                    },
                },
                "storageClass": {
                    "enabled": True,
                    "isDefault": False,
                    "name": FILESYSTEM_CLASS,
                    "pool": "data0",
                    "reclaimPolicy": "Delete",
                    "allowVolumeExpansion": True,
                    "volumeBindingMode": "Immediate",
                    "parameters": {"csi.storage.k8s.io/fstype": "ext4", **_csi_secrets("cephfs")},
                },
            }
        ],
        # The chart's default would make an object store; the object-store add-on owns it.
        "cephObjectStores": [],
    }


def replicated_pool() -> dict[str, Any]:
    """A pool spec with three replicas on distinct hosts (the object store's pools too)."""
    return _replicated()


class RookCeph(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: RookCephArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:RookCeph", name, None, opts)
        # OSDs and CSI node plugins need host devices and mounts.
        ns = namespace(ROOK_NAMESPACE, PRIVILEGED, self, args.depends_on)
        # Stateful: its CRDs hold every Ceph object; a rolled back first install would take
        # them with it.
        operator = release(
            "rook-ceph", versions.ROOK_CEPH, ns, rook_operator_values(), self, stateful=True
        )
        drivers = release(
            "ceph-csi-drivers",
            versions.CEPH_CSI_DRIVERS,
            ns,
            ceph_csi_drivers_values(),
            self,
            depends_on=[operator],
        )
        # Its mons and OSDs run on the storage hosts: they must be nodes first. Stateful: a
        # failed first install must leave the mon stores and OSDs for the next run to finish,
        # not uninstall the CephCluster over them.
        values = rook_cluster_values(args)
        self.cluster = release(
            "rook-ceph-cluster",
            versions.ROOK_CEPH_CLUSTER,
            ns,
            values,
            self,
            depends_on=[drivers, *args.nodes_joined],
            timeout_seconds=1800,
            stateful=True,
        )
        # Helm's wait ends when the toolbox runs; the pools are Ready when Rook has created
        # them on running OSDs (rook/rook@v1.20.6:pkg/operator/ceph/pool/status.go sets
        # status.phase). Whatever needs a volume waits for these, through this component.
        revision = admin.revision(versions.ROOK_CEPH_CLUSTER, values)
        for kind, pool in (("cephblockpool", BLOCK_POOL), ("cephfilesystem", FILESYSTEM_CLASS)):
            admin.wait_for_status(
                f"{name}-{pool}-ready",
                f"{kind}/{pool}",
                ROOK_NAMESPACE,
                "Ready",
                args.context,
                self,
                [self.cluster],
                revision,
            )
        if args.context.enabled("monitoring"):
            for dashboard in versions.CEPH_DASHBOARDS:
                admin.upstream_dashboard(
                    f"{name}-{dashboard.name}-dashboard",
                    dashboard,
                    ROOK_NAMESPACE,
                    "Ceph",
                    args.context,
                    self,
                    [ns],
                )
        self.register_outputs({})
