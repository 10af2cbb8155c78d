"""Kubeflow Pipelines 2.x, standalone: no Istio, no Dex, no profiles; its runs kept in the
platform's PostgreSQL (CloudNativePG), its artifacts in the platform's object store, its UI at
`pipelines.<domain>` behind Traefik with TLS and a generated login.

Upstream publishes kustomize manifests and no Helm chart. The program composes them from the
bases of kubeflow/pipelines at the pinned tag (fetched at deploy time on the first control
plane, never stored here; `manifests.apply_manifests`) and patches them to use what the
platform provides:

- `base/postgresql/pipeline`: the API server (PostgreSQL flavour), UI, persistence agent,
  scheduled-workflow controller, viewer controller, visualization server, metadata writer;
- `base/metadata/base`: ML Metadata's gRPC server and its Envoy, pointed at its own database;
- `third-party/argo/installs/namespace` (+ its cluster-scoped CRDs): Argo Workflows, the engine;
- `base/pipeline/cluster-scoped`: the ScheduledWorkflow and Viewer CRDs.

What upstream's `env/platform-agnostic-postgresql` adds and the platform replaces or leaves
out: its in-cluster PostgreSQL Deployments (pipelines' and ML Metadata's), SeaweedFS (the
object store that replaced MinIO in 2.15), the default credentials Secrets, and the v1 cache
server with its deployer (it supports MySQL only at 2.17.0: backend/src/cache/client_manager.go
refuses any other driver; v2 pipelines cache through the API server).

Facts this relies on, read at kubeflow/pipelines@2.17.0:
- the API server reads its settings through viper with `.` replaced by `_`
  (backend/src/apiserver/main.go, initConfig): `DBDriverName` is `DBDRIVERNAME` (the manifests'
  DB_DRIVER_NAME reaches nothing), `ObjectStoreConfig.Host` is `OBJECTSTORECONFIG_HOST`;
- its object store client (client_manager.go, buildConfigFromEnvVars) takes host, port,
  secure, region, bucket, access and secret key, always path-style;
- pipeline steps find their artifact store in the `kfp-launcher` ConfigMap:
  `defaultPipelineRoot` and `providers.s3.default` (backend/src/v2/config/s3.go), credentials
  from a Secret named there, read in the run's namespace;
- the UI reads S3 artifacts with the provider info the launcher recorded, and archived logs
  with its MINIO_* settings (frontend/server/configs.ts, minio-helper.ts);
- ML Metadata 1.14.0 skips CREATE DATABASE with --postgres_config_skip_db_creation
  (google/ml-metadata@v1.14.0: metadata_store_server_main.cc).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components import versions, yamltext
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.certificates import CLUSTER_ISSUER
from components.addons.helm import BASELINE, namespace
from components.addons.ingress import INGRESS_CLASS
from components.addons.manifests import (
    UpstreamManifests,
    apply_manifests,
    github_directory,
    kustomization,
)
from model.fields import Fields
from model.inventory import Host
from model.services import (
    ACCESS_KEY_ID,
    PASSWORD,
    SECRET_ACCESS_KEY,
    USERNAME,
    DatabaseAccess,
    ObjectStore,
    Postgres,
)
from model.settings import Context, setting

NAMESPACE = "kubeflow"
REPOSITORY = "kubeflow/pipelines"
HOST_PREFIX = "pipelines"
BUCKET_CONSUMER = "kubeflow-pipelines"
# Plain identifiers: the API server runs `CREATE DATABASE <name>` unquoted.
PIPELINE_DATABASE = "mlpipeline"
METADATA_DATABASE = "mlmetadata"
ADMIN_USER = "admin"
# Where Argo archives step logs; the UI must use the same pattern to find them (upstream's
# workflow-controller-configmap patch at 2.17.0, and the UI's ARGO_KEYFORMAT).
LOG_KEY_FORMAT = (
    "private-artifacts/{{workflow.namespace}}/{{workflow.name}}/"
    "{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}/"
    "{{workflow.creationTimestamp.d}}/{{pod.name}}"
)
# The upstream bases composed (paths in kubeflow/pipelines at the pinned tag).
BASES = (
    "manifests/kustomize/base/postgresql/pipeline",
    "manifests/kustomize/base/metadata/base",
    "manifests/kustomize/third-party/argo/installs/namespace",
    "manifests/kustomize/third-party/argo/installs/namespace/cluster-scoped",
    "manifests/kustomize/base/pipeline/cluster-scoped",
)
# The API server: its Service ml-pipeline on 8888 (HTTP) in front of the pods labelled
# app=ml-pipeline (manifests/kustomize/base/pipeline/ml-pipeline-apiserver-{service,
# deployment}.yaml at 2.17.0).
API_PORT = 8888
API_URL = f"http://ml-pipeline.{NAMESPACE}.svc:{API_PORT}"
API_POD_LABELS = {"app": "ml-pipeline"}
# The service account runs' pods run as in standalone Kubeflow Pipelines
# (backend/src/apiserver/common/const.go DefaultPipelineRunnerServiceAccount, used by
# template/template.go when the run names none; base/pipeline/pipeline-runner-sa.yaml).
PIPELINE_RUNNER = "pipeline-runner"
CRDS = (
    "scheduledworkflows.kubeflow.org",
    "viewers.kubeflow.org",
    "workflows.argoproj.io",
    "workflowtaskresults.argoproj.io",
)


@dataclass(frozen=True, kw_only=True)
class PipelinesSettings:
    enabled: bool = setting(
        "enabled",
        False,
        doc="install Kubeflow Pipelines (standalone); needs the postgres and object-store add-ons",
    )


def _check(
    settings: PipelinesSettings, section: Fields, _context: Context, others: Mapping[str, Any]
) -> None:
    postgres, store = others.get("postgres"), others.get("object-store")
    missing = [
        name
        for name, off in (
            ("postgres", postgres is None or not postgres.enabled),
            ("object-store", store is None or store.provider == "none"),
        )
        if off
    ]
    if settings.enabled and missing:
        section.bad(
            "enabled",
            f"Kubeflow Pipelines keeps its runs in PostgreSQL and its artifacts in the object "
            f"store, but this platform has no {' and no '.join(missing)}",
            "enable postgres and choose an object-store provider, or set pipelines.enabled: false",
        )


@dataclass(frozen=True)
class StoreEndpoint:
    host: str
    port: int
    secure: bool

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def store_endpoint(url: str) -> StoreEndpoint:
    """`http://rgw.rook-ceph.svc:80` as host, port and TLS; the port defaults to the scheme's."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"the object store's endpoint {url!r} is not http(s)://host[:port]")
    secure = parts.scheme == "https"
    return StoreEndpoint(parts.hostname, parts.port or (443 if secure else 80), secure)


