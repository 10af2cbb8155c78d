"""Ceph's RGW as the object store: a CephObjectStore in the Rook cluster, and a bucket per
consumer through an ObjectBucketClaim in the consumer's namespace.

The store is this add-on's own custom resource, not a value of the rook-ceph-cluster chart:
Pulumi waits for its `status.phase` to be Ready (Helm's wait knows nothing of custom
resources), so a consumer's claim comes after a working gateway and a failure says "the object
store is not Ready" instead of leaving claims pending; and switching the provider changes this
add-on alone, never the storage release.

Upstream facts (rook/rook@v1.20.6): the store reports `status.phase: Ready`
(pkg/operator/ceph/object/controller.go, cephv1.ConditionReady); its Service is
`rook-ceph-rgw-<store>` (pkg/operator/ceph/object/rgw.go, instanceName) on the gateway port;
with the chart's default `enableOBCWatchOperatorNamespace: true` the provisioner is
`<cluster namespace>.ceph.rook.io/bucket` and watches claims in every namespace
(pkg/operator/ceph/object/bucket/util.go, NewBucketController); a claim is `Bound` when
provisioned and its Secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY of a user of its own) and
ConfigMap carry the claim's name (Documentation/Storage-Configuration/Object-Storage-RGW/
ceph-object-bucket-claim.md); with reclaimPolicy Retain a deleted claim keeps its bucket, and a
new claim for that bucket name relinks it to the new claim's user
(pkg/operator/ceph/object/bucket/provisioner.go, Provision).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.addons.object_store.common import (
    BucketPolicy,
    bucket_name,
    lifecycle_rules,
    secret_name,
)
from components.addons.storage.rook_ceph import ROOK_NAMESPACE, replicated_pool
from model.services import BucketAccess

STORE = "ceph-objectstore"
BUCKET_CLASS = "ceph-bucket"
# RGW has one zone group; S3 clients still sign for a region, and RGW's default zone group
# answers to us-east-1.
REGION = "us-east-1"
GATEWAY_PORT = 80
ENDPOINT = f"http://rook-ceph-rgw-{STORE}.{ROOK_NAMESPACE}.svc:{GATEWAY_PORT}"
# A fresh store creates its pools and starts its gateways in minutes; allow for slow disks.
READY_TIMEOUT = "30m"


@dataclass(frozen=True)
class CephRgwArgs:
    bucket_prefix: str
    noncurrent_days: int
    # The Rook cluster.
    depends_on: Sequence[pulumi.Resource]


def object_store_spec() -> dict:
    return {
        "metadataPool": replicated_pool(),
        "dataPool": replicated_pool(),
        # Buckets outlive a mistaken removal of the store from the config.
        "preservePoolsOnDelete": True,
        # Resources and priority as the chart's default store has them (rook/rook@v1.20.6:
        # deploy/charts/rook-ceph-cluster/values.yaml, cephObjectStores[0].spec.gateway).
        "gateway": {
            "port": GATEWAY_PORT,
            "instances": 2,
            "resources": {
                "limits": {"memory": "2Gi"},
                "requests": {"cpu": "1000m", "memory": "1Gi"},
            },
            "priorityClassName": "system-cluster-critical",
        },
    }


class CephRgwStore(pulumi.ComponentResource):
    """The object store on Ceph; `bucket()` is the ObjectStore contract."""

    def __init__(
        self, name: str, args: CephRgwArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:CephRgwStore", name, None, opts)
        self._args = args
        self.endpoint = ENDPOINT
        self.store = kubernetes.apiextensions.CustomResource(
            f"{name}-store",
            api_version="ceph.rook.io/v1",
            kind="CephObjectStore",
            metadata={
                "name": STORE,
                "namespace": ROOK_NAMESPACE,
                "annotations": {"pulumi.com/waitFor": "jsonpath={.status.phase}=Ready"},
            },
            spec=object_store_spec(),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.depends_on),
                custom_timeouts=pulumi.CustomTimeouts(create=READY_TIMEOUT, update=READY_TIMEOUT),
            ),
        )
        self.bucket_class = kubernetes.storage.v1.StorageClass(
            f"{name}-bucket-class",
            metadata={"name": BUCKET_CLASS},
            provisioner=f"{ROOK_NAMESPACE}.ceph.rook.io/bucket",
            # A deleted claim (a consumer switched off) keeps its bucket and data.
            reclaim_policy="Retain",
            volume_binding_mode="Immediate",
            parameters={
                "objectStoreName": STORE,
                "objectStoreNamespace": ROOK_NAMESPACE,
                "region": REGION,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
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
        if endpoint_key is not None:
            raise ValueError(
                "ceph-rgw: Rook writes the claim's Secret itself, with the two keys only; "
                f"{consumer} cannot have {endpoint_key} added to it"
            )
        name = bucket_name(self._args.bucket_prefix, consumer)
        # RGW takes a lifecycle through the claim; versioning has no claim field, so a
        # versioned request gets the lifecycle only (docs/platform.md says so).
        policy = BucketPolicy(versioned, expire_after_days, self._args.noncurrent_days)
        rules = [r for r in lifecycle_rules(policy) if "NoncurrentVersionExpiration" not in r]
        claim = kubernetes.apiextensions.CustomResource(
            f"{consumer}-bucket-claim",
            api_version="objectbucket.io/v1alpha1",
            kind="ObjectBucketClaim",
            metadata={
                "name": secret_name(consumer),
                "namespace": namespace,
                "annotations": {"pulumi.com/waitFor": "jsonpath={.status.phase}=Bound"},
            },
            spec={
                "bucketName": name,
                "storageClassName": BUCKET_CLASS,
                "additionalConfig": {"bucketLifecycle": json.dumps({"Rules": rules})},
            },
            opts=pulumi.ResourceOptions(
                parent=owner,
                depends_on=[self.store, self.bucket_class, *depends_on],
                custom_timeouts=pulumi.CustomTimeouts(create="10m"),
            ),
        )
        return BucketAccess(
            endpoint=ENDPOINT,
            region=REGION,
            bucket=name,
            namespace=namespace,
            secret_name=secret_name(consumer),
            ready=[claim],
        )
