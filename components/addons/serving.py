"""Model serving: each model in `platform.serving.models`, a Bento (or any HTTP) image pinned by
tag or digest, served in its tenant's namespace as a Deployment with `/livez` and `/readyz`
probes and a rolling update that never drops below the serving replicas, a Service, a
HorizontalPodAutoscaler, a PodDisruptionBudget, a ServiceMonitor on `/metrics`, a
NetworkPolicy and an Ingress at `models.<domain>/<name>` with TLS; one Grafana dashboard and
alerts on error rate and latency for all of them. No Yatai (DESIGN.md, "Decisions"): what a
BentoML deployment service would manage is these objects."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as kubernetes

from components.addons import grafana
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.certificates import CLUSTER_ISSUER
from components.addons.ingress import INGRESS_CLASS
from model.fields import Fields
from model.formats import CPU, DNS_LABEL, ENV_NAME, MEMORY, PINNED_IMAGE, SECRET_KEY_REF
from model.settings import Context, setting, subsection

MONITORING_NAMESPACE = "monitoring"
INGRESS_NAMESPACE = "traefik"
# The GPU operator's RuntimeClass: with CDI and without nvidia as containerd's default runtime,
# a GPU pod names it (NVIDIA/gpu-operator@v26.7.0 deployments/gpu-operator/values.yaml
# `operator.runtimeClass: nvidia`, `cdi.default: false`).
GPU_RUNTIME_CLASS = "nvidia"
GPU_RESOURCES = {"whole": "nvidia.com/gpu", "shared": "nvidia.com/gpu.shared"}
# Alert thresholds: a model answering 5xx to more than this share of requests, or slower than
# this at the 99th percentile, for ten minutes.
ERROR_RATIO = 0.05
LATENCY_P99_SECONDS = 1.0
# BentoML's own request metrics: every Bento has them, whatever its code (bentoml 1.4.40:
# `_bentoml_impl/server/app.py` adds RunnerTrafficMetricsMiddleware with the namespace of
# `api_server.metrics.namespace`, default `bentoml_service`; `_internal/server/http/
# instruments.py` names `request_total` and `request_duration_seconds`, labelled endpoint,
# service_name, service_version, http_response_code, runner_name). It skips the probes itself.
REQUESTS = "bentoml_service_request_total"
DURATION = "bentoml_service_request_duration_seconds_bucket"
NOT_PROBES = 'endpoint!~"/livez|/readyz|/metrics|/healthz"'


@dataclass(frozen=True, kw_only=True)
class Replicas:
    min: int = setting("min", 1, minimum=1, doc="replicas the autoscaler keeps at least")
    max: int = setting("max", 3, minimum=1, doc="replicas it may scale to")


@dataclass(frozen=True, kw_only=True)
class Resources:
    cpu: str = setting("cpu", "500m", format=CPU, doc="CPU requested per replica")
    memory: str = setting(
        "memory", "1Gi", format=MEMORY, doc="memory requested (and the limit) per replica"
    )


@dataclass(frozen=True, kw_only=True)
class EnvVar:
    name: str = setting("name", format=ENV_NAME, doc="the variable")
    value: str | None = setting("value", None, doc="its value (not secret: it is in the state)")
    secret: str | None = setting(
        "secret",
        None,
        format=SECRET_KEY_REF,
        doc="or `<secret>/<key>` of a Secret in the namespace",
    )


@dataclass(frozen=True, kw_only=True)
class Model:
    name: str = setting("name", format=DNS_LABEL, doc="the Deployment's name and URL path")
    image: str = setting("image", format=PINNED_IMAGE, doc="the Bento image")
    namespace: str = setting("namespace", format=DNS_LABEL, doc="the tenant serving it")
    port: int = setting("port", 3000, minimum=1, maximum=65535, doc="HTTP port (BentoML: 3000)")
    replicas: Replicas = subsection("replicas", Replicas, doc="autoscaling bounds")
    target_cpu: int = setting(
        "targetCpuUtilization",
        70,
        minimum=1,
        maximum=100,
        doc="average CPU use (% of the request) the autoscaler aims at",
    )
    resources: Resources = subsection("resources", Resources, doc="per replica")
    gpu: Literal["none", "shared", "whole"] = setting(
        "gpu", "none", doc="a time-sliced share of a GPU (no memory isolation), or a whole one"
    )
    env: tuple[EnvVar, ...] = setting("env", (), doc="environment, e.g. MLFLOW_TRACKING_URI")


@dataclass(frozen=True, kw_only=True)
class ServingSettings:
    models: tuple[Model, ...] = setting("models", (), doc="the models to serve")


def _check(
    settings: ServingSettings, section: Fields, _context: Context, others: Mapping[str, Any]
) -> None:
    for (namespace, name), seen in Counter((m.namespace, m.name) for m in settings.models).items():
        if seen > 1:
            section.bad("models", f"{seen} models are {namespace}/{name}", "give each its own name")
    gpu = others["gpu"]
    for index, model in enumerate(settings.models):
        key = f"{section.key('models')}[{index}]"
        if model.replicas.min > model.replicas.max:
            section.problems.add(
                f"{key}.replicas", f"{model.replicas.min}-{model.replicas.max}",
                "min is above max", "set min at most max",
            )  # fmt: skip
        if model.gpu != "none" and not gpu.enabled:
            section.problems.add(
                f"{key}.gpu", model.gpu, "asks for a GPU but platform.gpu is not enabled",
                "enable platform.gpu or set gpu: none",
            )  # fmt: skip
        if model.gpu == "shared" and gpu.time_slicing_replicas < 2:
            section.problems.add(
                f"{key}.gpu", "shared", "no GPU is shared (platform.gpu.timeSlicing.replicas is 1)",
                "raise timeSlicing.replicas or ask for a whole GPU",
            )  # fmt: skip
        for name, seen in Counter(e.name for e in model.env).items():
            if seen > 1:
                section.problems.add(f"{key}.env", name, "is set twice", "set it once")
        for n, env in enumerate(model.env):
            if (env.value is None) == (env.secret is None):
                section.problems.add(
                    f"{key}.env[{n}]", env.name, "needs exactly one of value and secret",
                    "give it a value, or a secret as <secret>/<key>",
                )  # fmt: skip


def _labels(model: Model) -> dict[str, str]:
    return {"app.kubernetes.io/name": model.name, "app.kubernetes.io/component": "model"}


def _env(model: Model) -> list[dict[str, Any]]:
    env = []
    for var in model.env:
        if var.secret is None:
            env.append({"name": var.name, "value": var.value})
        else:
            secret, _, key = var.secret.partition("/")
            env.append(
                {"name": var.name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            )
    return env


# Pulumi waits for a Deployment to be rolled out and for a Service to have ready endpoints
# (pulumi/pulumi-kubernetes@v4.32.0: provider/pkg/await/awaiters.go, service.go
# processEndpointEvent), ten minutes each by default; this annotation skips the wait
# (provider/pkg/metadata/annotations.go, AnnotationSkipAwait).
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


def deployment(
    model: Model, extra_env: Sequence[Mapping[str, Any]] = (), wait_ready: bool = True
) -> dict[str, Any]:
    """The model's Deployment; its replica count is the autoscaler's. `extra_env`: variables
    the platform adds to the model's own (their values may be Outputs); `wait_ready` False:
    Pulumi does not wait for it to serve (a model whose first version comes later)."""
    labels = _labels(model)
    probe = {"httpGet": {"path": "/readyz", "port": "http"}}
    resources: dict[str, dict[str, str]] = {
        "requests": {"cpu": model.resources.cpu, "memory": model.resources.memory},
        "limits": {"memory": model.resources.memory},
    }
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        # Pod Security `restricted` (tenant namespaces): non-root, no escalation, no
        # capabilities, the runtime's seccomp profile, a read-only root with /tmp writable.
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "model",
                "image": model.image,
                "ports": [{"name": "http", "containerPort": model.port}],
                "env": [*_env(model), *extra_env],
                "resources": resources,
                # The model loads before /readyz answers: up to five minutes.
                "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 60},
                "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
                "livenessProbe": {
                    "httpGet": {"path": "/livez", "port": "http"},
                    "periodSeconds": 10,
                    "failureThreshold": 3,
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if model.gpu != "none":
        gpu = GPU_RESOURCES[model.gpu]
        resources["requests"][gpu] = resources["limits"][gpu] = "1"
        pod["runtimeClassName"] = GPU_RUNTIME_CLASS
    metadata: dict[str, Any] = {"name": model.name, "namespace": model.namespace, "labels": labels}
    if not wait_ready:
        metadata["annotations"] = dict(SKIP_AWAIT)
    return {
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": labels},
            # A new version that fails to load leaves the old replicas serving.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "revisionHistoryLimit": 5,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def autoscaler(model: Model) -> dict[str, Any]:
    return {
        "metadata": {"name": model.name, "namespace": model.namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": model.name},
            "minReplicas": model.replicas.min,
            "maxReplicas": model.replicas.max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": model.target_cpu},
                    },
                }
            ],
        },
    }


def network_policy(model: Model) -> dict[str, Any]:
    """Requests reach the model only from the ingress controller and Prometheus."""
    sources = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
        for namespace in (INGRESS_NAMESPACE, MONITORING_NAMESPACE)
    ]
    return {
        "metadata": {"name": f"{model.name}-ingress", "namespace": model.namespace},
        "spec": {
            "podSelector": {"matchLabels": _labels(model)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": sources, "ports": [{"port": model.port, "protocol": "TCP"}]}],
        },
    }


def ingress(model: Model, host: str) -> dict[str, Any]:
    """models.<domain>/<name>, the prefix stripped by a Traefik middleware, TLS from the
    platform's issuer (cert-manager's ingress-shim makes the certificate)."""
    middleware = f"{model.namespace}-{model.name}-strip@kubernetescrd"
    return {
        "metadata": {
            "name": model.name,
            "namespace": model.namespace,
            "annotations": {
                "cert-manager.io/cluster-issuer": CLUSTER_ISSUER,
                "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
                "traefik.ingress.kubernetes.io/router.tls": "true",
                "traefik.ingress.kubernetes.io/router.middlewares": middleware,
            },
        },
        "spec": {
            "ingressClassName": INGRESS_CLASS,
            "tls": [{"hosts": [host], "secretName": f"{model.name}-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": f"/{model.name}",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": model.name, "port": {"name": "http"}}
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }


def models_dashboard(models: Sequence[Model]) -> dict:
    """Requests, latency percentiles, errors, replicas and GPU use per model."""
    return grafana.dashboard("ml-platform-models", "Models", model_panels(models), tags=["serving"])


def model_panels(models: Sequence[Model]) -> list[grafana.Panel]:
    """The dashboard's panels for `models` (other dashboards show a model with them)."""
    names = "|".join(m.name for m in models)
    by = "namespace, service"
    selector = f'service=~"{names}",{NOT_PROBES}'
    latency = [
        (
            f"histogram_quantile({q}, sum by ({by}, le) (rate({DURATION}{{{selector}}}[5m])))",
            f"{{{{service}}}} p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]
    return [
        grafana.Panel(
            "Requests",
            ((f"sum by ({by}) (rate({REQUESTS}{{{selector}}}[5m]))", "{{service}}"),),
            "reqps",
        ),
        grafana.Panel("Latency", tuple(latency), "s"),
        grafana.Panel(
            "Errors (5xx share)",
            ((_error_ratio(selector), "{{service}}"),),
            "percentunit",
        ),
        grafana.Panel(
            "Replicas",
            (
                (
                    f'sum by (namespace, deployment) (kube_deployment_status_replicas_available{{deployment=~"{names}"}})',
                    "{{deployment}}",
                ),
            ),
        ),
        grafana.Panel(
            "GPU use",
            (
                (
                    f'avg by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL{{pod=~"({names})-.+"}})',
                    "{{pod}}",
                ),
            ),
            "percent",
        ),
    ]


def _error_ratio(selector: str) -> str:
    by = "namespace, service"
    errors = f'sum by ({by}) (rate({REQUESTS}{{{selector},http_response_code=~"5.."}}[5m]))'
    return f"{errors} / sum by ({by}) (rate({REQUESTS}{{{selector}}}[5m]))"


def alert_rules(models: Sequence[Model], group: str = "models") -> list[dict[str, Any]]:
    """The error-rate and latency alerts of `models`, as one rule group named `group`."""
    selector = f'service=~"{"|".join(m.name for m in models)}",{NOT_PROBES}'
    p99 = f"histogram_quantile(0.99, sum by (namespace, service, le) (rate({DURATION}{{{selector}}}[5m])))"
    return [
        {
            "name": group,
            "rules": [
                {
                    "alert": "ModelErrorRateHigh",
                    "expr": f"{_error_ratio(selector)} > {ERROR_RATIO}",
                    "for": "10m",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "model {{ $labels.namespace }}/{{ $labels.service }} answers "
                        "{{ $value | humanizePercentage }} of requests with errors"
                    },
                },
                {
                    "alert": "ModelLatencyHigh",
                    "expr": f"{p99} > {LATENCY_P99_SECONDS}",
                    "for": "10m",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "model {{ $labels.namespace }}/{{ $labels.service }} p99 latency "
                        "is {{ $value | humanizeDuration }}"
                    },
                },
            ],
        }
    ]


