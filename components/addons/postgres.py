"""PostgreSQL for the platform's own databases (MLflow now, Kubeflow Pipelines later): the
CloudNativePG operator, one `Cluster` with a synchronous replica, continuous backups (WAL
archive and scheduled base backups) to the object store with the Barman Cloud plugin, and a
PodMonitor. A consumer gets its own database, owned by a role of its own whose generated
password reaches the consumer's namespace as a Secret (the `Postgres` contract of
model/services.py).

Upstream facts (cloudnative-pg/cloudnative-pg@v1.30.0): roles and databases are custom
resources of their own, `DatabaseRole` and `Database`, each reporting `status.applied`
(config/crd/bases/postgresql.cnpg.io_databaseroles.yaml, _databases.yaml); a role's
`passwordSecret` is a kubernetes.io/basic-auth Secret with `username` and `password` in the
cluster's namespace; the Cluster's Ready condition is `Ready` (api/v1/cluster_types.go,
ConditionClusterReady); a PodMonitor is now to be made by hand, selecting
`cnpg.io/cluster: <name>` on port `metrics` (docs/src/monitoring.md); the operator runs
PostgreSQL with seccomp RuntimeDefault, non-root, no privilege escalation
(docs/src/security.md). The Barman Cloud plugin (cloudnative-pg/plugin-barman-cloud@v0.13.0)
must run in the operator's namespace (web/docs/usage.md), reads an `ObjectStore` named by the
Cluster's `plugins[].parameters.barmanObjectName`, deletes backups outside
`retentionPolicy` (web/docs/retention.md), and injects a sidecar that is restricted-compliant
(internal/cnpgi/operator/lifecycle.go).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import RESTRICTED, namespace, release
from components.addons.storage import BLOCK_CLASSES
from model.fields import Fields
from model.formats import BINARY_SIZE, DNS_LABEL, DNS_SUBDOMAIN, TIMESTAMP
from model.services import PASSWORD, USERNAME, BucketAccess, DatabaseAccess, ObjectStore
from model.settings import Context, setting

OPERATOR_NAMESPACE = "cnpg-system"
NAMESPACE = "postgres"
CLUSTER = "platform"
PORT = 5432
PLUGIN = "barman-cloud.cloudnative-pg.io"
BACKUP_STORE = "platform-backups"
BACKUP_CONSUMER = "postgres-backups"
REGION_SECRET = "postgres-backups-region"
# Daily at 02:00 (CloudNativePG's schedules have a seconds field first).
BACKUP_SCHEDULE = "0 0 2 * * *"
# The read-write Service of a Cluster is `<cluster>-rw`.
HOST = f"{CLUSTER}-rw.{NAMESPACE}.svc"
# A database and its role: a PostgreSQL identifier that needs no quoting.
DATABASE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True, kw_only=True)
class RestoreSettings:
    from_backups_of: str = setting(
        "fromBackupsOf",
        format=DNS_LABEL,
        doc="the `backupServerName` whose backups a new cluster starts from",
    )
    target_time: str | None = setting(
        "targetTime",
        None,
        format=TIMESTAMP,
        doc="restore to this moment (default: the latest the WAL archive reaches)",
    )


@dataclass(frozen=True, kw_only=True)
class PostgresSettings:
    enabled: bool = setting("enabled", True, doc="run the platform's PostgreSQL cluster")
    instances: int = setting(
        "instances", 3, minimum=1, doc="PostgreSQL instances, each on a different node"
    )
    synchronous_replicas: int = setting(
        "synchronousReplicas",
        1,
        doc="replicas that confirm every commit (0: asynchronous); fewer than `instances`",
    )
    volume_size: str = setting(
        "volumeSize", "20Gi", format=BINARY_SIZE, doc="each instance's volume"
    )
    storage_class: str | None = setting(
        "storageClass",
        None,
        format=DNS_SUBDOMAIN,
        doc="class of the volumes (default: the storage provider's block class)",
    )
    backups: bool = setting(
        "backups", True, doc="archive WAL and take daily base backups into the object store"
    )
    backup_retention_days: int = setting(
        "backupRetentionDays", 30, minimum=1, doc="days the backups can restore to"
    )
    backup_server_name: str = setting(
        "backupServerName",
        CLUSTER,
        format=DNS_LABEL,
        doc="the name this cluster's backups have in the bucket; a new name after a restore",
    )
    restore: RestoreSettings | None = setting(
        "restore",
        None,
        doc="when the cluster is (re)created: start it from backups (docs/operations/"
        "backup-restore.md); read only at creation",
    )


def _check(
    settings: PostgresSettings, section: Fields, _context: Context, others: Mapping[str, Any]
) -> None:
    if not settings.enabled:
        return
    if settings.synchronous_replicas >= settings.instances:
        section.bad(
            "synchronousReplicas",
            f"needs more instances than synchronous replicas ({settings.instances} instances)",
            f"use at most {settings.instances - 1}, or more instances",
        )
    if settings.restore and settings.restore.from_backups_of == settings.backup_server_name:
        section.bad(
            "backupServerName",
            "a restored cluster must archive under a new name (its source's archive is not empty)",
            f"set backupServerName to a new name, e.g. {settings.backup_server_name}-2",
        )
    if settings.restore and not settings.backups:
        section.bad(
            "restore",
            "a restore reads the backups in the object store, but postgres.backups is false",
            "set postgres.backups: true",
        )
    if settings.backups and others["object-store"].provider == "none":
        section.bad(
            "backups",
            "backups go to the object store, but objectStore.provider is none",
            "choose an object-store provider, or set postgres.backups: false",
        )
    if others["storage"].provider == "none" and not settings.storage_class:
        section.bad(
            "storageClass",
            "PostgreSQL needs volumes, but storage.provider is none and no class is named",
            "name an existing StorageClass in postgres.storageClass, or choose a storage provider",
        )


@dataclass(frozen=True)
class PostgresArgs:
    settings: PostgresSettings
    storage_class: str | None
    # None: no backups.
    object_store: ObjectStore | None
    # cert-manager (the plugin's certificates), the Prometheus CRDs, storage, the object store.
    depends_on: Sequence[pulumi.Resource]


def operator_values() -> dict[str, Any]:
    return {
        # CRDs as templates: upgraded with the chart.
        "crds": {"create": True},
        "monitoring": {
            "podMonitorEnabled": True,
            # A ConfigMap Grafana's sidecar picks up (label grafana_dashboard).
            "grafanaDashboard": {"create": True},
        },
    }


def backup_store_spec(access: BucketAccess, retention_days: int) -> dict[str, Any]:
    def key(name: str) -> dict[str, str]:
        return {"name": access.secret_name, "key": name}

    return {
        "configuration": {
            "destinationPath": access.url,
            "endpointURL": access.endpoint,
            "s3Credentials": {
                "accessKeyId": key("AWS_ACCESS_KEY_ID"),
                "secretAccessKey": key("AWS_SECRET_ACCESS_KEY"),
                "region": {"name": REGION_SECRET, "key": "AWS_REGION"},
            },
            "wal": {"compression": "gzip"},
            "data": {"compression": "gzip"},
        },
        "retentionPolicy": f"{retention_days}d",
    }


def cluster_spec(args: PostgresArgs, backups: bool) -> dict[str, Any]:
    settings = args.settings
    storage: dict[str, Any] = {"size": settings.volume_size}
    if args.storage_class:
        storage["storageClass"] = args.storage_class
    spec: dict[str, Any] = {
        "instances": settings.instances,
        "imageName": versions.POSTGRES_IMAGE,
        "storage": storage,
        # Instances on different nodes: losing a node loses one instance.
        "affinity": {
            "enablePodAntiAffinity": True,
            "podAntiAffinityType": "required",
            "topologyKey": "kubernetes.io/hostname",
        },
        "enablePDB": True,
    }
    if settings.synchronous_replicas:
        spec["postgresql"] = {
            "synchronous": {"method": "any", "number": settings.synchronous_replicas}
        }
    if backups:
        spec["plugins"] = [
            {
                "name": PLUGIN,
                "isWALArchiver": True,
                "parameters": {
                    "barmanObjectName": BACKUP_STORE,
                    "serverName": settings.backup_server_name,
                },
            }
        ]
    restore = settings.restore
    if backups and restore is not None:
        # cloudnative-pg/cloudnative-pg@v1.30.0:docs/src/recovery.md, "PITR from an object
        # store": the source's backups as an external cluster read through the plugin.
        recovery: dict[str, Any] = {"source": "backups"}
        if restore.target_time:
            recovery["recoveryTarget"] = {"targetTime": restore.target_time}
        spec["bootstrap"] = {"recovery": recovery}
        spec["externalClusters"] = [
            {
                "name": "backups",
                "plugin": {
                    "name": PLUGIN,
                    "parameters": {
                        "barmanObjectName": BACKUP_STORE,
                        "serverName": restore.from_backups_of,
                    },
                },
            }
        ]
    return spec


class PostgresCluster(pulumi.ComponentResource):
    """The platform's PostgreSQL; `database()` is the Postgres contract."""

    def __init__(
        self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:PostgresCluster", name, None, opts)
        # The operator's and the plugin's pods set non-root, seccomp RuntimeDefault, no
        # privilege escalation and drop every capability (their charts' values.yaml).
        operator_ns = namespace(OPERATOR_NAMESPACE, RESTRICTED, self, args.depends_on)
        # Stateful: a failed operator upgrade must not uninstall the CRDs and clusters.
        operator = release(
            "cloudnative-pg",
            versions.CLOUDNATIVE_PG,
            operator_ns,
            operator_values(),
            self,
            stateful=True,
        )
        plugin = release(
            "plugin-barman-cloud",
            versions.BARMAN_CLOUD_PLUGIN,
            operator_ns,
            {"crds": {"create": True}},
            self,
            depends_on=[operator],
            stateful=True,
        )
        # PostgreSQL and the plugin's sidecar are restricted-compliant (see above).
        self.namespace = namespace(NAMESPACE, RESTRICTED, self, args.depends_on)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        before_cluster: list[pulumi.Resource] = [operator, plugin]
        backups = args.object_store is not None
        if args.object_store is not None:
            access = args.object_store.bucket(
                BACKUP_CONSUMER, NAMESPACE, versioned=True, depends_on=[self.namespace],
                parent=self,
            )  # fmt: skip
            region = kubernetes.core.v1.Secret(
                f"{name}-backups-region",
                metadata={"name": REGION_SECRET, "namespace": NAMESPACE},
                string_data={"AWS_REGION": access.region},
                opts=in_namespace,
            )
            store = kubernetes.apiextensions.CustomResource(
                f"{name}-backup-store",
                api_version="barmancloud.cnpg.io/v1",
                kind="ObjectStore",
                metadata={"name": BACKUP_STORE, "namespace": NAMESPACE},
                spec=backup_store_spec(access, args.settings.backup_retention_days),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[plugin, region, *access.ready]
                ),
            )
            before_cluster.append(store)
        self.cluster = kubernetes.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="postgresql.cnpg.io/v1",
            kind="Cluster",
            metadata={
                "name": CLUSTER,
                "namespace": NAMESPACE,
                "annotations": {"pulumi.com/waitFor": "condition=Ready"},
            },
            spec=cluster_spec(args, backups),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.namespace, *before_cluster],
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m"),
            ),
        )
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[self.cluster])
        kubernetes.apiextensions.CustomResource(
            f"{name}-pod-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata={"name": CLUSTER, "namespace": NAMESPACE},
            spec={
                "selector": {"matchLabels": {"cnpg.io/cluster": CLUSTER}},
                "podMetricsEndpoints": [{"port": "metrics"}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace]),
        )
        if backups:
            kubernetes.apiextensions.CustomResource(
                f"{name}-daily-backup",
                api_version="postgresql.cnpg.io/v1",
                kind="ScheduledBackup",
                metadata={"name": f"{CLUSTER}-daily", "namespace": NAMESPACE},
                spec={
                    "schedule": BACKUP_SCHEDULE,
                    # The first base backup right away: WAL alone restores nothing.
                    "immediate": True,
                    "backupOwnerReference": "self",
                    "cluster": {"name": CLUSTER},
                    "method": "plugin",
                    "pluginConfiguration": {"name": PLUGIN},
                },
                opts=after_cluster,
            )
        self.register_outputs({})

    def database(
        self,
        name: str,
        namespace: str,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
        createdb: bool = False,
        parent: pulumi.Resource | None = None,
    ) -> DatabaseAccess:
        owner = parent or self
        if not DATABASE_NAME.fullmatch(name):
            raise ValueError(f"database name {name!r} is not a plain PostgreSQL identifier")
        object_name = name.replace("_", "-")
        child = pulumi.ResourceOptions(parent=owner)
        password = random.RandomPassword(
            f"{object_name}-db-password", length=32, special=False, opts=child
        )
        credentials = {USERNAME: name, PASSWORD: password.result}
        role_secret = kubernetes.core.v1.Secret(
            f"{object_name}-db-role",
            metadata={
                "name": f"role-{object_name}",
                "namespace": NAMESPACE,
                # The operator reloads a role's password when its Secret changes.
                "labels": {"cnpg.io/reload": "true"},
            },
            type="kubernetes.io/basic-auth",
            string_data=credentials,
            opts=pulumi.ResourceOptions(parent=owner, depends_on=[self.namespace]),
        )
        role = _applied(
            f"{object_name}-db-role",
            "DatabaseRole",
            object_name,
            {
                "cluster": {"name": CLUSTER},
                "name": name,
                "login": True,
                "createdb": createdb,
                "passwordSecret": {"name": f"role-{object_name}"},
                # Switching a consumer off keeps its role and data.
                "databaseRoleReclaimPolicy": "retain",
            },
            opts=pulumi.ResourceOptions(parent=owner, depends_on=[self.cluster, role_secret]),
        )
        database = _applied(
            f"{object_name}-db",
            "Database",
            object_name,
            {
                "cluster": {"name": CLUSTER},
                "name": name,
                "owner": name,
                "databaseReclaimPolicy": "retain",
            },
            opts=pulumi.ResourceOptions(parent=owner, depends_on=[role]),
        )
        secret_name = f"{object_name}-db"
        consumer_secret = kubernetes.core.v1.Secret(
            f"{object_name}-db-credentials",
            metadata={"name": secret_name, "namespace": namespace},
            type="kubernetes.io/basic-auth",
            string_data=credentials,
            opts=pulumi.ResourceOptions(parent=owner, depends_on=list(depends_on)),
        )
        return DatabaseAccess(
            host=HOST,
            port=PORT,
            database=name,
            namespace=namespace,
            secret_name=secret_name,
            ready=[database, consumer_secret],
        )


