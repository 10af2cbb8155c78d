"""The platform's S3 object store: Ceph's RGW on bare metal, AWS S3 on AWS, or MinIO.

Read and checked now. Only `ceph-rgw` has an effect yet: the Rook cluster (storage add-on)
then runs an RGW object store with a bucket class. Buckets per consumer and the `s3` and
`minio` providers come with the data-services add-ons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.addons.addon import Addon
from model.fields import Fields
from model.settings import Context, PerSite, setting

ObjectStoreProvider = Literal["ceph-rgw", "s3", "minio"]


@dataclass(frozen=True, kw_only=True)
class ObjectStoreSettings:
    provider: ObjectStoreProvider = setting(
        "provider",
        PerSite(on_premises="ceph-rgw", cloud="s3"),
        doc="`ceph-rgw` needs storage provider `rook-ceph`; `s3` exists only on AWS",
    )


def _check(
    settings: ObjectStoreSettings, section: Fields, context: Context, others: Mapping[str, Any]
) -> None:
    if settings.provider == "ceph-rgw" and others["storage"].provider != "rook-ceph":
        section.bad(
            "provider", "needs storage.provider rook-ceph", "use s3 on AWS or minio elsewhere"
        )
    if settings.provider == "s3" and context.site.cloud != "aws":
        section.bad(
            "provider", "the s3 store is an AWS bucket", "use ceph-rgw or minio on bare metal"
        )


ADDON: Addon[ObjectStoreSettings] = Addon(
    name="object-store",
    summary="the S3 object store's provider (checked; its buckets come with the data services)",
    deploy=None,
    settings=ObjectStoreSettings,
    section="objectStore",
    when="a setting only, yet: `ceph-rgw` makes the Rook cluster run an RGW object store",
    check=_check,
)
