"""The object store: what each site can offer, and per provider a bucket per consumer with
credentials for that bucket alone, delivered into the consumer's namespace."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as kubernetes
import pytest

from automation.engine import Evaluation, unwrap_secrets
from components import versions
from components.addons import object_store
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.object_store import MinioSettings, ObjectStoreSettings
from components.addons.object_store.minio import PROVISION_SCRIPT
from model.fields import ConfigError
from model.services import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.helpers import (
    custom,
    deploy_addon,
    plain_text,
    read_platform_config,
    refused,
    site,
    waits_for,
)

KEY = "ml-platform:platform.objectStore"


def consumer(**request) -> Addon:
    """A consumer asking for bucket `photos` in its namespace `gallery`."""

    def deploy(_settings, context: AddonContext) -> Deployed:
        component = pulumi.ComponentResource("test:index:Consumer", "gallery")
        ns = kubernetes.core.v1.Namespace(
            "gallery", metadata={"name": "gallery"},
            opts=pulumi.ResourceOptions(parent=component, depends_on=list(context.depends_on)),
        )  # fmt: skip
        store = context.deployed["object-store"].component
        access = store.bucket("photos", "gallery", depends_on=[ns], parent=component, **request)
        exports = {"bucket": access.bucket, "endpoint": access.endpoint, "region": access.region,
                   "secret": access.secret_name}  # fmt: skip
        return Deployed(component, exports)

    return Addon(name="consumer", summary="", deploy=deploy, needs=("object-store",))


def with_bucket(provider: str, **request) -> Evaluation:
    at = site("aws") if provider == "s3" else site()
    settings = ObjectStoreSettings(provider=provider, bucket_prefix="lab-ml")
    return deploy_addon(
        consumer(**request), at=at, others={"object-store": settings}, before=[object_store.ADDON]
    )


# ---- config ----------------------------------------------------------------------------------


def test_defaults_follow_the_site():
    lab = read_platform_config({})["object-store"]
    assert (lab.provider, lab.bucket_prefix) == ("ceph-rgw", "ml-platform-test")
    assert read_platform_config({}, at=site("aws"))["object-store"].provider == "s3"


@pytest.mark.parametrize(
    ("config", "at", "words"),
    [
        ({"storage": {"provider": "none"}, "objectStore": {"provider": "ceph-rgw"},
          "monitoring": {"storageClass": "x"}, "postgres": {"storageClass": "x"}},
         site(), "needs storage.provider rook-ceph (it is none)"),
        ({"storage": {"provider": "longhorn"}, "objectStore": {"provider": "ceph-rgw"}},
         site(), "needs storage.provider rook-ceph (it is longhorn)"),
        ({"objectStore": {"provider": "s3"}}, site(), "the s3 store is an AWS bucket"),
        ({"storage": {"provider": "none"}, "objectStore": {"provider": "minio"},
          "monitoring": {"storageClass": "x"}, "postgres": {"storageClass": "x"}},
         site(), "MinIO's servers need volumes"),
    ],
)  # fmt: skip
def test_a_provider_the_site_cannot_offer_is_refused(config, at, words):
    with pytest.raises(ConfigError) as error:
        read_platform_config(config, at=at)
    assert words in refused(error.value, f"{KEY}.provider")


@pytest.mark.parametrize(
    "prefix",
    ["ML-lab", "lab.ml", "xn--lab", "sthree-lab", "ab", "-lab", "lab-", "a" * 41, "lab ml"],
)
def test_a_prefix_that_does_not_make_valid_s3_names_is_refused(prefix):
    with pytest.raises(ConfigError) as error:
        read_platform_config({"objectStore": {"bucketPrefix": prefix}})
    assert "not a valid start of S3 bucket names" in refused(error.value, f"{KEY}.bucketPrefix")


def test_a_stack_name_that_makes_no_valid_prefix_is_refused_by_its_default():
    from model.fields import Fields, Problems
    from model.settings import Context, read_section

    problems = Problems()
    top = Fields({"objectStore": {}}, "ml-platform:platform", problems, ("objectStore",))
    read_section(top, "objectStore", ObjectStoreSettings, Context(site(), "my_lab"))
    assert [p.key for p in problems.found] == [f"{KEY}.bucketPrefix"]


# ---- ceph-rgw ------------------------------------------------------------------------------


def test_rgw_is_a_store_pulumi_waits_for_and_claims_wait_for_it():
    evaluation = with_bucket("ceph-rgw", versioned=True, expire_after_days=30)
    store = custom(evaluation, "CephObjectStore", "ceph-rgw-store")
    assert store.inputs["kind"] == "CephObjectStore"
    assert store.inputs["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.status.phase}=Ready"
    }
    spec = store.inputs["spec"]
    assert spec["dataPool"] == {"replicated": {"size": 3}, "failureDomain": "host"}
    assert spec["preservePoolsOnDelete"] is True
    assert spec["gateway"]["priorityClassName"] == "system-cluster-critical"
    assert spec["gateway"]["resources"]["requests"] == {"cpu": "1000m", "memory": "1Gi"}
    bucket_class = custom(evaluation, "StorageClass", "ceph-rgw-bucket-class").inputs
    assert bucket_class["provisioner"] == "rook-ceph.ceph.rook.io/bucket"
    assert bucket_class["reclaimPolicy"] == "Retain"  # a consumer switched off keeps its data
    claim = custom(evaluation, "ObjectBucketClaim", "photos-bucket-claim")
    assert claim.inputs["metadata"] == {
        "name": "photos-bucket",
        "namespace": "gallery",
        "annotations": {"pulumi.com/waitFor": "jsonpath={.status.phase}=Bound"},
    }
    assert claim.inputs["spec"]["bucketName"] == "lab-ml-photos"
    rules = json.loads(claim.inputs["spec"]["additionalConfig"]["bucketLifecycle"])["Rules"]
    assert [r["ID"] for r in rules] == ["abort-incomplete-uploads", "expire"]
    assert waits_for(evaluation, claim, store)
    assert waits_for(evaluation, claim, custom(evaluation, "Namespace", "gallery"))
    assert evaluation.exports["endpoint"].value == (
        "http://rook-ceph-rgw-ceph-objectstore.rook-ceph.svc:80"
    )
    assert evaluation.exports["secret"].value == "photos-bucket"


def test_rgw_cannot_add_keys_to_rooks_secret():
    with pytest.raises(ValueError, match="Rook writes the claim's Secret itself"):
        with_bucket("ceph-rgw", endpoint_key="AWS_ENDPOINTS")


# ---- s3 --------------------------------------------------------------------------------------


def by_type(evaluation: Evaluation, suffix: str) -> list:
    return [r for r in evaluation.registrations if r.type.endswith(suffix)]


def test_s3_buckets_are_private_encrypted_and_versioned_where_asked():
    evaluation = with_bucket("s3", versioned=True, expire_after_days=90)
    (bucket,) = by_type(evaluation, "s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == "lab-ml-photos"
    assert bucket.inputs["forceDestroy"] is False
    (private,) = by_type(evaluation, "BucketPublicAccessBlock")
    assert all(private.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy",
                                            "ignorePublicAcls", "restrictPublicBuckets"))  # fmt: skip
    (encryption,) = by_type(evaluation, "BucketServerSideEncryptionConfiguration")
    rule = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "AES256"
    (versioning,) = by_type(evaluation, "BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (lifecycle,) = by_type(evaluation, "BucketLifecycleConfiguration")
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert rules["expire"]["expiration"]["days"] == 90
    assert rules["expire-noncurrent"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    assert waits_for(evaluation, lifecycle, versioning)
    (tls_only,) = by_type(evaluation, "s3/bucketPolicy:BucketPolicy")
    statement = json.loads(tls_only.inputs["policy"])["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_an_s3_bucket_without_backups_is_not_versioned():
    evaluation = with_bucket("s3")
    assert not by_type(evaluation, "BucketVersioning")
    (lifecycle,) = by_type(evaluation, "BucketLifecycleConfiguration")
    assert [r["id"] for r in lifecycle.inputs["rules"]] == ["abort-incomplete-uploads"]


def test_s3_credentials_reach_only_their_bucket_and_stay_secret():
    evaluation = with_bucket("s3", endpoint_key="AWS_ENDPOINTS")
    (policy,) = by_type(evaluation, "UserPolicy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert {r for s in statements for r in [s["Resource"]]} == {
        "arn:aws:s3:::lab-ml-photos",
        "arn:aws:s3:::lab-ml-photos/*",
    }
    assert not [a for s in statements for a in s["Action"] if a in ("s3:*", "s3:PutBucketPolicy")]
    (user,) = by_type(evaluation, "iam/user:User")
    assert user.inputs["path"] == "/ml-platform/"
    (secret,) = [r for r in by_type(evaluation, "core/v1:Secret")]
    assert secret.inputs["metadata"] == {
        "name": "photos-bucket", "namespace": "gallery",
        "labels": {"app.kubernetes.io/part-of": "ml-platform"},
    }  # fmt: skip
    data = unwrap_secrets(secret.inputs["stringData"])
    assert set(data) == {ACCESS_KEY_ID, SECRET_ACCESS_KEY, "AWS_ENDPOINTS"}
    assert data["AWS_ENDPOINTS"] == "https://s3.us-east-1.amazonaws.com"
    assert plain_text(secret.inputs["stringData"]) == ""
    key_id, key = data[ACCESS_KEY_ID], data[SECRET_ACCESS_KEY]
    assert key_id and len(key) == 40
    for registration in evaluation.registrations:
        text = plain_text(registration.inputs)
        assert key not in text and key_id not in text, registration.name
    assert evaluation.exports["region"].value == "us-east-1"


# ---- minio -----------------------------------------------------------------------------------


def minio_evaluation(**request) -> Evaluation:
    return with_bucket("minio", **request)


def test_minio_runs_the_last_community_image_by_digest_on_a_restricted_namespace():
    evaluation = minio_evaluation()
    (namespace,) = [n for n in by_type(evaluation, "Namespace") if n.name == "minio-namespace"]
    assert (
        namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    )
    (servers,) = by_type(evaluation, "StatefulSet")
    spec = servers.inputs["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == versions.MINIO_IMAGE
    assert (
        "@sha256:" in versions.MINIO_IMAGE
        and "RELEASE.2025-09-07T16-13-09Z" in versions.MINIO_IMAGE
    )
    assert spec["replicas"] == 4 and spec["podManagementPolicy"] == "Parallel"
    assert container["args"][-1] == ("http://minio-{0...3}.minio-hl.minio.svc.cluster.local/data")
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # One server per host; three storage hosts are too few for four servers, so any hosts.
    affinity = spec["template"]["spec"]["affinity"]
    assert "nodeAffinity" not in affinity
    assert affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]


def test_minio_servers_go_to_the_storage_hosts_when_there_are_enough():
    from components.addons.object_store.minio import MinioArgs, affinity

    args = MinioArgs("p", 30, 4, "10Gi", None, ("gpu-01", "gpu-02", "gpu-03", "gpu-04"), ())
    terms = affinity(args)["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == list(
        args.storage_nodes
    )


def test_minio_buckets_are_made_by_a_job_that_keeps_keys_off_command_lines():
    evaluation = minio_evaluation(versioned=True, expire_after_days=7)
    (job,) = by_type(evaluation, "Job")
    spec = job.inputs["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["command"] == ["/bin/sh", "-c", PROVISION_SCRIPT]
    env = {e["name"]: e for e in container["env"]}
    for name in ("MINIO_ROOT_PASSWORD", "ACCESS_KEY", "SECRET_KEY"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
    assert env["BUCKET"]["value"] == "lab-ml-photos" and env["VERSIONED"]["value"] == "true"
    policy = json.loads(env["POLICY"]["value"])
    assert {r for s in policy["Statement"] for r in s["Resource"]} == {
        "arn:aws:s3:::lab-ml-photos", "arn:aws:s3:::lab-ml-photos/*"
    }  # fmt: skip
    # Keys come from the environment into mc's stdin, never as arguments.
    assert "| mc admin user add platform\n" in PROVISION_SCRIPT
    assert "mc alias set" not in PROVISION_SCRIPT
    servers = custom(evaluation, "StatefulSet", "minio-servers")
    assert waits_for(evaluation, job, servers)


def test_minio_keys_and_root_password_are_never_plain_text():
    evaluation = minio_evaluation(endpoint_key="AWS_ENDPOINTS")
    consumer_secret = custom(evaluation, "core/v1:Secret", "photos-bucket-credentials")
    keys = unwrap_secrets(consumer_secret.inputs["stringData"])
    assert keys["AWS_ENDPOINTS"] == "http://minio.minio.svc:9000"
    root = unwrap_secrets(custom(evaluation, "core/v1:Secret", "minio-root").inputs["stringData"])
    secrets = [keys[ACCESS_KEY_ID], keys[SECRET_ACCESS_KEY], root["MINIO_ROOT_PASSWORD"]]
    assert all(len(value) >= 20 for value in secrets)
    for registration in evaluation.registrations:
        for value in secrets:
            assert value not in plain_text(registration.inputs), registration.name


def test_minio_settings_reach_the_servers():
    settings = ObjectStoreSettings(
        provider="minio",
        bucket_prefix="lab",
        minio=MinioSettings(servers=6, volume_size="2Ti", storage_class="local-nvme"),
    )
    evaluation = deploy_addon(object_store.ADDON, settings)
    (servers,) = by_type(evaluation, "StatefulSet")
    (claim,) = servers.inputs["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Ti"
    assert claim["spec"]["storageClassName"] == "local-nvme"
    assert servers.inputs["spec"]["replicas"] == 6
    assert evaluation.exports["minioRootPassword"].secret


def test_no_object_store_deploys_nothing():
    platform = read_platform_config(
        {"objectStore": {"provider": "none"}, "mlflow": {"enabled": False},
         "postgres": {"backups": False}, "etcdBackups": {"enabled": False}}
    )  # fmt: skip
    assert "object-store" not in platform.enabled
