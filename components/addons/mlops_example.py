"""The reference MLOps loop (docs/mlops.md) on the platform, `platform.mlops.example`: the model
served in a tenant's namespace, the retraining pipeline uploaded to Kubeflow Pipelines and
trained once, the drift check as a CronJob through the tenant's Kueue queue, a dashboard and
alerts. Everything follows the loop's contract (docs/mlops.md, "Contract with the platform").

- MLflow: a user of the example's own (`mlops-example`) with a generated password, made by an
  admin step on the first control plane through MLflow's basic-auth API; it may edit its
  experiment (`mlops-<modelName>`) and its registered model, and read what MLflow's
  `defaultPermission` lets every user read. Its credentials are a Secret (`username`,
  `password`) in the tenant's namespace (the service, the drift check) and in `kubeflow`
  (the pipeline's steps); MLflow's admin credentials stay in MLflow's namespace.
- The model: the serving add-on's objects (serving.Serving) for one model, the service image
  with MLflow's address and credentials and the example's bucket for recorded inputs
  (objects there expire after `inputsRetentionDays`). Pulumi does not wait for it to serve:
  it has nothing to serve until the first run promotes a champion.
- The pipeline: a Job in `kubeflow` runs `python -m mlops.publish` in the train image (a new
  Job, so a new upload, when the image or the run's parameters change; nothing is uploaded
  when the newest version already has the spec), then, with `firstRun`, starts the first
  training when the model has no champion. The roll-out step's Role (get and patch on the
  model's Deployment) is bound to `pipeline-runner`, the service account of standalone runs.
- The drift check: a CronJob in the tenant's namespace, `concurrencyPolicy: Forbid`, its Jobs
  labelled for the tenant's LocalQueue, its pods allowed out to the Pushgateway and the KFP API
  only (beyond the tenant's own policies: DNS, MLflow, the object store), and the KFP API
  allowed in from them.
- Grafana: one dashboard (the model's panels from the serving add-on, then drift); alerts on
  the model's errors and latency (the serving add-on's rules) and on drift: detected, the check
  not running, too little traffic to judge.

Pipeline steps run in `kubeflow`, outside Kueue: standalone Kubeflow Pipelines runs them
there, and Kueue manages tenant namespaces only (components/addons/kueue.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from components.addons import admin, grafana, mlflow, monitoring, pipelines, serving
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.kueue import LOCAL_QUEUE, QUEUE_LABEL
from components.addons.serving import Replicas
from components.addons.tenancy import peer
from model.fields import Fields
from model.formats import DAILY_CRON, DATASET, DNS_LABEL, PINNED_IMAGE
from model.services import ACCESS_KEY_ID, PASSWORD, SECRET_ACCESS_KEY, USERNAME, ObjectStore
from model.settings import Context, setting, subsection
from model.values import DailySchedule

NAME = "mlops-example"
# MLflow's user and the Secret with its credentials (the pipeline's `mlflow_secret`).
MLFLOW_USER = NAME
MLFLOW_SECRET = f"{NAME}-mlflow"
# MLflow as its add-on installs it: the chart's Service (the release's name, port 80), one of
# the host names it answers to (mlflow.allowed_hosts), its admin's Secret (username, password).
MLFLOW = admin.MlflowServer(
    namespace=mlflow.NAMESPACE,
    service=mlflow.RELEASE,
    port=80,
    host=f"{mlflow.RELEASE}.{mlflow.NAMESPACE}.svc",
    admin_secret=mlflow.ADMIN_SECRET,
)
# What the user may do with its experiment and model: runs, versions, tags, aliases; not delete.
MLFLOW_PERMISSION = "EDIT"
# The loop's names (docs/mlops.md): the pipeline's display name (mlops/pipeline.py
# PIPELINE_NAME), the experiment train.py logs to, the Pushgateway job of the drift check
# (mlops/drift.py PUSH_JOB), the images' user.
PIPELINE = "mlops-retrain"
EXPERIMENT_PREFIX = "mlops-"
DRIFT_JOB = "mlops-drift"
IMAGE_USER = 10001
DRIFT = f"{NAME}-drift"
ROLLOUT = f"{NAME}-rollout"
PUBLISH = f"{NAME}-publish"
DASHBOARD_UID = "ml-platform-mlops-example"


@dataclass(frozen=True, kw_only=True)
class ExampleImages:
    train: str | None = setting(
        "train",
        None,
        format=PINNED_IMAGE,
        doc="mlops/docker/train.Dockerfile: the pipeline's steps and the upload Job",
    )
    service: str | None = setting(
        "service", None, format=PINNED_IMAGE, doc="mlops/docker/service.Dockerfile: the model"
    )
    drift: str | None = setting(
        "drift", None, format=PINNED_IMAGE, doc="mlops/docker/drift.Dockerfile: the drift check"
    )


@dataclass(frozen=True, kw_only=True)
class ExampleSettings:
    enabled: bool = setting(
        "enabled",
        False,
        doc="run the reference MLOps loop (docs/mlops.md); needs MLflow, the object store, "
        "Kubeflow Pipelines, Kueue, monitoring with its Pushgateway and a tenant",
    )
    tenant: str | None = setting(
        "tenant",
        None,
        format=DNS_LABEL,
        doc="the professor or course whose namespace serves the model and runs the drift check",
    )
    images: ExampleImages = subsection(
        "images",
        ExampleImages,
        doc="the loop's three images, pinned (built by .github/workflows/mlops.yml)",
    )
    model_name: str = setting(
        "modelName",
        "breast-cancer-classifier",
        format=DNS_LABEL,
        doc="the registered model in MLflow, its Deployment and its URL models.<domain>/<name>",
    )
    dataset: str = setting(
        "dataset",
        "breast_cancer",
        format=DATASET,
        doc="what the pipeline trains and validates on (the runs' `dataset` parameter)",
    )
    replicas: Replicas = subsection("replicas", Replicas, doc="the model's autoscaling bounds")
    drift_schedule: DailySchedule = setting(
        "driftSchedule",
        DailySchedule.parse("17 * * * *"),
        format=DAILY_CRON,
        doc="when the drift check runs (UTC); at least once a day",
    )
    drift_window_hours: int = setting(
        "driftWindowHours",
        24,
        minimum=1,
        maximum=168,
        doc="the recent inputs each check compares: longer than the time between two checks",
    )
    inputs_retention_days: int = setting(
        "inputsRetentionDays",
        30,
        minimum=1,
        doc="days the model's recorded inputs stay in their bucket (they are personal data "
        "when the model's inputs are)",
    )
    first_run: bool = setting(
        "firstRun",
        True,
        doc="start a training run once the pipeline is uploaded, when the model has no "
        "champion yet (until one exists, the model does not serve)",
    )


@dataclass(frozen=True, kw_only=True)
class MlopsSettings:
    example: ExampleSettings = subsection(
        "example", ExampleSettings, doc="the reference MLOps loop, on the platform"
    )


def _check(
    settings: MlopsSettings, section: Fields, context: Context, others: Mapping[str, Any]
) -> None:
    example = settings.example
    if not example.enabled:
        return
    key = section.key("example")

    def refuse(where: str, value: Any, message: str, fix: str) -> None:
        section.problems.add(f"{key}.{where}" if where else key, value, message, fix)

    for image in ("train", "service", "drift"):
        if getattr(example.images, image) is None:
            refuse(
                f"images.{image}", "(not set)", "is required when the example is enabled",
                f"set it to your build, e.g. ghcr.io/<owner>/<repo>/mlops-{image}:sha-<commit> "
                "(.github/workflows/mlops.yml pushes it)",
            )  # fmt: skip
    tenants = {m.name for m in context.tenants.members} if context.has_tenants else set()
    if example.tenant is None or example.tenant not in tenants:
        refuse(
            "tenant", example.tenant or "(not set)",
            "must name a tenant: the model and the drift check run in its namespace",
            f"name a professor or course of `tenants`: {', '.join(sorted(tenants)) or 'none configured'}",
        )  # fmt: skip
    monitoring_on = others["monitoring"].enabled and others["monitoring"].pushgateway
    needed = (
        (_mlflow_off(others), "keeps the model, its runs and its user in MLflow",
         "platform.mlflow.enabled", "false"),
        (_store_off(others), "records the model's inputs in the object store",
         "platform.objectStore.provider", "none"),
        (not others["kubeflow-pipelines"].enabled,
         "uploads and runs its retraining pipeline in Kubeflow Pipelines",
         "platform.pipelines.enabled", "false"),
        (not others["kueue"].enabled, "queues its drift check with Kueue",
         "platform.queueing.enabled", "false"),
        (not monitoring_on, "pushes the drift check's metrics to the Pushgateway",
         "platform.monitoring.pushgateway", "off (or monitoring is)"),
    )  # fmt: skip
    for missing, why, needed_key, state in needed:
        if missing:
            refuse(
                "enabled", True, f"the example {why}, but {needed_key} is {state}",
                f"turn on {needed_key} (with what it needs), or set mlops.example.enabled: false",
            )  # fmt: skip
    served = {(m.namespace, m.name) for m in others["serving"].models}
    if (example.tenant, example.model_name) in served:
        refuse(
            "modelName", example.model_name,
            f"platform.serving.models serves {example.tenant}/{example.model_name} already",
            "give the example another modelName, or remove that model from serving",
        )  # fmt: skip
    gap_hours = example.drift_schedule.longest_gap_minutes / 60
    if example.drift_window_hours <= gap_hours:
        refuse(
            "driftWindowHours", example.drift_window_hours,
            f"is not longer than the {gap_hours:g} h between two drift checks "
            f"({example.drift_schedule}): inputs between them would never be checked",
            f"set it above {gap_hours:g}, or run the check more often",
        )  # fmt: skip


def _mlflow_off(others: Mapping[str, Any]) -> bool:
    return not others["mlflow"].enabled


def _store_off(others: Mapping[str, Any]) -> bool:
    return others["object-store"].provider == "none"


# ---- what the example is made of, as plain objects -------------------------------------------


def pipeline_parameters(settings: ExampleSettings) -> dict[str, str]:
    """The run parameters of every training: the first one and the drift check's
    (docs/mlops.md, "The pipeline")."""
    return {
        "tracking_uri": mlflow.TRACKING_URI,
        "service_namespace": cast(str, settings.tenant),
        "service_deployment": settings.model_name,
        "model_name": settings.model_name,
        "dataset": settings.dataset,
        "mlflow_secret": MLFLOW_SECRET,
    }


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def mlflow_env(secret: str = MLFLOW_SECRET) -> list[dict[str, Any]]:
    return [
        {"name": "MLFLOW_TRACKING_URI", "value": mlflow.TRACKING_URI},
        _secret_env("MLFLOW_TRACKING_USERNAME", secret, USERNAME),
        _secret_env("MLFLOW_TRACKING_PASSWORD", secret, PASSWORD),
    ]


@dataclass(frozen=True)
class Bucket:
    """The recorded inputs' bucket as pods see it (`name` and `endpoint` may be Outputs)."""

    name: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    region: str
    secret: str  # ACCESS_KEY_ID and SECRET_ACCESS_KEY, in the tenant's namespace


