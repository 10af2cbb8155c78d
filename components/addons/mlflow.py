"""MLflow 3: the tracking server and model registry, from the community chart. Runs and models
go to its PostgreSQL database, artifacts through the server (`--serve-artifacts`) to its own
bucket, so clients need no bucket credentials. Logins: MLflow's basic auth with a generated
admin password, or the platform's OIDC provider when the stack names one. At
mlflow.<domain> behind Traefik with a certificate from the platform issuer; in the cluster at
`tracking_uri`, which other add-ons and tenants' jobs use (MLFLOW_TRACKING_URI).

Upstream facts (community-charts/helm-charts@mlflow-1.11.5:charts/mlflow): `backendStore.
databaseMigration` runs `mlflow db upgrade`'s engine in an init container on every start, so an
upgraded image migrates the schema before serving (templates/deployment.yaml,
templates/configmap.yaml `migrations.py`); `backendStore.existingDatabaseSecret` and
`auth.existingAdminSecret` read `username`/`password` keys; `artifactRoot.s3.existingSecret`
reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; the allowed hosts and CORS origins are the
ingress hosts plus `serverAllowedHosts` (templates/_helpers.tpl); `serviceMonitor.enabled`
adds `--expose-prometheus=/mlflow/metrics` (a directory prometheus-flask-exporter writes); the
server runs under uvicorn (`--uvicorn-opts`), which has no worker timeout to cut a long upload;
`oidcAuth` runs the mlflow-oidc-auth plugin (`--app-name=oidc-auth`), which the chart's image
carries (burakince/mlflow@3.15.1:pyproject.toml) and which cannot be combined with `auth`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.certificates import CLUSTER_ISSUER
from components.addons.helm import RESTRICTED, namespace, release
from components.addons.ingress import INGRESS_CLASS
from model.fields import Fields
from model.identity import Oidc
from model.services import BucketAccess, DatabaseAccess, ObjectStore, Postgres
from model.settings import Context, setting

NAMESPACE = "mlflow"
RELEASE = "mlflow"
# The chart's Service is the release's name on port 80 (templates/service.yaml).
TRACKING_URI = f"http://{RELEASE}.{NAMESPACE}.svc:80"
ADMIN_USER = "admin"
ADMIN_SECRET = "mlflow-admin"
OIDC_SECRET = "mlflow-oidc"
ARTIFACTS = "mlflow-artifacts"
Permission = Literal["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"]


@dataclass(frozen=True, kw_only=True)
class MlflowSettings:
    enabled: bool = setting("enabled", True, doc="run the MLflow tracking server and registry")
    replicas: int = setting("replicas", 1, minimum=1, doc="tracking server pods")
    default_permission: Permission = setting(
        "defaultPermission",
        "READ",
        doc="what a signed-in user may do with others' experiments and models",
    )


def _check(
    settings: MlflowSettings, section: Fields, _context: Context, others: Mapping[str, Any]
) -> None:
    if not settings.enabled:
        return
    if others["object-store"].provider == "none":
        section.bad(
            "enabled",
            "MLflow keeps artifacts in the object store, but objectStore.provider is none",
            "choose an object-store provider, or set mlflow.enabled: false",
        )
    if not others["postgres"].enabled:
        section.bad(
            "enabled",
            "MLflow keeps runs and models in PostgreSQL, but postgres.enabled is false",
            "set postgres.enabled: true, or mlflow.enabled: false",
        )


@dataclass(frozen=True)
class MlflowArgs:
    settings: MlflowSettings
    domain: str
    postgres: Postgres
    object_store: ObjectStore
    identity: Oidc | None
    # PostgreSQL, the object store, the Prometheus CRDs.
    depends_on: Sequence[pulumi.Resource]

    @property
    def host(self) -> str:
        return f"mlflow.{self.domain}"


def allowed_hosts() -> list[str]:
    """In-cluster names the server answers to, besides the ingress host (which the chart adds):
    MLflow refuses other Host headers (DNS rebinding)."""
    names = [f"{RELEASE}.{NAMESPACE}", f"{RELEASE}.{NAMESPACE}.svc",
             f"{RELEASE}.{NAMESPACE}.svc.cluster.local"]  # fmt: skip
    return [pattern for name in names for pattern in (name, f"{name}:*")]


def _auth_values(args: MlflowArgs, auth_db: DatabaseAccess) -> dict[str, Any]:
    database = {
        "enabled": True,
        "host": auth_db.host,
        "port": auth_db.port,
        "database": auth_db.database,
        "existingSecret": {"name": auth_db.secret_name},
    }
    if args.identity is None:
        return {
            "auth": {
                "enabled": True,
                "existingAdminSecret": {"name": ADMIN_SECRET},
                "defaultPermission": args.settings.default_permission,
                "postgres": database,
            }
        }
    oidc = args.identity
    return {
        "oidcAuth": {
            "enabled": True,
            "discoveryUrl": f"{oidc.issuer_url.rstrip('/')}/.well-known/openid-configuration",
            "clientId": oidc.client_id,
            "existingSecret": {"name": OIDC_SECRET},
            "redirectUri": f"https://{args.host}/callback",
            "groupsAttribute": oidc.groups_claim,
            "defaultPermission": args.settings.default_permission,
            "database": {"postgres": database},
        }
    }


def mlflow_values(
    args: MlflowArgs, db: DatabaseAccess, auth_db: DatabaseAccess, artifacts: BucketAccess
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "replicaCount": args.settings.replicas,
        # The restricted Pod Security level also wants seccomp.
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "backendStore": {
            "databaseMigration": True,
            "databaseConnectionCheck": True,
            "postgres": {
                "enabled": True,
                "host": db.host,
                "port": db.port,
                "database": db.database,
            },
            "existingDatabaseSecret": {"name": db.secret_name},
        },
        "artifactRoot": {
            "proxiedArtifactStorage": True,
            "s3": {
                "enabled": True,
                "bucket": artifacts.bucket,
                "existingSecret": {"name": artifacts.secret_name},
            },
        },
        "extraEnvVars": {
            "MLFLOW_S3_ENDPOINT_URL": artifacts.endpoint,
            "AWS_DEFAULT_REGION": artifacts.region,
        },
        "serverAllowedHosts": allowed_hosts(),
        "ingress": {
            "enabled": True,
            "className": INGRESS_CLASS,
            "annotations": {"cert-manager.io/cluster-issuer": CLUSTER_ISSUER},
            "hosts": [{"host": args.host, "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"hosts": [args.host], "secretName": "mlflow-tls"}],
        },
        "serviceMonitor": {
            "enabled": True,
            "namespace": NAMESPACE,
            # The Service's port `http`: the chart's default targetPort names no container port.
            "useServicePort": True,
        },
        # prometheus-flask-exporter writes its files there; the root file system is read-only.
        "extraVolumes": [{"name": "metrics", "emptyDir": {}}],
        "extraVolumeMounts": [{"name": "metrics", "mountPath": "/mlflow/metrics"}],
        **_auth_values(args, auth_db),
    }
    return values


class Mlflow(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: MlflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Mlflow", name, None, opts)
        # The chart runs as user 1001, read-only, without capabilities; seccomp is set above.
        ns = namespace(NAMESPACE, RESTRICTED, self, args.depends_on)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        db = args.postgres.database("mlflow", NAMESPACE, depends_on=[ns], parent=self)
        auth_db = args.postgres.database("mlflow_auth", NAMESPACE, depends_on=[ns], parent=self)
        artifacts = args.object_store.bucket(ARTIFACTS, NAMESPACE, depends_on=[ns], parent=self)
        ready: list[pulumi.Resource] = [*db.ready, *auth_db.ready, *artifacts.ready]
        self.admin_password: pulumi.Output[str] | None = None
        if args.identity is None:
            password = random.RandomPassword(
                f"{name}-admin-password", length=32, special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )  # fmt: skip
            self.admin_password = password.result
            ready.append(
                kubernetes.core.v1.Secret(
                    f"{name}-admin",
                    metadata={"name": ADMIN_SECRET, "namespace": NAMESPACE},
                    type="kubernetes.io/basic-auth",
                    string_data={"username": ADMIN_USER, "password": password.result},
                    opts=in_namespace,
                )
            )
        else:
            ready.append(
                kubernetes.core.v1.Secret(
                    f"{name}-oidc",
                    metadata={"name": OIDC_SECRET, "namespace": NAMESPACE},
                    string_data={"OIDC_CLIENT_SECRET": args.identity.client_secret},
                    opts=in_namespace,
                )
            )
        self.release = release(
            RELEASE,
            versions.MLFLOW,
            ns,
            mlflow_values(args, db, auth_db, artifacts),
            self,
            depends_on=ready,
        )
        self.url = f"https://{args.host}"
        self.tracking_uri = TRACKING_URI
        self.register_outputs({"url": self.url, "trackingUri": TRACKING_URI})


def _deploy(settings: MlflowSettings, context: AddonContext) -> Deployed:
    args = MlflowArgs(
        settings,
        context.domain,
        context.deployed["postgres"].component,
        context.deployed["object-store"].component,
        context.identity,
        context.depends_on,
    )
    mlflow = Mlflow("mlflow", args, context.opts)
    exports: dict[str, pulumi.Input[Any]] = {
        "mlflowUrl": mlflow.url,
        "mlflowTrackingUri": mlflow.tracking_uri,
    }
    if mlflow.admin_password is not None:
        exports["mlflowAdminPassword"] = mlflow.admin_password
    return Deployed(mlflow, exports)


ADDON: Addon[MlflowSettings] = Addon(
    name="mlflow",
    summary="MLflow 3 tracking server and model registry on PostgreSQL and the object store",
    deploy=_deploy,
    settings=MlflowSettings,
    section="mlflow",
    namespaces=("mlflow",),
    # Its database and bucket, and the ServiceMonitor CRD the chart checks for; its Ingress
    # needs neither Traefik nor cert-manager to be made.
    needs=("postgres", "object-store", "prometheus-crds"),
    charts=(versions.MLFLOW,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled`",
    check=_check,
)