@dataclass(frozen=True)
class PipelinesStores:
    """Where Kubeflow Pipelines keeps things, every name resolved."""

    endpoint: StoreEndpoint
    region: str
    bucket: str
    bucket_secret: str  # ACCESS_KEY_ID and SECRET_ACCESS_KEY, in NAMESPACE
    pipeline_db: DatabaseAccess
    metadata_db: DatabaseAccess


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _env(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _deployment_patch(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": {"spec": spec}},
    }


def _configmap_patch(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _delete(api_version: str, kind: str, name: str) -> dict[str, Any]:
    return {"$patch": "delete", "apiVersion": api_version, "kind": kind, "metadata": {"name": name}}


def install_config(stores: PipelinesStores) -> dict[str, str]:
    """pipeline-install-config: what upstream's base/installs/generic/postgres holds, with the
    platform's database and bucket (the Deployments read it with configMapKeyRef)."""
    db = stores.pipeline_db
    return {
        "appName": "pipeline",
        "appVersion": versions.KUBEFLOW_PIPELINES,
        "dbType": "pgx",
        "postgresHost": db.host,
        "postgresPort": str(db.port),
        "pipelineDb": db.database,
        "mlmdDb": stores.metadata_db.database,
        "bucketName": stores.bucket,
        "defaultPipelineRoot": pipeline_root(stores),
        "autoUpdatePipelineDefaultVersion": "true",
        "cronScheduleTimezone": "UTC",
        "ConMaxLifeTime": "120s",
        "LOG_LEVEL": "info",
        "ARTIFACTS_PROXY_ENABLED": "false",
        # User namespaces for pipeline steps: root in a step is not root on the node.
        "defaultSecurityContextHostUsers": "false",
        "BLOCK_V1_PIPELINES": "false",
        "V1_ALLOWED_NAMESPACES": "",
    }


def pipeline_root(stores: PipelinesStores) -> str:
    return f"s3://{stores.bucket}/v2/artifacts"


def launcher_providers(stores: PipelinesStores) -> str:
    """kfp-launcher `providers`: the S3 endpoint and the Secret steps read credentials from."""
    return yamltext.dump(
        {
            "s3": {
                "default": {
                    "endpoint": stores.endpoint.address,
                    "region": stores.region,
                    "disableSSL": not stores.endpoint.secure,
                    "forcePathStyle": True,
                    "credentials": {
                        "fromEnv": False,
                        "secretRef": {
                            "secretName": stores.bucket_secret,
                            "accessKeyKey": ACCESS_KEY_ID,
                            "secretKeyKey": SECRET_ACCESS_KEY,
                        },
                    },
                }
            }
        }
    )


def argo_artifact_repository(stores: PipelinesStores) -> str:
    """Where Argo archives step logs (workflow-controller-configmap `artifactRepository`)."""
    return yamltext.dump(
        {
            "archiveLogs": True,
            "s3": {
                "endpoint": stores.endpoint.address,
                "bucket": stores.bucket,
                "region": stores.region,
                "keyFormat": LOG_KEY_FORMAT,
                "insecure": not stores.endpoint.secure,
                "accessKeySecret": {"name": stores.bucket_secret, "key": ACCESS_KEY_ID},
                "secretKeySecret": {"name": stores.bucket_secret, "key": SECRET_ACCESS_KEY},
            },
        }
    )


def patches(stores: PipelinesStores) -> list[dict[str, Any]]:
    endpoint, secret = stores.endpoint, stores.bucket_secret
    pipeline_db, metadata_db = stores.pipeline_db, stores.metadata_db
    api_server = [
        # viper's name for DBDriverName (the manifests' DB_DRIVER_NAME is not read).
        _env("DBDRIVERNAME", "pgx"),
        _secret_env("DBCONFIG_POSTGRESQLCONFIG_USER", pipeline_db.secret_name, USERNAME),
        _secret_env("DBCONFIG_POSTGRESQLCONFIG_PASSWORD", pipeline_db.secret_name, PASSWORD),
        _env("OBJECTSTORECONFIG_HOST", endpoint.host),
        _env("OBJECTSTORECONFIG_PORT", str(endpoint.port)),
        _env("OBJECTSTORECONFIG_SECURE", "true" if endpoint.secure else "false"),
        _env("OBJECTSTORECONFIG_REGION", stores.region),
        _secret_env("OBJECTSTORECONFIG_ACCESSKEY", secret, ACCESS_KEY_ID),
        _secret_env("OBJECTSTORECONFIG_SECRETACCESSKEY", secret, SECRET_ACCESS_KEY),
        # Upstream's PostgreSQL overlay replaces the whole env list and drops these, among
        # them the step images, which then default to `:latest`
        # (backend/src/v2/compiler/argocompiler/container.go); base/pipeline's values.
        _env("V2_DRIVER_IMAGE", f"ghcr.io/kubeflow/kfp-driver:{versions.KUBEFLOW_PIPELINES}"),
        _env("V2_LAUNCHER_IMAGE", f"ghcr.io/kubeflow/kfp-launcher:{versions.KUBEFLOW_PIPELINES}"),
        _env("PUBLISH_LOGS", "true"),
        _env("LOG_LEVEL", "info"),
        _env("PIPELINE_LOG_LEVEL", "1"),
        _env("CLUSTER_DOMAIN", "cluster.local"),
        _env("COMPILED_PIPELINE_SPEC_PATCH", "{}"),
        *(
            {
                "name": f"DEFAULT_SECURITY_CONTEXT_{name}",
                "valueFrom": {
                    "configMapKeyRef": {
                        "name": "pipeline-install-config",
                        "key": f"defaultSecurityContext{key}",
                        "optional": True,
                    }
                },
            }
            for name, key in (
                ("RUN_AS_USER", "RunAsUser"),
                ("RUN_AS_GROUP", "RunAsGroup"),
                ("RUN_AS_NON_ROOT", "RunAsNonRoot"),
                ("HOST_USERS", "HostUsers"),
            )
        ),
    ]
    ui = [
        # Archived logs: the MinIO client settings (host and port apart, no namespace suffix).
        {"name": "MINIO_NAMESPACE", "value": "", "valueFrom": None},
        _env("MINIO_HOST", endpoint.host),
        _env("MINIO_PORT", str(endpoint.port)),
        _env("MINIO_SSL", "true" if endpoint.secure else "false"),
        _secret_env("MINIO_ACCESS_KEY", secret, ACCESS_KEY_ID),
        _secret_env("MINIO_SECRET_KEY", secret, SECRET_ACCESS_KEY),
        _env("ARGO_ARCHIVE_ARTIFACTORY", "minio"),
        _env("ARGO_ARCHIVE_BUCKETNAME", stores.bucket),
        _env("ARGO_KEYFORMAT", LOG_KEY_FORMAT),
        # s3:// artifacts without recorded provider info.
        _env("AWS_S3_ENDPOINT", endpoint.host),
        _env("AWS_REGION", stores.region),
        _env("AWS_SSL", "true" if endpoint.secure else "false"),
        _secret_env("AWS_ACCESS_KEY_ID", secret, ACCESS_KEY_ID),
        _secret_env("AWS_SECRET_ACCESS_KEY", secret, SECRET_ACCESS_KEY),
    ]
    metadata_args = [
        "--grpc_port=8080",
        "--metadata_source_config_type=postgresql",
        f"--postgres_config_host={metadata_db.host}",
        f"--postgres_config_port={metadata_db.port}",
        f"--postgres_config_dbname={metadata_db.database}",
        "--postgres_config_user=$(POSTGRES_USER)",
        "--postgres_config_password=$(POSTGRES_PASSWORD)",
        # The database exists (the platform made it); its role may not create databases.
        "--postgres_config_skip_db_creation=true",
        "--enable_database_upgrade=true",
        # Upstream's base arguments.
        "--grpc_channel_arguments=grpc.max_metadata_size=16384,"
        "grpc.max_receive_message_length=104857600,grpc.max_send_message_length=104857600",
    ]
    metadata = {
        "initContainers": [
            {
                "name": "wait-for-database",
                "env": [
                    {"$patch": "replace"},
                    _env("WAIT_HOST", metadata_db.host),
                    _env("WAIT_PORT", str(metadata_db.port)),
                ],
            }
        ],
        "containers": [
            {
                "name": "container",
                "env": [
                    {"$patch": "replace"},
                    _secret_env("POSTGRES_USER", metadata_db.secret_name, USERNAME),
                    _secret_env("POSTGRES_PASSWORD", metadata_db.secret_name, PASSWORD),
                ],
                "args": metadata_args,
            }
        ],
    }
    return [
        _deployment_patch(
            "ml-pipeline", {"containers": [{"name": "ml-pipeline-api-server", "env": api_server}]}
        ),
        _deployment_patch(
            "ml-pipeline-ui", {"containers": [{"name": "ml-pipeline-ui", "env": ui}]}
        ),
        _deployment_patch("metadata-grpc-deployment", metadata),
        _configmap_patch(
            "kfp-launcher",
            {"defaultPipelineRoot": pipeline_root(stores), "providers": launcher_providers(stores)},
        ),
        _configmap_patch(
            "workflow-controller-configmap",
            {"artifactRepository": argo_artifact_repository(stores)},
        ),
    ]


def pipelines_kustomization(stores: PipelinesStores, ref: str) -> dict[str, Any]:
    document = kustomization(
        [github_directory(REPOSITORY, base, ref) for base in BASES],
        namespace=NAMESPACE,
        patches=patches(stores),
        labels={"app.kubernetes.io/part-of": "ml-platform"},
    )
    document["configMapGenerator"] = [
        {
            "name": "pipeline-install-config",
            "literals": [f"{k}={v}" for k, v in install_config(stores).items()],
            "options": {"disableNameSuffixHash": True},
        }
    ]
    return document


def pipelines_manifests(stores: pulumi.Input[PipelinesStores]) -> UpstreamManifests:
    document = pulumi.Output.from_input(stores).apply(
        lambda s: pipelines_kustomization(s, versions.KUBEFLOW_PIPELINES)
    )
    return UpstreamManifests(
        name="kubeflow-pipelines",
        kustomization=document,
        needs_git=True,
        wait_established=CRDS,
        wait_namespace=NAMESPACE,
        # First start: images to pull, ML Metadata's and the API server's schema migrations.
        timeout_seconds=900,
    )


@dataclass(frozen=True)
class PipelinesArgs:
    domain: str
    first_control_plane: Host
    object_store: ObjectStore
    postgres: Postgres
    depends_on: Sequence[pulumi.Resource]


class KubeflowPipelines(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: PipelinesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:KubeflowPipelines", name, None, opts)
        # Pipeline steps are users' containers, many of them root images: baseline, not
        # restricted (KFP's own pods would pass restricted; steps run in this namespace).
        ns = namespace(NAMESPACE, BASELINE, self, args.depends_on)
        # Its bucket and databases belong to it (children of this component): it waits for
        # the object store and PostgreSQL add-ons, not for its own claims through them.
        bucket = args.object_store.bucket(BUCKET_CONSUMER, NAMESPACE, depends_on=[ns], parent=self)
        pipeline_db = args.postgres.database(
            PIPELINE_DATABASE, NAMESPACE, depends_on=[ns], createdb=True, parent=self
        )
        metadata_db = args.postgres.database(
            METADATA_DATABASE, NAMESPACE, depends_on=[ns], parent=self
        )
        stores = pulumi.Output.all(bucket.endpoint, bucket.bucket).apply(
            lambda resolved: PipelinesStores(
                store_endpoint(resolved[0]),
                bucket.region,
                resolved[1],
                bucket.secret_name,
                pipeline_db,
                metadata_db,
            )
        )
        ready = [ns, *bucket.ready, *pipeline_db.ready, *metadata_db.ready]
        self.manifests = apply_manifests(
            pipelines_manifests(stores), args.first_control_plane, self, ready
        )
        self.host = f"{HOST_PREFIX}.{args.domain}"
        self.password = random.RandomPassword(
            f"{name}-admin-password",
            length=24,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._ui(name, ns)
        self.register_outputs({})

    def _ui(self, name: str, ns: kubernetes.core.v1.Namespace) -> None:
        """pipelines.<domain>: TLS from the platform's issuer, a login before anything (the
        standalone UI and API have no authentication of their own)."""
        child = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        kubernetes.core.v1.Secret(
            f"{name}-ui-login",
            metadata={"name": "pipelines-ui-login", "namespace": NAMESPACE},
            type="kubernetes.io/basic-auth",
            string_data={"username": ADMIN_USER, "password": self.password.result},
            opts=child,
        )
        middleware = kubernetes.apiextensions.CustomResource(
            f"{name}-ui-auth",
            api_version="traefik.io/v1alpha1",
            kind="Middleware",
            metadata={"name": "pipelines-ui-auth", "namespace": NAMESPACE},
            spec={"basicAuth": {"secret": "pipelines-ui-login", "realm": "Kubeflow Pipelines"}},
            opts=child,
        )
        kubernetes.networking.v1.Ingress(
            f"{name}-ui",
            metadata={
                "name": "pipelines-ui",
                "namespace": NAMESPACE,
                "annotations": {
                    "cert-manager.io/cluster-issuer": CLUSTER_ISSUER,
                    # Traefik's name for a Middleware object: <namespace>-<name>@kubernetescrd.
                    "traefik.ingress.kubernetes.io/router.middlewares": (
                        f"{NAMESPACE}-pipelines-ui-auth@kubernetescrd"
                    ),
                },
            },
            spec={
                "ingressClassName": INGRESS_CLASS,
                "tls": [{"hosts": [self.host], "secretName": "pipelines-ui-tls"}],
                "rules": [
                    {
                        "host": self.host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        # Upstream's Service in front of the UI (port 80 -> 3000).
                                        "service": {
                                            "name": "ml-pipeline-ui",
                                            "port": {"number": 80},
                                        }
                                    },
                                }
                            ]
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[middleware, self.manifests]),
        )
        self._network_policy(name, ns)

    def _network_policy(self, name: str, ns: kubernetes.core.v1.Namespace) -> None:
        """Who may reach the namespace: itself, Traefik (the UI only), Prometheus, and the
        platform's own namespaces (the API, e.g. the MLOps loop starting a run). Tenants'
        notebooks reach it only where their own egress policies allow."""
        platform = {"matchLabels": {"app.kubernetes.io/part-of": "ml-platform"}}
        kubernetes.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata={"name": "kubeflow-pipelines-ingress", "namespace": NAMESPACE},
            spec={
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [{"podSelector": {}}]},
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "traefik"}
                                }
                            }
                        ],
                        # The UI; and cert-manager's HTTP-01 solver pods, which an ACME
                        # issuer starts in this namespace for the UI's certificate
                        # (cert-manager@v1.21.1: pkg/issuer/acme/http/http.go, port 8089).
                        "ports": [
                            {"protocol": "TCP", "port": 3000},
                            {"protocol": "TCP", "port": 8089},
                        ],
                    },
                    {
                        "from": [{"namespaceSelector": platform}],
                        "ports": [
                            {"protocol": "TCP", "port": 8888},
                            {"protocol": "TCP", "port": 8887},
                        ],
                    },
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
        )