def bucket_env(bucket: Bucket) -> list[dict[str, Any]]:
    """The service's and the drift check's S3 settings (docs/mlops.md, the service)."""
    return [
        {"name": "MLOPS_S3_BUCKET", "value": bucket.name},
        {"name": "MLOPS_S3_ENDPOINT_URL", "value": bucket.endpoint},
        {"name": "AWS_REGION", "value": bucket.region},
        _secret_env("AWS_ACCESS_KEY_ID", bucket.secret, ACCESS_KEY_ID),
        _secret_env("AWS_SECRET_ACCESS_KEY", bucket.secret, SECRET_ACCESS_KEY),
    ]


def served_model(settings: ExampleSettings) -> serving.Model:
    """The example's model for the serving add-on: its own env holds what is known from the
    settings; the bucket's comes as the platform's env (ServingArgs.env)."""
    secret = f"{MLFLOW_SECRET}/"
    return serving.Model(
        name=settings.model_name,
        image=cast(str, settings.images.service),
        namespace=cast(str, settings.tenant),
        replicas=settings.replicas,
        # Measured with the reference model: 204 MiB resident (docs/mlops.md, the service).
        resources=serving.Resources(cpu="250m", memory="512Mi"),
        env=(
            serving.EnvVar(name="MLFLOW_TRACKING_URI", value=mlflow.TRACKING_URI),
            serving.EnvVar(name="MLFLOW_TRACKING_USERNAME", secret=secret + USERNAME),
            serving.EnvVar(name="MLFLOW_TRACKING_PASSWORD", secret=secret + PASSWORD),
            serving.EnvVar(name="MLOPS_MODEL_NAME", value=settings.model_name),
        ),
    )


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": f"{NAME}-{component}",
        "app.kubernetes.io/part-of": "ml-platform",
    }


