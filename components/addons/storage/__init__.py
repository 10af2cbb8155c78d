"""Storage classes for the platform: Rook-Ceph on bare metal (`rook_ceph`), EBS and EFS on
AWS (`aws_volumes`), or none (a class the user names elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.storage.aws_volumes import EFS_CLASS, AwsStorage, AwsStorageArgs
from components.addons.storage.rook_ceph import (
    FILESYSTEM_CLASS,
    ROOK_NAMESPACE,
    RookCeph,
    RookCephArgs,
    StorageNode,
)
from model.fields import Fields
from model.settings import Context, PerSite, setting
from model.site import Site

StorageProvider = Literal["rook-ceph", "aws", "none"]


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    provider: StorageProvider = setting(
        "provider",
        PerSite(on_premises="rook-ceph", cloud="aws"),
        doc="Ceph needs at least 3 hosts with `storageDevices`; `none`: name classes elsewhere",
    )


def shared_class(provider: StorageProvider, site: Site) -> str | None:
    """The ReadWriteMany StorageClass the provider makes, if any (CephFS; EFS where the site
    has a shared file system)."""
    if provider == "rook-ceph":
        return FILESYSTEM_CLASS
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


def _deploy(settings: StorageSettings, context: AddonContext) -> Deployed:
    if settings.provider == "aws":
        # A ReadWriteMany class only where the site offers a shared file system (EFS).
        shared = context.inventory.shared_filesystem_id if context.site.shared_filesystem else None
        args = AwsStorageArgs(shared, context.depends_on)
        return Deployed(AwsStorage("aws-storage", args, context.opts))
    nodes = tuple(
        StorageNode(str(h.node_name or h.name), h.storage_devices)
        for h in context.inventory.storage_hosts
    )
    object_store = context.settings["object-store"].provider == "ceph-rgw"
    joined = [
        context.nodes[h.name] for h in context.inventory.storage_hosts if h.name in context.nodes
    ]
    args = RookCephArgs(nodes, object_store, context.depends_on, joined, context)
    return Deployed(RookCeph("rook-ceph", args, context.opts))


ADDON: Addon[StorageSettings] = Addon(
    name="storage",
    summary="the default StorageClass and a shared (ReadWriteMany) one: Rook-Ceph, or EBS and EFS",
    deploy=_deploy,
    settings=StorageSettings,
    section="storage",
    needs=("prometheus-crds",),
    charts=(
        versions.ROOK_CEPH,
        versions.CEPH_CSI_DRIVERS,
        versions.ROOK_CEPH_CLUSTER,
        versions.AWS_EBS_CSI_DRIVER,
        versions.AWS_EFS_CSI_DRIVER,
    ),
    enabled=lambda settings, _context: settings.provider != "none",
    when="unless `provider` is `none`",
    check=_check,
    namespaces=(ROOK_NAMESPACE, AwsStorage.NAMESPACE),
)
