"""Longhorn's backups: its own versioned bucket, the default BackupTarget pointed at it."""

from __future__ import annotations

from automation.engine import unwrap_secrets
from components.addons import longhorn_backups, object_store, storage
from components.addons.object_store import ObjectStoreSettings
from components.addons.storage import StorageSettings
from tests.helpers import custom, deploy_addon, read_platform_config, waits_for

OTHERS = {
    "storage": StorageSettings(provider="longhorn"),
    "object-store": ObjectStoreSettings(provider="minio", bucket_prefix="lab"),
}


def test_the_default_backup_target_points_at_its_bucket():
    evaluation = deploy_addon(
        longhorn_backups.ADDON, others=OTHERS, before=[storage.ADDON, object_store.ADDON]
    )
    target = custom(evaluation, "BackupTargetPatch", "longhorn-backups-target")
    assert target.inputs["metadata"] == {
        "name": "default",
        "namespace": "longhorn-system",
        "annotations": {"pulumi.com/patchForce": "true"},
    }
    assert target.inputs["spec"] == {
        "backupTargetURL": "s3://lab-longhorn-backups@us-east-1/",
        "credentialSecret": "longhorn-backups-bucket",
        "pollInterval": "300s",
    }
    credentials = custom(evaluation, "core/v1:Secret", "longhorn-backups-bucket-credentials")
    keys = unwrap_secrets(credentials.inputs["stringData"])
    assert keys["AWS_ENDPOINTS"] == "http://minio.minio.svc:9000"
    assert credentials.inputs["metadata"]["namespace"] == "longhorn-system"
    job = custom(evaluation, "Job", "longhorn-backups-bucket-provision")
    env = {
        e["name"]: e.get("value")
        for e in job.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["VERSIONED"] == "true"
    assert waits_for(evaluation, target, job)
    assert waits_for(evaluation, target, custom(evaluation, "Release", "longhorn"))


def test_it_exists_only_with_longhorn_and_an_object_store():
    base = {"storage": {"provider": "longhorn"}, "objectStore": {"provider": "minio"}}
    assert "longhorn-backups" in read_platform_config(base).enabled
    none = {**base, "objectStore": {"provider": "none"}, "mlflow": {"enabled": False},
            "postgres": {"backups": False}, "etcdBackups": {"enabled": False}}  # fmt: skip
    assert "longhorn-backups" not in read_platform_config(none).enabled
    assert "longhorn-backups" not in read_platform_config({}).enabled