def _pod(
    component: str, image: str, env: Sequence[Mapping[str, Any]], cpu: str, memory: str, **more: Any
) -> dict[str, Any]:
    """A pod template the restricted Pod Security level admits: the images' user, no
    privilege, the runtime's seccomp profile, a read-only root with /tmp writable
    (docs/mlops.md, "Images"); no service account token (neither pod calls Kubernetes)."""
    container: dict[str, Any] = {
        "name": component,
        "image": image,
        "env": list(env),
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        **more,
    }
    return {
        "metadata": {"labels": _labels(component)},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": IMAGE_USER,
                "runAsGroup": IMAGE_USER,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def publish_job_name(settings: ExampleSettings) -> str:
    """A Job per image and run parameters: a change runs the upload again (a Job's template
    cannot change), an unchanged config keeps the Job that ran."""
    what = json.dumps(
        [settings.images.train, pipeline_parameters(settings), settings.first_run], sort_keys=True
    )
    return f"{PUBLISH}-{hashlib.sha256(what.encode()).hexdigest()[:10]}"


def publish_job(settings: ExampleSettings) -> dict[str, Any]:
    """`python -m mlops.publish` in the train image, in Kubeflow Pipelines' namespace."""
    env = [
        {"name": "MLOPS_TRAIN_IMAGE", "value": settings.images.train},
        {"name": "MLOPS_KFP_ENDPOINT", "value": pipelines.API_URL},
        {"name": "MLOPS_KFP_PIPELINE_NAME", "value": PIPELINE},
        {"name": "MLOPS_KFP_PIPELINE_PARAMS", "value": json.dumps(pipeline_parameters(settings))},
        {"name": "MLOPS_MODEL_NAME", "value": settings.model_name},
        *mlflow_env(),
    ]
    command = ["python", "-m", "mlops.publish", *(["--first-run"] if settings.first_run else [])]
    return {
        "metadata": {
            "name": publish_job_name(settings),
            "namespace": pipelines.NAMESPACE,
            "labels": _labels("publish"),
        },
        "spec": {
            "backoffLimit": 4,
            "activeDeadlineSeconds": 900,
            "template": _pod(
                "publish", cast(str, settings.images.train), env, "250m", "512Mi", command=command
            ),
        },
    }


def drift_cron_job(settings: ExampleSettings, bucket: Bucket) -> dict[str, Any]:
    """The drift check (docs/mlops.md, "The drift job"), its Jobs in the tenant's queue."""
    env = [
        *mlflow_env(),
        {"name": "MLOPS_MODEL_NAME", "value": settings.model_name},
        *bucket_env(bucket),
        {"name": "MLOPS_DRIFT_WINDOW_HOURS", "value": str(settings.drift_window_hours)},
        {"name": "MLOPS_PUSHGATEWAY_URL", "value": monitoring.PUSHGATEWAY_URL},
        {"name": "MLOPS_KFP_ENDPOINT", "value": pipelines.API_URL},
        {"name": "MLOPS_KFP_PIPELINE_NAME", "value": PIPELINE},
        {"name": "MLOPS_KFP_PIPELINE_PARAMS", "value": json.dumps(pipeline_parameters(settings))},
    ]
    return {
        "metadata": {"name": DRIFT, "namespace": settings.tenant, "labels": _labels("drift")},
        "spec": {
            "schedule": str(settings.drift_schedule),
            "timeZone": "Etc/UTC",
            # One check at a time: a slow one is not joined by the next.
            "concurrencyPolicy": "Forbid",
            # A check that could not start within ten minutes (a full queue) is skipped.
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                # Kueue reads a Job's queue from this label; the CronJob controller copies the
                # template's labels to every Job it makes.
                "metadata": {"labels": {**_labels("drift"), QUEUE_LABEL: LOCAL_QUEUE}},
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 1800,
                    # 0.26 s of tests for 100,000 rows measured: 1 CPU and 1 GiB.
                    "template": _pod("drift", cast(str, settings.images.drift), env, "1", "1Gi"),
                },
            },
        },
    }


