"""Kueue (`kueue.x-k8s.io/v1beta2`): professors' and courses' batch work queued for the GPUs.

- ResourceFlavors: `gpu-exclusive` (whole GPUs, `nvidia.com/gpu`, on hosts with
  `gpu.sharing: exclusive`), `gpu-shared` (slices, `nvidia.com/gpu.shared`) and `cpu`.
- One Cohort, `platform`, holding the whole GPUs no tenant is given as its own.
- A ClusterQueue per professor: nominal quota = `dedicatedGpus` whole GPUs; it borrows every
  idle GPU of the cohort (no borrowing limit) and takes its own back by preemption
  (`reclaimWithinCohort: Any`); when it borrows it may preempt course work
  (`borrowWithinCohort`, up to the course priority).
- A ClusterQueue per course: nominal quota = `gpuQuota`; it borrows idle GPUs only, never
  preempts anyone, and its work runs at the lowest priority: professors reclaim what it
  borrowed.
- Shared slices belong to notebooks, which Kueue does not queue: every queue has a zero quota
  of them, so a batch job asking for a slice waits with a reason instead of competing with a
  student's notebook.
- A LocalQueue `default` in each tenant namespace: Kueue puts a job without a queue name there
  (kubernetes-sigs/kueue@v0.19.2:pkg/controller/jobframework/defaults.go).
- WorkloadPriorityClasses `faculty` and `course`; admission policies label every job of a
  course namespace `course` and default a professor's to `faculty`.
- Integrations: batch Jobs, RayJobs and RayClusters, Trainer TrainJobs and JobSets, managed in
  tenant namespaces only; not Pods, Deployments or StatefulSets, so notebooks never queue.

The frameworks' CRDs come with their own add-ons. At v0.19.2 Kueue does not need them at
start: for an enabled integration whose API is not served it registers the webhook, logs "No
matching API in the server for job framework, deferring setting up controller", and polls
(back-off 1 s to 2 min) until the CRD appears, then starts that controller
(kubernetes-sigs/kueue@v0.19.2:pkg/controller/jobframework/setup.go, setupControllers and
WaitForAPI). Nothing here waits for KubeRay or Trainer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions, yamltext
from components.addons import grafana
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.gpu import SHARED_GPU_RESOURCE, WHOLE_GPU_RESOURCE
from components.addons.helm import RESTRICTED, namespace, release
from components.addons.tenancy import KIND_LABEL, TENANT_LABEL, TenancySettings
from model.fields import Fields
from model.inventory import DEVICE_PLUGIN_CONFIG_LABEL, EXCLUSIVE, SHARED
from model.settings import Context, Derived, setting
from model.site import Site
from model.tenants import Course, Faculty, TenantsConfig

API = "kueue.x-k8s.io/v1beta2"
NAMESPACE = "kueue-system"
COHORT = "platform"
EXCLUSIVE_FLAVOR = "gpu-exclusive"
SHARED_FLAVOR = "gpu-shared"
CPU_FLAVOR = "cpu"
# Kueue's default LocalQueue name (kubernetes-sigs/kueue@v0.19.2:pkg/controller/constants/
# constants.go DefaultLocalQueueName).
LOCAL_QUEUE = "default"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
FACULTY_PRIORITY = "faculty"
COURSE_PRIORITY = "course"
PRIORITIES = {FACULTY_PRIORITY: 1000, COURSE_PRIORITY: 100}
# What Kueue queues, by framework name (each controller's FrameworkName at v0.19.2). Not
# "pod", "deployment" or "statefulset": notebooks are bare pods and must never be queued.
INTEGRATIONS = (
    "batch/job",
    "ray.io/rayjob",
    "ray.io/raycluster",
    "trainer.kubeflow.org/trainjob",
    "jobset.x-k8s.io/jobset",
)
# The objects behind those integrations, for the admission policies on priorities.
QUEUED_RESOURCES = (
    ("batch", ("jobs",)),
    ("ray.io", ("rayjobs", "rayclusters")),
    ("trainer.kubeflow.org", ("trainjobs",)),
    ("jobset.x-k8s.io", ("jobsets",)),
)
# Resources Kueue does not count (no queue declares them).
EXCLUDED_RESOURCES = ("ephemeral-storage", "hugepages-")


@dataclass(frozen=True, kw_only=True)
class QueueingSettings:
    enabled: bool = setting(
        "enabled",
        Derived(
            lambda context, _: context.has_tenants and context.site.gpu_hosts > 0,
            "`true` when the stack has tenants and GPU hosts",
        ),
        doc="install Kueue and the tenants' queues (needs the GPU operator)",
    )
    replicas: int = setting(
        "replicas", 2, minimum=1, doc="Kueue controllers (one leads; all serve its webhooks)"
    )


def _check(
    settings: QueueingSettings, section: Fields, context: Context, others: Mapping[str, Any]
) -> None:
    if not settings.enabled:
        return
    if not others["gpu"].enabled:
        section.bad(
            "enabled",
            "queues GPUs, but the GPU operator is off (platform.gpu.enabled: false)",
            "enable platform.gpu, or set queueing.enabled: false",
        )
    if not context.has_tenants:
        section.bad(
            "enabled",
            "has no queue to make: the stack has no tenants",
            "add tenants, or set queueing.enabled: false",
        )


# ---- Kueue's own configuration ------------------------------------------------------------


def managed_namespaces() -> dict[str, Any]:
    return {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}


def kueue_configuration() -> dict[str, Any]:
    """config.kueue.x-k8s.io/v1beta2 Configuration: the chart's defaults
    (kubernetes-sigs/kueue@v0.19.2:charts/kueue/values.yaml managerConfig) and ours."""
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        # Quota and usage per ClusterQueue, flavor and resource (the dashboard's).
        "metrics": {"bindAddress": ":8443", "enableClusterQueueResources": True},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "controller": {
            "groupKindConcurrency": {
                "Job.batch": 5,
                "Pod": 5,
                "Workload.kueue.x-k8s.io": 10,
                "LocalQueue.kueue.x-k8s.io": 5,
                "ClusterQueue.kueue.x-k8s.io": 5,
                "ResourceFlavor.kueue.x-k8s.io": 1,
            }
        },
        "clientConnection": {"qps": 300, "burst": 500},
        # In tenant namespaces every job is Kueue's, queue name or not (it lands in the
        # LocalQueue `default`); elsewhere none is: the chart also scopes the job webhooks to
        # these namespaces (charts/kueue/templates/webhook/manifests.yaml).
        "manageJobsWithoutQueueName": True,
        "managedJobsNamespaceSelector": managed_namespaces(),
        "integrations": {"frameworks": list(INTEGRATIONS)},
        "resources": {"excludeResourcePrefixes": list(EXCLUDED_RESOURCES)},
    }


def kueue_values(settings: QueueingSettings) -> dict[str, Any]:
    return {
        # The chart's ServiceMonitor (Prometheus selects monitors in every namespace).
        "enablePrometheus": True,
        "controllerManager": {
            "replicas": settings.replicas,
            "podDisruptionBudget": {"enabled": settings.replicas > 1, "minAvailable": 1},
            "manager": {
                "image": {
                    "repository": versions.KUEUE_IMAGE,
                    "tag": versions.KUEUE_IMAGE_TAG,
                    "pullPolicy": "IfNotPresent",
                }
            },
        },
        # The chart reads this text with fromYaml (templates/manager/manager-config.yaml).
        "managerConfig": {"controllerManagerConfigYaml": yamltext.dump(kueue_configuration())},
    }


# ---- queues, as plain objects -------------------------------------------------------------


def resource_flavors() -> dict[str, dict[str, Any]]:
    """Flavors by name. The GPU ones carry the device plugin's config label, which Kueue puts
    in the node selector of the pods it admits."""
    return {
        EXCLUSIVE_FLAVOR: {"nodeLabels": {DEVICE_PLUGIN_CONFIG_LABEL: EXCLUSIVE}},
        SHARED_FLAVOR: {"nodeLabels": {DEVICE_PLUGIN_CONFIG_LABEL: SHARED}},
        # CPU and memory wherever the scheduler puts them.
        CPU_FLAVOR: {},
    }


def _group(flavor: str, quotas: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """A resource group of one flavor: {resource: {nominalQuota, borrowingLimit...}}."""
    return {
        "coveredResources": list(quotas),
        "flavors": [{"name": flavor, "resources": [{"name": r, **q} for r, q in quotas.items()]}],
    }


def cohort_pool(tenants: TenantsConfig, site: Site) -> int:
    """Whole GPUs no tenant has as its own: the cohort lends them to whoever queues."""
    assigned = sum(f.dedicated_gpus for f in tenants.faculty)
    assigned += sum(c.gpu_quota for c in tenants.courses)
    return max(site.exclusive_gpus - assigned, 0)


def cohort_spec(pool: int) -> dict[str, Any]:
    return {"resourceGroups": [_group(EXCLUSIVE_FLAVOR, {WHOLE_GPU_RESOURCE: {"nominalQuota": str(pool)}})]}  # fmt: skip


def cluster_queue_spec(member: Faculty | Course, tenancy: TenancySettings) -> dict[str, Any]:
    professor = isinstance(member, Faculty)
    gpus = member.dedicated_gpus if professor else member.gpu_quota
    quota = tenancy.quota(member)
    own_only = {"borrowingLimit": "0", "lendingLimit": "0"}
    if professor:
        preemption = {
            # Its dedicated GPUs come back from whoever borrowed them, whatever their priority.
            "reclaimWithinCohort": "Any",
            # Borrowing beyond them, it may preempt course work only.
            "borrowWithinCohort": {
                "policy": "LowerPriority",
                "maxPriorityThreshold": PRIORITIES[COURSE_PRIORITY],
            },
            "withinClusterQueue": "LowerPriority",
        }
    else:
        preemption = {
            "reclaimWithinCohort": "Never",
            "borrowWithinCohort": {"policy": "Never"},
            "withinClusterQueue": "Never",
        }
    return {
        "cohortName": COHORT,
        # Only the tenant's own namespace submits to it.
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": member.name}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [
            # No borrowing limit: every idle whole GPU of the cohort may be borrowed.
            _group(EXCLUSIVE_FLAVOR, {WHOLE_GPU_RESOURCE: {"nominalQuota": str(gpus)}}),
            # Slices are the notebooks': none for queued work.
            _group(SHARED_FLAVOR, {SHARED_GPU_RESOURCE: {"nominalQuota": "0", **own_only}}),
            # The namespace's CPU and memory, neither lent nor borrowed (its ResourceQuota).
            _group(
                CPU_FLAVOR,
                {
                    "cpu": {"nominalQuota": quota.cpu, **own_only},
                    "memory": {"nominalQuota": quota.memory, **own_only},
                },
            ),
        ],
        "preemption": preemption,
    }


def local_queue_spec(member: Faculty | Course) -> dict[str, Any]:
    return {"clusterQueue": member.name}


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "apiGroups": [group],
            "apiVersions": ["*"],
            "resources": list(resources),
            "operations": ["CREATE", "UPDATE"],
        }
        for group, resources in QUEUED_RESOURCES
    ]


def _label_is(value: str) -> str:
    return (
        f"has(object.metadata.labels) && '{PRIORITY_LABEL}' in object.metadata.labels"
        f" && object.metadata.labels['{PRIORITY_LABEL}'] == '{value}'"
    )


def priority_policies() -> dict[str, tuple[dict[str, Any], str]]:
    """MutatingAdmissionPolicies (admissionregistration.k8s.io/v1, GA and on by default in
    Kubernetes 1.36: kubernetes/apiserver@release-1.36:pkg/features/kube_features.go) by
    name: (spec, the tenant kind whose namespaces its binding selects). A course's jobs are
    always `course`; a professor's are `faculty` unless they say otherwise."""
    label_only = (
        "Object{metadata: Object.metadata{labels: {'" + PRIORITY_LABEL + "': '%s'}}}"
    )  # fmt: skip

    def policy(value: str, condition: str) -> dict[str, Any]:
        return {
            "matchConstraints": {"resourceRules": _rules()},
            "matchConditions": [{"name": "needs-priority", "expression": condition}],
            "failurePolicy": "Fail",
            "reinvocationPolicy": "IfNeeded",
            "mutations": [
                {
                    "patchType": "ApplyConfiguration",
                    "applyConfiguration": {"expression": label_only % value},
                }
            ],
        }

    absent = (
        f"!has(object.metadata.labels) || !('{PRIORITY_LABEL}' in object.metadata.labels)"
    )  # fmt: skip
    return {
        "ml-platform-course-priority": (
            policy(COURSE_PRIORITY, f"!({_label_is(COURSE_PRIORITY)})"),
            "course",
        ),
        "ml-platform-faculty-priority": (policy(FACULTY_PRIORITY, absent), "faculty"),
    }