def _deploy(_settings: PipelinesSettings, context: AddonContext) -> Deployed:
    missing = [n for n in ("object-store", "postgres") if n not in context.deployed]
    if missing:
        raise pulumi.RunError(
            f"Kubeflow Pipelines needs the {' and '.join(missing)} add-on(s) deployed before "
            "it; set ml-platform:platform.pipelines.enabled false"
        )
    args = PipelinesArgs(
        context.domain,
        context.inventory.first_control_plane,
        cast(ObjectStore, context.deployed["object-store"].component),
        cast(Postgres, context.deployed["postgres"].component),
        context.depends_on,
    )
    pipelines = KubeflowPipelines("kubeflow-pipelines", args, context.opts)
    return Deployed(
        pipelines,
        exports={
            "kubeflowPipelinesUrl": f"https://{pipelines.host}",
            "kubeflowPipelinesPassword": pulumi.Output.secret(pipelines.password.result),
        },
    )


ADDON: Addon[PipelinesSettings] = Addon(
    name="kubeflow-pipelines",
    summary="Kubeflow Pipelines standalone: runs in PostgreSQL, artifacts in the object store, UI at pipelines.<domain>",
    deploy=_deploy,
    settings=PipelinesSettings,
    section="pipelines",
    # Its bucket and databases; the UI's Ingress needs Traefik's Middleware CRD and the
    # `platform` issuer.
    needs=("object-store", "postgres", "ingress", "certificates"),
    charts=(),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled`, with the postgres and object-store add-ons",
    check=_check,
    namespaces=(NAMESPACE,),
)