def drift_egress(settings: ExampleSettings) -> dict[str, Any]:
    """The drift pods' egress beyond the tenant's policies: the Pushgateway and the KFP API."""
    return {
        "podSelector": {"matchLabels": _labels("drift")},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [peer(monitoring.NAMESPACE, monitoring.PUSHGATEWAY_POD_LABELS)],
                "ports": [{"protocol": "TCP", "port": monitoring.PUSHGATEWAY_PORT}],
            },
            {
                "to": [peer(pipelines.NAMESPACE, pipelines.API_POD_LABELS)],
                "ports": [{"protocol": "TCP", "port": pipelines.API_PORT}],
            },
        ],
    }


def pipelines_ingress(settings: ExampleSettings) -> dict[str, Any]:
    """The KFP API's side: Kubeflow Pipelines admits only the platform's namespaces."""
    return {
        "podSelector": {"matchLabels": dict(pipelines.API_POD_LABELS)},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [peer(cast(str, settings.tenant), _labels("drift"))],
                "ports": [{"protocol": "TCP", "port": pipelines.API_PORT}],
            }
        ],
    }


def rollout_rules(settings: ExampleSettings) -> list[dict[str, Any]]:
    """What the pipeline's roll-out step does to the model (mlops/rollout.py)."""
    return [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": [settings.model_name],
            "verbs": ["get", "patch"],
        }
    ]