@dataclass(frozen=True)
class ServingArgs:
    models: tuple[Model, ...]
    host: str
    monitored: bool  # the stack has monitoring: ship the dashboard and the alerts
    depends_on: Sequence[pulumi.Resource]
    # Variables the platform gives every model of this component besides its own settings,
    # as container env entries (values may be Outputs: a bucket's name known once made).
    env: Sequence[Mapping[str, Any]] = ()
    # False: Pulumi does not wait for the models to serve, for models whose first version
    # comes after `pulumi up` (the MLOps example's first training run).
    wait_ready: bool = True


class Serving(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Serving", name, None, opts)
        for model in args.models:
            self._model(model, args)
        if args.monitored and args.models:
            after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
            grafana.dashboard_configmap(
                name,
                MONITORING_NAMESPACE,
                "Models",
                models_dashboard(args.models),
                self,
                args.depends_on,
            )
            kubernetes.apiextensions.CustomResource(
                f"{name}-alerts",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={"name": "models", "namespace": MONITORING_NAMESPACE},
                spec={"groups": alert_rules(args.models)},
                opts=after,
            )
        self.register_outputs({})

    def _model(self, model: Model, args: ServingArgs) -> None:
        key = f"{model.namespace}-{model.name}"
        opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        labels = _labels(model)
        metadata = {"name": model.name, "namespace": model.namespace, "labels": labels}
        spec = deployment(model, args.env, args.wait_ready)
        kubernetes.apps.v1.Deployment(
            f"{key}-model", metadata=spec["metadata"], spec=spec["spec"], opts=opts
        )
        port = {"name": "http", "port": model.port, "targetPort": "http", "protocol": "TCP"}
        kubernetes.core.v1.Service(
            f"{key}-service",
            metadata=metadata if args.wait_ready else {**metadata, "annotations": SKIP_AWAIT},
            spec={"selector": labels, "ports": [port]},
            opts=opts,
        )
        hpa = autoscaler(model)
        kubernetes.autoscaling.v2.HorizontalPodAutoscaler(
            f"{key}-autoscaler", metadata=hpa["metadata"], spec=hpa["spec"], opts=opts
        )
        kubernetes.policy.v1.PodDisruptionBudget(
            f"{key}-disruption-budget",
            metadata=metadata,
            # One at a time: drains go on, never all replicas at once.
            spec={"maxUnavailable": 1, "selector": {"matchLabels": labels}},
            opts=opts,
        )
        policy = network_policy(model)
        kubernetes.networking.v1.NetworkPolicy(
            f"{key}-network-policy", metadata=policy["metadata"], spec=policy["spec"], opts=opts
        )
        kubernetes.apiextensions.CustomResource(
            f"{key}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=metadata,
            spec={
                "selector": {"matchLabels": labels},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
            },
            opts=opts,
        )
        kubernetes.apiextensions.CustomResource(
            f"{key}-strip-prefix",
            api_version="traefik.io/v1alpha1",
            kind="Middleware",
            metadata={"name": f"{model.name}-strip", "namespace": model.namespace},
            spec={"stripPrefix": {"prefixes": [f"/{model.name}"]}},
            opts=opts,
        )
        route = ingress(model, args.host)
        kubernetes.networking.v1.Ingress(
            f"{key}-ingress", metadata=route["metadata"], spec=route["spec"], opts=opts
        )


def _deploy(settings: ServingSettings, context: AddonContext) -> Deployed:
    args = ServingArgs(
        settings.models,
        f"models.{context.domain}",
        context.enabled("monitoring"),
        context.depends_on,
    )
    return Deployed(Serving("serving", args, context.opts))


ADDON: Addon[ServingSettings] = Addon(
    name="serving",
    summary="models served from pinned Bento images: Deployment, autoscaler, probes, metrics, TLS ingress",
    deploy=_deploy,
    settings=ServingSettings,
    section="serving",
    # ServiceMonitors and rules need the CRDs; routes the ingress and its issuer; the
    # dashboard and alerts the monitoring namespace; GPU models the GPU operator.
    needs=("prometheus-crds", "ingress", "certificates", "monitoring", "gpu"),
    enabled=lambda settings, _context: bool(settings.models),
    when="when `models` lists any",
    check=_check,
)