# ---- the dashboard ------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    """Queues and GPUs per tenant. Kueue's metrics (kubernetes-sigs/kueue@v0.19.2:
    pkg/metrics/metrics.go) name the ClusterQueue, which is the tenant's name; DCGM's carry the
    namespace of the pod using the GPU (NVIDIA/dcgm-exporter@4.5.3-4.8.2:internal/pkg/
    transformation/const.go), kept as `namespace` since the GPU add-on's ServiceMonitor honours
    the exporter's labels."""
    queue = 'cluster_queue=~"$tenant"'
    gpu = f'resource="{WHOLE_GPU_RESOURCE}"'
    panels = [
        grafana.Panel(
            "Whole GPUs in use per queue (dashed: nominal quota)",
            (
                (f"sum by (cluster_queue) (kueue_cluster_queue_resource_usage{{{queue},{gpu}}})", "{{cluster_queue}}"),
                (f"sum by (cluster_queue) (kueue_cluster_queue_nominal_quota{{{queue},{gpu}}})", "{{cluster_queue}} quota"),
            ),
        ),
        grafana.Panel(
            "Waiting workloads per queue",
            ((f"sum by (cluster_queue, status) (kueue_pending_workloads{{{queue}}})", "{{cluster_queue}} {{status}}"),),
        ),
        grafana.Panel(
            "Running workloads per queue",
            ((f"sum by (cluster_queue) (kueue_admitted_active_workloads{{{queue}}})", "{{cluster_queue}}"),),
        ),
        grafana.Panel(
            "Preemptions per hour, by preempting queue and reason",
            (("sum by (preempting_cluster_queue, reason) (increase(kueue_preempted_workloads_total[1h]))", "{{preempting_cluster_queue}} {{reason}}"),),
        ),
        grafana.Panel(
            "Time to admission (p90)",
            ((f"histogram_quantile(0.9, sum by (le, cluster_queue) (rate(kueue_admission_wait_time_seconds_bucket{{{queue}}}[30m])))", "{{cluster_queue}}"),),
            "s",
        ),
        grafana.Panel(
            "GPUs busy per tenant (DCGM, by the using pod's namespace)",
            (('sum by (namespace) (DCGM_FI_DEV_GPU_UTIL{namespace=~"$tenant"}) / 100', "{{namespace}}"),),
        ),
        grafana.Panel(
            "GPU memory used per tenant",
            (('sum by (namespace) (DCGM_FI_DEV_FB_USED{namespace=~"$tenant"}) * 1024 * 1024', "{{namespace}}"),),
            "bytes",
        ),
    ]  # fmt: skip
    tenants = grafana.Variable("tenant", "label_values(kueue_cluster_queue_status, cluster_queue)")
    return grafana.dashboard(
        "ml-platform-queues",
        "Queues and GPUs per tenant",
        panels,
        tags=["kueue", "gpu"],
        variables=[tenants],
    )