def _drift_selector(settings: ExampleSettings) -> str:
    return f'job="{DRIFT_JOB}",model="{settings.model_name}"'


def stale_after_seconds(settings: ExampleSettings) -> int:
    """The drift check is late after three of its periods (hourly: three hours)."""
    return 3 * settings.drift_schedule.longest_gap_minutes * 60


def drift_rules(settings: ExampleSettings) -> dict[str, Any]:
    selector = _drift_selector(settings)
    last_run = f"mlops_drift_last_run_timestamp_seconds{{{selector}}}"
    stale = stale_after_seconds(settings)

    def rule(alert: str, expr: str, for_: str | None, severity: str, summary: str) -> dict:
        entry: dict[str, Any] = {"alert": alert, "expr": expr}
        if for_:
            entry["for"] = for_
        entry["labels"] = {"severity": severity}
        entry["annotations"] = {"summary": summary}
        return entry

    return {
        "name": f"{NAME}-drift",
        "rules": [
            rule("MlopsDriftDetected", f"max by (model) (mlops_drift_detected{{{selector}}}) == 1",
                 None, "warning",
                 "the inputs of model {{ $labels.model }} drifted from its training data; the "
                 "check started a retraining run unless one was running (Kubeflow Pipelines)"),
            rule("MlopsDriftCheckNotRunning", f"time() - max by (model) ({last_run}) > {stale}",
                 "10m", "warning",
                 f"the drift check of {settings.model_name} has not run for "
                 "{{ $value | humanizeDuration }}: see its CronJob's Jobs in " + f"{settings.tenant}"),
            rule("MlopsDriftCheckNotRunning", f"absent({last_run})", f"{stale}s", "warning",
                 f"the drift check of {settings.model_name} has never reported: see its "
                 f"CronJob's Jobs in {settings.tenant}"),
            rule("MlopsDriftUndecided", f"max by (model) (mlops_drift_decided{{{selector}}}) == 0",
                 "6h", "info",
                 "model {{ $labels.model }} had too few recent requests for the drift check to judge"),
        ],
    }  # fmt: skip


def alert_groups(settings: ExampleSettings) -> list[dict[str, Any]]:
    model = served_model(settings)
    return [*serving.alert_rules([model], group=f"{NAME}-model"), drift_rules(settings)]


