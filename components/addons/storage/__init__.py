"""Storage classes for the platform: Rook-Ceph on bare metal (`rook_ceph`), Longhorn on bare
metal without spare disks (`longhorn`), EBS and EFS on AWS (`aws_volumes`), or none (a class
the user names elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.storage import longhorn, rook_ceph
from components.addons.storage.aws_volumes import EFS_CLASS, AwsStorage, AwsStorageArgs
from components.addons.storage.longhorn import Longhorn, LonghornArgs
from components.addons.storage.rook_ceph import (
    FILESYSTEM_CLASS,
    ROOK_NAMESPACE,
    RookCeph,
    RookCephArgs,
    StorageNode,
)
from model.fields import Fields
from model.formats import HOST_DIRECTORY
from model.settings import Context, PerSite, setting, subsection
from model.site import Site

StorageProvider = Literal["rook-ceph", "longhorn", "aws", "none"]


@dataclass(frozen=True, kw_only=True)
class LonghornSettings:
    data_path: str = setting(
        "dataPath",
        "/var/lib/longhorn/",
        format=HOST_DIRECTORY,
        doc="where Longhorn keeps replicas on every node's own disk",
    )
    replicas: int = setting(
        "replicas", 3, minimum=1, doc="copies of every volume, each on a different node"
    )


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    provider: StorageProvider = setting(
        "provider",
        PerSite(on_premises="rook-ceph", cloud="aws"),
        doc="Ceph needs at least 3 hosts with `storageDevices`; Longhorn uses every node's disk "
        "(bare metal); `none`: name classes elsewhere",
    )
    longhorn: LonghornSettings = subsection(
        "longhorn", LonghornSettings, doc="Longhorn, when it is the provider"
    )


# The class block volumes (databases, Prometheus) come from, by provider; None: the cluster's
# default class (provider none).
BLOCK_CLASSES: dict[str, str | None] = {
    "rook-ceph": rook_ceph.BLOCK_CLASS,
    "longhorn": longhorn.STORAGE_CLASS,
    "aws": "gp3",
    "none": None,
}


def shared_class(provider: StorageProvider, site: Site) -> str | None:
    """The ReadWriteMany StorageClass the provider makes, if any (CephFS; Longhorn's own class,
    whose share manager serves ReadWriteMany volumes over NFS; EFS where the site has a shared
    file system)."""
    if provider == "rook-ceph":
        return FILESYSTEM_CLASS
    if provider == "longhorn":
        return longhorn.STORAGE_CLASS
    if provider == "aws" and site.shared_filesystem:
        return EFS_CLASS
    return None


def _check(
    settings: StorageSettings, section: Fields, context: Context, _settings: Mapping[str, Any]
) -> None:
    site = context.site
    if settings.provider == "rook-ceph" and site.cloud:
        section.bad(
            "provider",
            "Rook-Ceph is for bare-metal hosts",
            "use provider: aws (EBS and EFS) on AWS",
        )
    elif settings.provider == "rook-ceph" and site.hosts_known and site.storage_hosts < 3:
        section.bad(
            "provider",
            f"Ceph keeps three replicas on distinct hosts but only {site.storage_hosts} "
            "host(s) list storageDevices",
            "give at least three hosts storageDevices, or set provider: none",
        )
    if settings.provider == "aws" and site.cloud != "aws":
        section.bad(
            "provider", "EBS and EFS exist only on AWS", "use rook-ceph or none on bare metal"
        )
    if settings.provider == "longhorn" and site.cloud:
        section.bad(
            "provider",
            "Longhorn is for bare-metal hosts (on AWS, EBS volumes are replicated already)",
            "use provider: aws on AWS",
        )


def _deploy(settings: StorageSettings, context: AddonContext) -> Deployed:
    if settings.provider == "aws":
        # A ReadWriteMany class only where the site offers a shared file system (EFS).
        shared = context.inventory.shared_filesystem_id if context.site.shared_filesystem else None
        args = AwsStorageArgs(shared, context.depends_on)
        return Deployed(AwsStorage("aws-storage", args, context.opts))
    if settings.provider == "longhorn":
        longhorn_settings = settings.longhorn
        args = LonghornArgs(
            longhorn_settings.data_path, longhorn_settings.replicas, context.depends_on
        )
        return Deployed(Longhorn("longhorn", args, context.opts))
    nodes = tuple(
        StorageNode(str(h.node_name or h.name), h.storage_devices)
        for h in context.inventory.storage_hosts
    )
    joined = [
        context.nodes[h.name] for h in context.inventory.storage_hosts if h.name in context.nodes
    ]
    args = RookCephArgs(nodes, context.depends_on, joined, context)
    return Deployed(RookCeph("rook-ceph", args, context.opts))


ADDON: Addon[StorageSettings] = Addon(
    name="storage",
    summary="the default StorageClass and a shared (ReadWriteMany) one: Rook-Ceph, Longhorn, or "
    "EBS and EFS",
    deploy=_deploy,
    settings=StorageSettings,
    section="storage",
    needs=("prometheus-crds",),
    charts=(
        versions.ROOK_CEPH,
        versions.CEPH_CSI_DRIVERS,
        versions.ROOK_CEPH_CLUSTER,
        versions.LONGHORN,
        versions.AWS_EBS_CSI_DRIVER,
        versions.AWS_EFS_CSI_DRIVER,
    ),
    enabled=lambda settings, _context: settings.provider != "none",
    when="unless `provider` is `none`",
    check=_check,
    namespaces=(ROOK_NAMESPACE, longhorn.NAMESPACE, AwsStorage.NAMESPACE),
)
