"""PostgreSQL: the CloudNativePG operator, the platform's Cluster with its backups, and a
database per consumer with credentials for it alone."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as kubernetes
import pytest

from automation.engine import Evaluation, unwrap_secrets
from components import versions
from components.addons import object_store, postgres
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.object_store import ObjectStoreSettings
from components.addons.postgres import PostgresSettings, RestoreSettings
from components.addons.storage import StorageSettings
from model.fields import ConfigError
from tests.helpers import (
    custom,
    deploy_addon,
    plain_text,
    read_platform_config,
    refused,
    releases,
    waits_for,
)
from tests.schemas import crd_schemas, custom_resource_problems

KEY = "ml-platform:platform.postgres"
OTHERS = {
    "storage": StorageSettings(provider="rook-ceph"),
    "object-store": ObjectStoreSettings(provider="ceph-rgw", bucket_prefix="lab"),
}


def consumer() -> Addon:
    def deploy(_settings, context: AddonContext) -> Deployed:
        component = pulumi.ComponentResource("test:index:Consumer", "gallery")
        ns = kubernetes.core.v1.Namespace(
            "gallery", metadata={"name": "gallery"},
            opts=pulumi.ResourceOptions(parent=component, depends_on=list(context.depends_on)),
        )  # fmt: skip
        access = context.deployed["postgres"].component.database(
            "gallery_app", "gallery", depends_on=[ns], parent=component
        )
        return Deployed(component, {"host": access.host, "secret": access.secret_name})

    return Addon(name="consumer", summary="", deploy=deploy, needs=("postgres",))


def deploy(settings: PostgresSettings | None = None, with_consumer: bool = False):
    settings = settings or PostgresSettings()
    others = {**OTHERS, "postgres": settings}
    if with_consumer:
        return deploy_addon(consumer(), others=others, before=[object_store.ADDON, postgres.ADDON])
    return deploy_addon(postgres.ADDON, settings, others=others, before=[object_store.ADDON])


def kind(evaluation: Evaluation, name: str) -> list:
    return [r for r in evaluation.registrations if r.type.endswith(f":{name}")]


# ---- config ----------------------------------------------------------------------------------


def test_defaults():
    settings = read_platform_config({})["postgres"]
    assert (settings.enabled, settings.instances, settings.synchronous_replicas) == (True, 3, 1)
    assert settings.backups and settings.backup_retention_days == 30


@pytest.mark.parametrize(
    ("config", "key", "words"),
    [
        ({"postgres": {"instances": 1}}, "synchronousReplicas", "more instances than synchronous"),
        ({"objectStore": {"provider": "none"}, "mlflow": {"enabled": False}}, "backups",
         "objectStore.provider is none"),
        ({"storage": {"provider": "none"}, "objectStore": {"provider": "none"},
          "mlflow": {"enabled": False}, "postgres": {"backups": False},
          "monitoring": {"storageClass": "x"}}, "storageClass", "PostgreSQL needs volumes"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused(config, key, words):
    with pytest.raises(ConfigError) as error:
        read_platform_config(config)
    assert words in refused(error.value, f"{KEY}.{key}")


def test_without_an_object_store_it_runs_when_backups_are_off():
    platform = read_platform_config(
        {"objectStore": {"provider": "none"}, "mlflow": {"enabled": False},
         "postgres": {"backups": False}, "etcdBackups": {"enabled": False}}
    )  # fmt: skip
    assert "postgres" in platform.enabled


# ---- the cluster -----------------------------------------------------------------------------


def test_operator_and_plugin_are_stateful_releases_in_a_restricted_namespace():
    evaluation = deploy()
    r = releases(evaluation)
    assert r["cloudnative-pg"].inputs["version"] == versions.CLOUDNATIVE_PG.version
    for name in ("cloudnative-pg", "plugin-barman-cloud"):
        assert r[name].inputs["atomic"] is False and r[name].inputs["namespace"] == "cnpg-system"
    assert waits_for(evaluation, r["plugin-barman-cloud"], r["cloudnative-pg"])
    levels = {
        n.inputs["metadata"]["name"]: n.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for n in kind(evaluation, "Namespace")
    }  # fmt: skip
    assert levels == {"cnpg-system": "restricted", "postgres": "restricted"}


def test_three_instances_with_a_synchronous_replica_on_the_block_class():
    evaluation = deploy()
    cluster = custom(evaluation, "postgresql.cnpg.io/v1:Cluster", "postgres-cluster")
    assert cluster.inputs["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    spec = cluster.inputs["spec"]
    assert spec["instances"] == 3
    assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1}
    assert spec["storage"] == {"size": "20Gi", "storageClass": "ceph-block"}
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert spec["imageName"] == versions.POSTGRES_IMAGE
    assert spec["plugins"] == [
        {
            "name": "barman-cloud.cloudnative-pg.io",
            "isWALArchiver": True,
            "parameters": {"barmanObjectName": "platform-backups", "serverName": "platform"},
        }
    ]
    monitor = custom(evaluation, "PodMonitor", "postgres-pod-monitor")
    assert monitor.inputs["spec"]["selector"] == {"matchLabels": {"cnpg.io/cluster": "platform"}}


def test_backups_go_to_its_bucket_with_a_retention_and_a_daily_schedule():
    evaluation = deploy(PostgresSettings(backup_retention_days=14))
    store = custom(evaluation, "barmancloud.cnpg.io/v1:ObjectStore", "postgres-backup-store")
    spec = store.inputs["spec"]
    assert spec["retentionPolicy"] == "14d"
    assert spec["configuration"]["destinationPath"] == "s3://lab-postgres-backups/"
    credentials = spec["configuration"]["s3Credentials"]
    assert credentials["accessKeyId"] == {
        "name": "postgres-backups-bucket",
        "key": "AWS_ACCESS_KEY_ID",
    }
    claim = custom(evaluation, "ObjectBucketClaim", "postgres-backups-bucket-claim")
    assert claim.inputs["metadata"]["namespace"] == "postgres"
    cluster = custom(evaluation, "postgresql.cnpg.io/v1:Cluster", "postgres-cluster")
    assert waits_for(evaluation, cluster, store) and waits_for(evaluation, store, claim)
    scheduled = custom(evaluation, "ScheduledBackup", "postgres-daily-backup").inputs["spec"]
    assert scheduled["method"] == "plugin" and scheduled["immediate"] is True
    assert scheduled["schedule"] == "0 0 2 * * *"


def test_a_restore_starts_a_new_cluster_from_the_backups_and_archives_under_a_new_name():
    restore = RestoreSettings(from_backups_of="platform", target_time="2026-11-29T10:00:00Z")
    settings = PostgresSettings(backup_server_name="platform-2", restore=restore)
    cluster = custom(deploy(settings), "postgresql.cnpg.io/v1:Cluster", "postgres-cluster")
    document = unwrap_secrets(cluster.inputs)
    assert custom_resource_problems(document, crd_schemas()["postgresql.cnpg.io/v1:Cluster"]) == []
    spec = document["spec"]
    assert spec["bootstrap"] == {
        "recovery": {"source": "backups", "recoveryTarget": {"targetTime": "2026-11-29T10:00:00Z"}}
    }
    (source,) = spec["externalClusters"]
    assert source["plugin"]["parameters"] == {
        "barmanObjectName": "platform-backups",
        "serverName": "platform",
    }
    assert spec["plugins"][0]["parameters"]["serverName"] == "platform-2"


@pytest.mark.parametrize(
    ("postgres", "key", "words"),
    [
        ({"restore": {"fromBackupsOf": "platform"}}, "backupServerName", "must archive under a new name"),
        ({"restore": {"fromBackupsOf": "platform", "targetTime": "yesterday"}},
         "restore.targetTime", "not a timestamp"),
        ({"backups": False, "backupServerName": "p2", "restore": {"fromBackupsOf": "platform"}},
         "restore", "postgres.backups is false"),
    ],
)  # fmt: skip
def test_a_restore_that_cannot_work_is_refused(postgres, key, words):
    with pytest.raises(ConfigError) as error:
        read_platform_config({"postgres": postgres})
    assert words in refused(error.value, f"{KEY}.{key}")


def test_without_backups_there_is_no_archive_nor_bucket():
    settings = PostgresSettings(backups=False, synchronous_replicas=0)
    evaluation = deploy_addon(postgres.ADDON, settings, others=OTHERS)
    spec = custom(evaluation, "postgresql.cnpg.io/v1:Cluster", "postgres-cluster").inputs["spec"]
    assert "plugins" not in spec and "postgresql" not in spec
    assert not kind(evaluation, "ObjectStore") and not kind(evaluation, "ScheduledBackup")
    assert not kind(evaluation, "ObjectBucketClaim")


# ---- a database per consumer -----------------------------------------------------------------


def test_a_consumer_gets_its_database_role_and_credentials_in_its_namespace():
    evaluation = deploy(with_consumer=True)
    role = custom(evaluation, "DatabaseRole", "gallery-app-db-role")
    assert role.inputs["spec"] == {
        "cluster": {"name": "platform"},
        "name": "gallery_app",
        "login": True,
        "createdb": False,
        "passwordSecret": {"name": "role-gallery-app"},
        "databaseRoleReclaimPolicy": "retain",
    }
    database = custom(evaluation, "postgresql.cnpg.io/v1:Database", "gallery-app-db")
    assert database.inputs["spec"]["owner"] == "gallery_app"
    assert database.inputs["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.status.applied}=true"
    }
    assert waits_for(evaluation, database, role)
    cluster = custom(evaluation, "postgresql.cnpg.io/v1:Cluster", "postgres-cluster")
    assert waits_for(evaluation, role, cluster)
    role_secret = custom(evaluation, "core/v1:Secret", "gallery-app-db-role")
    assert role_secret.inputs["metadata"]["labels"] == {"cnpg.io/reload": "true"}
    mine = custom(evaluation, "core/v1:Secret", "gallery-app-db-credentials")
    assert mine.inputs["metadata"] == {"name": "gallery-app-db", "namespace": "gallery"}
    assert mine.inputs["type"] == "kubernetes.io/basic-auth"
    password = unwrap_secrets(mine.inputs["stringData"])["password"]
    assert len(password) == 32
    assert all(password not in plain_text(r.inputs) for r in evaluation.registrations)
    assert evaluation.exports["host"].value == "platform-rw.postgres.svc"


def test_a_database_name_must_need_no_quoting():
    from components.addons.postgres import DATABASE_NAME

    assert DATABASE_NAME.fullmatch("mlflow_auth")
    assert not DATABASE_NAME.fullmatch("mlflow-auth") and not DATABASE_NAME.fullmatch("1db")