def dashboard(settings: ExampleSettings) -> dict[str, Any]:
    """The model as the serving dashboard shows it, then its drift and what it serves."""
    selector = _drift_selector(settings)
    served = f'mlops_model_info{{model="{settings.model_name}",namespace="{settings.tenant}"}}'
    drift = [
        grafana.Panel(
            "Drift",
            (
                (f"max by (model) (mlops_drift_detected{{{selector}}})", "drift detected"),
                (f"max by (model) (mlops_drift_decided{{{selector}}})", "decided"),
                (f"max by (model) (mlops_drift_retraining_started{{{selector}}})", "retraining"),
            ),
        ),
        grafana.Panel(
            "KS statistic per feature",
            ((f"max by (feature) (mlops_drift_ks_statistic{{{selector}}})", "{{feature}}"),),
        ),
        grafana.Panel(
            "Drifted features",
            ((f"sum by (model) (mlops_drift_feature_drifted{{{selector}}})", "features"),),
        ),
        grafana.Panel(
            "Rows compared",
            ((f"max by (set) (mlops_drift_samples{{{selector}}})", "{{set}}"),),
        ),
        grafana.Panel(
            "Since the last drift check",
            (
                (
                    f"time() - max by (model) (mlops_drift_last_run_timestamp_seconds{{{selector}}})",
                    "age",
                ),
            ),
            "s",
        ),
        grafana.Panel(
            "Served and reference versions",
            (
                (f"count by (version) ({served})", "pods serving version {{version}}"),
                (
                    f"max by (model) (mlops_drift_reference_version{{{selector}}})",
                    "drift reference version",
                ),
            ),
        ),
    ]
    panels = [*serving.model_panels([served_model(settings)]), *drift]
    return grafana.dashboard(DASHBOARD_UID, "MLOps example", panels, tags=["mlops"])


# ---- the component ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MlopsExampleArgs:
    settings: ExampleSettings
    domain: str
    # The tenant's Namespace, the object store (the inputs' bucket), and what each part waits
    # for: MLflow (the user), Kubeflow Pipelines (the upload, its Secret and policy), Kueue
    # (the CronJob), monitoring (the dashboard, the rules, the Pushgateway).
    tenant: pulumi.Resource
    object_store: ObjectStore
    mlflow: pulumi.Resource
    pipelines: pulumi.Resource
    kueue: pulumi.Resource
    monitoring: pulumi.Resource
    # Everything the add-on needs (Traefik's CRDs, the issuer, the Prometheus CRDs...).
    depends_on: Sequence[pulumi.Resource]


class MlopsExample(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: MlopsExampleArgs,
        context: AddonContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-platform:platform:MlopsExample", name, None, opts)
        settings = args.settings
        tenant = cast(str, settings.tenant)

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(resources))

        password = random.RandomPassword(
            f"{name}-mlflow-password", length=32, special=False, opts=after()
        )
        user = admin.mlflow_user(
            f"{name}-mlflow-user",
            username=MLFLOW_USER,
            password=password.result,
            experiment=f"{EXPERIMENT_PREFIX}{settings.model_name}",
            model=settings.model_name,
            permission=MLFLOW_PERMISSION,
            mlflow=MLFLOW,
            context=context,
            parent=self,
            depends_on=[args.mlflow],
        )
        credentials = {USERNAME: MLFLOW_USER, PASSWORD: password.result}
        tenant_secret = kubernetes.core.v1.Secret(
            f"{name}-mlflow-credentials",
            metadata={"name": MLFLOW_SECRET, "namespace": tenant, "labels": _labels("mlflow")},
            type="kubernetes.io/basic-auth",
            string_data=credentials,
            opts=after(args.tenant),
        )
        pipeline_secret = kubernetes.core.v1.Secret(
            f"{name}-pipeline-mlflow-credentials",
            metadata={
                "name": MLFLOW_SECRET,
                "namespace": pipelines.NAMESPACE,
                "labels": _labels("mlflow"),
            },
            type="kubernetes.io/basic-auth",
            string_data=credentials,
            opts=after(args.pipelines),
        )
        access = args.object_store.bucket(
            NAME,
            tenant,
            expire_after_days=settings.inputs_retention_days,
            depends_on=[args.tenant],
            parent=self,
        )
        bucket = Bucket(access.bucket, access.endpoint, access.region, access.secret_name)
        ready = [tenant_secret, *access.ready, user]

        model = serving.Serving(
            f"{name}-serving",
            serving.ServingArgs(
                models=(served_model(settings),),
                host=f"models.{args.domain}",
                monitored=False,  # the example's dashboard and rules show it (below)
                depends_on=[*args.depends_on, *ready],
                env=bucket_env(bucket),
                wait_ready=False,
            ),
            opts=after(),
        )
        role = kubernetes.rbac.v1.Role(
            f"{name}-rollout",
            metadata={"name": ROLLOUT, "namespace": tenant, "labels": _labels("rollout")},
            rules=rollout_rules(settings),
            opts=after(args.tenant),
        )
        binding = kubernetes.rbac.v1.RoleBinding(
            f"{name}-rollout",
            metadata={"name": ROLLOUT, "namespace": tenant, "labels": _labels("rollout")},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLLOUT},
            subjects=[
                {
                    "kind": "ServiceAccount",
                    "name": pipelines.PIPELINE_RUNNER,
                    "namespace": pipelines.NAMESPACE,
                }
            ],
            opts=after(role),
        )
        job = publish_job(settings)
        kubernetes.batch.v1.Job(
            f"{name}-publish",
            metadata=job["metadata"],
            spec=job["spec"],
            # The first run trains with the pipeline's Secret, and rolls the model out.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[args.pipelines, pipeline_secret, user, binding, model],
                custom_timeouts=pulumi.CustomTimeouts(create="20m", update="20m"),
            ),
        )
        cron = drift_cron_job(settings, bucket)
        kubernetes.batch.v1.CronJob(
            f"{name}-drift",
            metadata=cron["metadata"],
            spec=cron["spec"],
            opts=after(args.kueue, args.monitoring, *ready),
        )
        kubernetes.networking.v1.NetworkPolicy(
            f"{name}-drift-egress",
            metadata={"name": DRIFT, "namespace": tenant, "labels": _labels("drift")},
            spec=drift_egress(settings),
            opts=after(args.tenant),
        )
        kubernetes.networking.v1.NetworkPolicy(
            f"{name}-drift-to-pipelines",
            metadata={"name": DRIFT, "namespace": pipelines.NAMESPACE, "labels": _labels("drift")},
            spec=pipelines_ingress(settings),
            opts=after(args.pipelines),
        )
        grafana.dashboard_configmap(
            name, monitoring.NAMESPACE, "MLOps", dashboard(settings), self, [args.monitoring]
        )
        kubernetes.apiextensions.CustomResource(
            f"{name}-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": NAME, "namespace": monitoring.NAMESPACE},
            spec={"groups": alert_groups(settings)},
            opts=after(args.monitoring, *args.depends_on),
        )
        self.url = f"https://models.{args.domain}/{settings.model_name}"
        self.register_outputs({"url": self.url})