# ---- the component ------------------------------------------------------------------------


@dataclass(frozen=True)
class KueueArgs:
    settings: QueueingSettings
    tenants: TenantsConfig
    tenancy: TenancySettings
    site: Site
    # The tenants' namespaces by name (LocalQueues go in them).
    namespaces: Mapping[str, pulumi.Resource]
    dashboard: bool
    depends_on: Sequence[pulumi.Resource]


class _TopLevelResource(pulumi.CustomResource):
    """A custom resource whose fields are not under `spec` (WorkloadPriorityClass)."""

    def __init__(
        self, name: str, kind: str, fields: Mapping[str, Any], opts: pulumi.ResourceOptions
    ) -> None:
        props = {"apiVersion": API, "kind": kind, **fields}
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(version=kubernetes._utilities.get_version())
        )
        super().__init__(f"kubernetes:{API}:{kind}", name, props, opts)


class Kueue(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Kueue", name, None, opts)
        ns = namespace(NAMESPACE, RESTRICTED, self, args.depends_on)
        self.release = release("kueue", versions.KUEUE, ns, kueue_values(args.settings), self)

        def resource(
            resource_name: str,
            kind: str,
            metadata: dict[str, Any],
            spec: Any,
            after: Sequence[pulumi.Resource],
            wait: bool = False,
        ) -> kubernetes.apiextensions.CustomResource:
            if wait:
                # Kueue marks a queue Active once it has reconciled it and its flavors exist.
                metadata = {**metadata, "annotations": {"pulumi.com/waitFor": "condition=Active"}}
            return kubernetes.apiextensions.CustomResource(
                resource_name,
                api_version=API,
                kind=kind,
                metadata=metadata,
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, *after]),
            )

        flavors = [
            resource(f"{name}-flavor-{flavor}", "ResourceFlavor", {"name": flavor}, spec, [])
            for flavor, spec in resource_flavors().items()
        ]
        cohort = resource(
            f"{name}-cohort",
            "Cohort",
            {"name": COHORT},
            cohort_spec(cohort_pool(args.tenants, args.site)),
            [],
        )
        for priority, value in PRIORITIES.items():
            _TopLevelResource(
                f"{name}-priority-{priority}",
                "WorkloadPriorityClass",
                {
                    "metadata": {"name": priority},
                    "value": value,
                    "description": f"work of {'professors' if priority == FACULTY_PRIORITY else 'courses'}",
                },
                pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
            )  # fmt: skip
        for member in args.tenants.members:
            queue = resource(
                f"{name}-{member.name}-cluster-queue",
                "ClusterQueue",
                {"name": member.name},
                cluster_queue_spec(member, args.tenancy),
                [*flavors, cohort],
                wait=True,
            )
            resource(
                f"{name}-{member.name}-local-queue",
                "LocalQueue",
                {"name": LOCAL_QUEUE, "namespace": member.name},
                local_queue_spec(member),
                [queue, args.namespaces[member.name]],
                wait=True,
            )
        for policy, (spec, kind) in priority_policies().items():
            mutating = kubernetes.admissionregistration.v1.MutatingAdmissionPolicy(
                f"{name}-{policy}",
                metadata={"name": policy},
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
            kubernetes.admissionregistration.v1.MutatingAdmissionPolicyBinding(
                f"{name}-{policy}-binding",
                metadata={"name": policy},
                spec={
                    "policyName": policy,
                    "matchResources": {"namespaceSelector": {"matchLabels": {KIND_LABEL: kind}}},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[mutating]),
            )
        if args.dashboard:
            grafana.dashboard_configmap(name, NAMESPACE, "Queues", dashboard(), self, [ns])
        self.register_outputs({})


def _deploy(settings: QueueingSettings, context: AddonContext) -> Deployed:
    spaces = context.deployed["tenancy"].component.spaces
    args = KueueArgs(
        settings=settings,
        tenants=context.tenants,
        tenancy=context.settings["tenancy"],
        site=context.site,
        namespaces={name: space.namespace for name, space in spaces.items()},
        dashboard=context.enabled("monitoring"),
        depends_on=context.depends_on,
    )
    return Deployed(Kueue("kueue", args, context.opts))


ADDON: Addon[QueueingSettings] = Addon(
    name="kueue",
    summary="Kueue: a queue per professor and course in one cohort, borrowing idle GPUs, "
    "professors reclaiming theirs by preemption",
    deploy=_deploy,
    settings=QueueingSettings,
    section="queueing",
    # Its ServiceMonitor needs the CRD; its LocalQueues go in the tenants' namespaces.
    needs=("prometheus-crds", "tenancy"),
    charts=(versions.KUEUE,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled` (by default when the stack has tenants and GPU hosts)",
    check=_check,
    namespaces=(NAMESPACE,),
)