def _applied(
    resource_name: str, kind: str, name: str, spec: dict, opts: pulumi.ResourceOptions
) -> kubernetes.apiextensions.CustomResource:
    """A CloudNativePG `kind` in the cluster's namespace; Pulumi waits until the operator
    reports it applied (`status.applied`, on both Database and DatabaseRole)."""
    return kubernetes.apiextensions.CustomResource(
        resource_name,
        api_version="postgresql.cnpg.io/v1",
        kind=kind,
        metadata={
            "name": name,
            "namespace": NAMESPACE,
            "annotations": {"pulumi.com/waitFor": "jsonpath={.status.applied}=true"},
        },
        spec=spec,
        opts=opts,
    )


def _deploy(settings: PostgresSettings, context: AddonContext) -> Deployed:
    storage_class = settings.storage_class or BLOCK_CLASSES[context.settings["storage"].provider]
    store = None
    if settings.backups:
        store = context.deployed["object-store"].component
    args = PostgresArgs(settings, storage_class, store, context.depends_on)
    return Deployed(PostgresCluster("postgres", args, context.opts))


ADDON: Addon[PostgresSettings] = Addon(
    name="postgres",
    summary="PostgreSQL (CloudNativePG): the platform's databases, backed up to the object store",
    deploy=_deploy,
    settings=PostgresSettings,
    section="postgres",
    namespaces=("cnpg-system", "postgres"),
    # The plugin's certificates (cert-manager), PodMonitor and dashboards (Prometheus CRDs),
    # volumes (storage), backups (object store).
    needs=("certificates", "prometheus-crds", "storage", "object-store"),
    charts=(versions.CLOUDNATIVE_PG, versions.BARMAN_CLOUD_PLUGIN),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled`",
    check=_check,
)