def _deploy(settings: MlopsSettings, context: AddonContext) -> Deployed:
    example = settings.example
    deployed = context.deployed
    missing = [n for n in REQUIRED if n not in deployed]
    if missing:
        raise pulumi.RunError(
            f"the MLOps example needs the {', '.join(missing)} add-on(s) deployed before it; "
            "set ml-platform:platform.mlops.example.enabled false"
        )
    tenant = deployed["tenancy"].component.spaces[cast(str, example.tenant)].namespace
    args = MlopsExampleArgs(
        settings=example,
        domain=context.domain,
        tenant=tenant,
        object_store=cast(ObjectStore, deployed["object-store"].component),
        mlflow=deployed["mlflow"].component,
        pipelines=deployed["kubeflow-pipelines"].component,
        kueue=deployed["kueue"].component,
        monitoring=deployed["monitoring"].component,
        depends_on=context.depends_on,
    )
    component = MlopsExample(NAME, args, context, context.opts)
    return Deployed(component, exports={"mlopsExampleModelUrl": component.url})


# What it waits for: its tenant, the data services, Kubeflow Pipelines, Kueue, monitoring
# (Pushgateway, Grafana's sidecar), and what the model's objects need (the serving add-on's:
# the Prometheus CRDs, Traefik's Middleware CRD, the issuer).
NEEDS = (
    "tenancy",
    "object-store",
    "mlflow",
    "kubeflow-pipelines",
    "kueue",
    "monitoring",
    "prometheus-crds",
    "ingress",
    "certificates",
)
# The add-ons whose components it uses (the others it only waits for when they are there).
REQUIRED = ("tenancy", "object-store", "mlflow", "kubeflow-pipelines", "kueue", "monitoring")

ADDON: Addon[MlopsSettings] = Addon(
    name=NAME,
    summary="The reference MLOps loop on the platform: the model served, the retraining "
    "pipeline uploaded and trained once, the drift check queued on a schedule, dashboard and "
    "alerts",
    deploy=_deploy,
    settings=MlopsSettings,
    section="mlops",
    needs=NEEDS,
    enabled=lambda settings, _context: settings.example.enabled,
    when="`example.enabled`, with MLflow, the object store, Kubeflow Pipelines, Kueue, "
    "monitoring's Pushgateway and a tenant",
    check=_check,
)
