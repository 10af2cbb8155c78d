"""Off-host etcd backups: a Job per control plane ships its snapshots, encrypted, into a bucket
of the object store; nothing secret on a command line or in plain text."""

from __future__ import annotations

import re

import pytest

from automation.engine import unwrap_secrets
from components import versions
from components.addons import etcd_backups, object_store
from components.addons.etcd_backups import SHIP_SCRIPT, SNAPSHOT_DIR, EtcdBackupSettings
from components.addons.object_store import ObjectStoreSettings
from components.kubeadm.scripts import SCRIPTS_DIR
from model.fields import ConfigError
from tests.helpers import (
    custom,
    deploy_addon,
    plain_text,
    read_platform_config,
    refused,
    site,
    waits_for,
)


def deploy(provider: str = "ceph-rgw", enabled=(), **settings):
    at = site("aws") if provider == "s3" else site()
    return deploy_addon(
        etcd_backups.ADDON,
        EtcdBackupSettings(**settings),
        at=at,
        others={"object-store": ObjectStoreSettings(provider=provider, bucket_prefix="lab")},
        before=[object_store.ADDON],
        enabled=enabled,
    )


def cronjobs(evaluation) -> list:
    return [r for r in evaluation.registrations if r.type.endswith(":CronJob")]


def test_the_job_reads_the_snapshots_where_the_kubeadm_timer_writes_them():
    script = (SCRIPTS_DIR / "etcd-snapshot.sh").read_text()
    (written,) = re.findall(r"^SNAPSHOT_DIR=(\S+)$", script, re.MULTILINE)
    assert written == SNAPSHOT_DIR


def test_a_job_per_control_plane_pinned_to_it_reads_its_snapshots_read_only():
    evaluation = deploy(schedule="5 * * * *")
    (job,) = cronjobs(evaluation)  # the sample inventory has one control plane
    spec = job.inputs["spec"]
    assert spec["schedule"] == "5 * * * *" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "cp-1"}
    assert pod["tolerations"][0]["key"] == "node-role.kubernetes.io/control-plane"
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["snapshots"]["hostPath"] == {
        "path": "/var/lib/ml-platform/etcd-snapshots",
        "type": "Directory",
    }
    (container,) = pod["containers"]
    assert container["image"] == versions.RCLONE_IMAGE and "@sha256:" in versions.RCLONE_IMAGE
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["snapshots"]["readOnly"] is True
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"]
    namespace = custom(evaluation, "Namespace", "etcd-backups-namespace")
    assert (
        namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    )


def test_snapshots_are_encrypted_before_they_leave_with_keys_off_the_command_line():
    evaluation = deploy()
    (job,) = cronjobs(evaluation)
    container = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/bin/sh", "-c", SHIP_SCRIPT]
    env = {e["name"]: e for e in container["env"]}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PASSPHRASE"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
    assert env["BUCKET"]["value"] == "lab-etcd-snapshots" and env["HOST"]["value"] == "cp-1"
    # A crypt remote over the bucket; the passphrase reaches rclone on stdin.
    assert "RCLONE_CONFIG_SNAPSHOTS_TYPE=crypt" in SHIP_SCRIPT
    assert "| rclone obscure -)" in SHIP_SCRIPT
    assert (
        "rclone copy /snapshots snapshots: --include 'etcd-*.db' --ignore-existing" in SHIP_SCRIPT
    )
    passphrase = unwrap_secrets(
        custom(evaluation, "core/v1:Secret", "etcd-backups-encryption").inputs["stringData"]
    )["passphrase"]
    assert len(passphrase) == 48
    assert evaluation.exports["etcdBackupPassphrase"].secret
    assert all(passphrase not in plain_text(r.inputs) for r in evaluation.registrations)


def test_the_bucket_keeps_snapshots_for_the_retention_and_jobs_wait_for_it():
    evaluation = deploy(retention_days=45)
    claim = custom(evaluation, "ObjectBucketClaim", "etcd-snapshots-bucket-claim")
    assert claim.inputs["metadata"]["namespace"] == "etcd-backups"
    lifecycle = claim.inputs["spec"]["additionalConfig"]["bucketLifecycle"]
    assert '"Expiration": {"Days": 45}' in lifecycle
    (job,) = cronjobs(evaluation)
    assert waits_for(evaluation, job, claim)
    assert evaluation.exports["etcdBackupBucket"].value == "s3://lab-etcd-snapshots/"


def test_on_aws_the_bucket_is_versioned_and_rclone_speaks_to_aws():
    evaluation = deploy("s3")
    (versioning,) = [r for r in evaluation.registrations if r.type.endswith("BucketVersioning")]
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (job,) = cronjobs(evaluation)
    env = {
        e["name"]: e
        for e in job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    }
    assert env["STORE_PROVIDER"]["value"] == "AWS"
    assert etcd_backups.store_provider("http://minio.minio.svc:9000") == "Other"


def test_an_alert_when_snapshots_stop_reaching_the_store_with_monitoring():
    assert not [r for r in deploy().registrations if r.type.endswith(":PrometheusRule")]
    (rule,) = [
        r
        for r in deploy(enabled=["monitoring"]).registrations
        if r.type.endswith(":PrometheusRule")
    ]
    (group,) = rule.inputs["spec"]["groups"]
    assert group["rules"][0]["alert"] == "EtcdSnapshotsNotShipped"
    assert "kube_cronjob_status_last_successful_time" in group["rules"][0]["expr"]


def test_backups_with_no_object_store_are_refused():
    config = {"objectStore": {"provider": "none"}, "mlflow": {"enabled": False},
              "postgres": {"backups": False}}  # fmt: skip
    with pytest.raises(ConfigError) as error:
        read_platform_config(config)
    assert "objectStore.provider is none" in refused(
        error.value, "ml-platform:platform.etcdBackups.enabled"
    )
    assert (
        "etcd-backups"
        not in read_platform_config({**config, "etcdBackups": {"enabled": False}}).enabled
    )


def test_a_schedule_that_is_not_cron_is_refused():
    with pytest.raises(ConfigError) as error:
        read_platform_config({"etcdBackups": {"schedule": "hourly"}})
    assert "five-field cron" in refused(error.value, "ml-platform:platform.etcdBackups.schedule")
