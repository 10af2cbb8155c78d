"""The platform's S3 object store: Ceph's RGW on bare metal, AWS S3 on AWS, or MinIO, each a
bucket per consumer with credentials for that bucket alone (the `ObjectStore` contract of
model/services.py). Consumers find it in `AddonContext.deployed["object-store"].component`.

Every bucket is `<bucketPrefix>-<consumer>`; buckets are kept when their consumer is switched
off (Rook's bucket class retains them, S3 buckets are retained on delete, MinIO's Jobs never
delete), so no config edit loses data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.object_store.aws_s3 import AwsS3Args, AwsS3Store
from components.addons.object_store.ceph_rgw import CephRgwArgs, CephRgwStore
from components.addons.object_store.minio import MinioArgs, MinioStore
from model.fields import Fields
from model.formats import BINARY_SIZE, BUCKET_PREFIX, DNS_SUBDOMAIN
from model.settings import Context, Derived, PerSite, setting, subsection

ObjectStoreProvider = Literal["ceph-rgw", "s3", "minio", "none"]
NAME = "object-store"


@dataclass(frozen=True, kw_only=True)
class MinioSettings:
    # Distributed MinIO needs at least four volumes for erasure coding; the number of servers
    # cannot change later without a second server pool.
    servers: int = setting(
        "servers", 4, minimum=4, doc="MinIO servers, one volume each, one per host; fixed once made"
    )
    volume_size: str = setting(
        "volumeSize", "100Gi", format=BINARY_SIZE, doc="each server's volume"
    )
    storage_class: str | None = setting(
        "storageClass",
        None,
        format=DNS_SUBDOMAIN,
        doc="class of the servers' volumes (default: the cluster's default class; a local "
        "class avoids replicating what MinIO already erasure-codes)",
    )


@dataclass(frozen=True, kw_only=True)
class ObjectStoreSettings:
    provider: ObjectStoreProvider = setting(
        "provider",
        PerSite(on_premises="ceph-rgw", cloud="s3"),
        doc="`ceph-rgw` needs storage provider `rook-ceph`; `s3` exists only on AWS; `minio` is "
        "unmaintained upstream; `none`: no buckets (nothing that needs one may be on)",
    )
    bucket_prefix: str = setting(
        "bucketPrefix",
        Derived(lambda context, _: f"ml-platform-{context.stack}".lower(), "`ml-platform-<stack>`"),
        format=BUCKET_PREFIX,
        doc="buckets are `<bucketPrefix>-<consumer>`; S3 names are global, so pick your own on AWS",
    )
    noncurrent_version_days: int = setting(
        "noncurrentVersionDays",
        30,
        minimum=1,
        doc="days versioned buckets (backups) keep overwritten and deleted objects (s3, minio)",
    )
    minio: MinioSettings = subsection("minio", MinioSettings, doc="MinIO, when it is the provider")


def _check(
    settings: ObjectStoreSettings, section: Fields, context: Context, others: Mapping[str, Any]
) -> None:
    storage = others["storage"].provider
    if settings.provider == "ceph-rgw" and storage != "rook-ceph":
        section.bad(
            "provider",
            f"needs storage.provider rook-ceph (it is {storage})",
            "use s3 on AWS or minio elsewhere",
        )
    if settings.provider == "s3" and context.site.cloud != "aws":
        section.bad(
            "provider", "the s3 store is an AWS bucket", "use ceph-rgw or minio on bare metal"
        )
    notebooks = others.get("jupyterhub")
    if settings.provider != "none" and notebooks is not None and notebooks.enabled:
        # JupyterHub gives each tenant a bucket `<prefix>-tenant-<tenant>`: S3 stops at 63.
        for member in context.tenants.members if context.has_tenants else ():
            name = f"{settings.bucket_prefix}-tenant-{member.name}"
            if len(name) > 63:
                section.bad(
                    "bucketPrefix",
                    f"tenant {member.name}'s bucket would be {name}, longer than S3's 63 "
                    "characters",
                    f"shorten bucketPrefix to at most {63 - len(name) + len(settings.bucket_prefix)} "
                    "characters, or the tenant's name",
                )
    if settings.provider == "minio" and storage == "none" and not settings.minio.storage_class:
        section.bad(
            "provider",
            "MinIO's servers need volumes, but storage.provider is none and no class is named",
            "name a StorageClass in objectStore.minio.storageClass, or choose a storage provider",
        )


def _deploy(settings: ObjectStoreSettings, context: AddonContext) -> Deployed:
    prefix, days = settings.bucket_prefix, settings.noncurrent_version_days
    if settings.provider == "ceph-rgw":
        store = CephRgwStore(
            "ceph-rgw", CephRgwArgs(prefix, days, context.depends_on), context.opts
        )
        return Deployed(store)
    if settings.provider == "s3":
        provider, region = context.inventory.cloud_provider, context.site.region
        if provider is None or region is None:
            raise ValueError("the s3 object store needs the AWS provider and region of the stack")
        args = AwsS3Args(
            prefix, days, region, context.inventory.cluster_name, provider, context.depends_on
        )
        return Deployed(AwsS3Store("s3", args, context.opts))
    minio = settings.minio
    nodes = tuple(str(h.node_name or h.name) for h in context.inventory.storage_hosts)
    args = MinioArgs(
        prefix, days, minio.servers, minio.volume_size, minio.storage_class, nodes,
        context.depends_on,
    )  # fmt: skip
    store = MinioStore("minio", args, context.opts)
    return Deployed(store, {"minioRootPassword": store.root_password.result})


ADDON: Addon[ObjectStoreSettings] = Addon(
    name=NAME,
    summary="the S3 object store (Ceph RGW, AWS S3 or MinIO): a bucket and its own credentials "
    "per consumer",
    deploy=_deploy,
    settings=ObjectStoreSettings,
    section="objectStore",
    namespaces=("minio",),
    # RGW runs in the Rook cluster; MinIO's volumes come from the storage add-on's class.
    needs=("storage",),
    enabled=lambda settings, _context: settings.provider != "none",
    when="unless `provider` is `none`",
    check=_check,
)
