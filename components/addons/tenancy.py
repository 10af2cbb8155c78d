"""Tenancy: a namespace per professor (`tenants.faculty`) and per course (`tenants.courses`),
each isolated the same way.

- Pod Security `restricted`, enforced: tenants run their own code, and nothing of theirs
  needs host access or privileges (GPUs come through the device plugin and CDI, not through
  privileged containers).
- NetworkPolicies: deny everything, then allow DNS, the tenant's own pods among themselves
  (Ray, distributed training), and the platform services (the object store, MLflow) and
  nothing else. Add-ons that must reach tenants' pods (JupyterHub's proxy and hub) add their
  own narrow policy with `peer()`.
- A ResourceQuota (CPU, memory, storage, GPUs, no LoadBalancer or NodePort Services) and a
  LimitRange that gives containers without requests a default.
- With an OIDC provider, a RoleBinding to `edit` for the tenant's users in their namespace and
  nothing cluster-wide; without one, only administrators reach the Kubernetes API.

It waits for nothing but the cluster: Kueue's queues hang off these namespaces and must not
wait for storage. What needs storage or the object store in a tenant's namespace (a course's
data volume, its bucket) comes with JupyterHub.

Removing a tenant from the config never deletes its data: the namespace (with students'
home volumes and the course data) and its deny-all policy are left in the cluster, forgotten
by Pulumi; docs/operations/tenants.md says how to delete it for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.gpu import SHARED_GPU_RESOURCE
from components.addons.helm import RESTRICTED
from components.addons.storage.rook_ceph import ROOK_NAMESPACE
from model.formats import BINARY_SIZE, CPU
from model.identity import Oidc
from model.settings import setting, subsection
from model.site import Site
from model.tenants import Course, Faculty, TenantsConfig, kind

Member = Faculty | Course

# Labels every tenant namespace carries: what Kueue's webhooks and managed-jobs selector, the
# priority policies and other add-ons' NetworkPolicies select tenants by.
TENANT_LABEL = "ml-platform.io/tenant"
KIND_LABEL = "ml-platform.io/tenant-kind"
NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace

# The platform services tenants reach, where they are not on main yet: the MLflow and MinIO
# add-ons come with the data services (branch data-services, which defines them the same way:
# components/addons/mlflow.py NAMESPACE and TRACKING_URI, the chart's Service on port 80;
# object_store/minio.py NAMESPACE). This is the one place to point at theirs when they land.
MLFLOW_NAMESPACE = "mlflow"
MLFLOW_TRACKING_URI = f"http://mlflow.{MLFLOW_NAMESPACE}.svc:80"
MINIO_NAMESPACE = "minio"
# Rook labels RGW pods app=rook-ceph-rgw (rook/rook@v1.20.6:pkg/operator/ceph/object/
# objectstore.go AppName, spec.go getLabels -> controller.AppLabels).
RGW_POD_LABELS = {"app": "rook-ceph-rgw"}
# kubeadm's CoreDNS pods.
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
# What an S3 client on AWS reaches: public addresses only, never the instance metadata
# service or anything inside the VPC.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")


@dataclass(frozen=True, kw_only=True)
class FacultyQuota:
    cpu: str = setting("cpu", "128", format=CPU, doc="CPU a professor's pods may request at once")
    memory: str = setting("memory", "512Gi", format=BINARY_SIZE, doc="memory they may request")
    storage: str = setting("storage", "2Ti", format=BINARY_SIZE, doc="their volumes' total size")


@dataclass(frozen=True, kw_only=True)
class CourseQuota:
    cpu: str = setting("cpu", "64", format=CPU, doc="CPU a course's pods may request")
    memory: str = setting("memory", "256Gi", format=BINARY_SIZE, doc="memory they may request")
    storage: str = setting(
        "storage", "1Ti", format=BINARY_SIZE, doc="its volumes' total size (homes and data)"
    )


@dataclass(frozen=True, kw_only=True)
class TenancySettings:
    faculty: FacultyQuota = subsection("faculty", FacultyQuota, doc="each professor's namespace")
    courses: CourseQuota = subsection("courses", CourseQuota, doc="each course's namespace")

    def quota(self, member: Member) -> FacultyQuota | CourseQuota:
        return self.faculty if isinstance(member, Faculty) else self.courses


# ---- what each namespace holds, as plain objects -------------------------------------------


def namespace_labels(member: Member) -> dict[str, str]:
    return {
        "pod-security.kubernetes.io/enforce": RESTRICTED,
        "pod-security.kubernetes.io/warn": RESTRICTED,
        "pod-security.kubernetes.io/audit": RESTRICTED,
        TENANT_LABEL: member.name,
        KIND_LABEL: kind(member),
    }


def peer(namespace: str, pods: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A NetworkPolicy peer: the pods labelled `pods` (all, if None) of `namespace`."""
    selected: dict[str, Any] = {"namespaceSelector": {"matchLabels": {NAME_LABEL: namespace}}}
    selected["podSelector"] = {"matchLabels": dict(pods)} if pods else {}
    return selected


def object_store_egress(provider: str | None) -> list[dict[str, Any]]:
    """Egress rules to the object store the platform has, by provider."""
    if provider == "ceph-rgw":
        return [{"to": [peer(ROOK_NAMESPACE, RGW_POD_LABELS)]}]
    if provider == "minio":
        return [{"to": [peer(MINIO_NAMESPACE)]}]
    if provider == "s3":
        # S3's addresses cannot be listed in a NetworkPolicy: HTTPS to public addresses.
        internet = {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}
        return [{"to": [internet], "ports": [{"protocol": "TCP", "port": 443}]}]
    return []


def network_policies(object_store: str | None) -> dict[str, dict[str, Any]]:
    """The policies of every tenant namespace by name (the same in each: they select by the
    namespace they are in)."""
    every_pod: dict[str, Any] = {}
    dns_ports = [{"protocol": p, "port": 53} for p in ("UDP", "TCP")]
    return {
        "default-deny": {"podSelector": every_pod, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": every_pod,
            "policyTypes": ["Egress"],
            "egress": [{"to": [peer("kube-system", DNS_POD_LABELS)], "ports": dns_ports}],
        },
        # Ray clusters, distributed training and a notebook's own services, within the tenant.
        "allow-same-namespace": {
            "podSelector": every_pod,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": every_pod}]}],
            "egress": [{"to": [{"podSelector": every_pod}]}],
        },
        "allow-platform-services": {
            "podSelector": every_pod,
            "policyTypes": ["Egress"],
            "egress": [{"to": [peer(MLFLOW_NAMESPACE)]}, *object_store_egress(object_store)],
        },
    }


def notebook_slices(member: Member, site: Site, replicas: int) -> int:
    """A course's notebooks may hold one slice per student, never more than there are."""
    if not isinstance(member, Course) or member.notebook_gpu_fraction is None:
        return 0
    return min(len(member.users), site.shared_gpus * replicas)


def resource_quota(
    member: Member, settings: TenancySettings, site: Site, replicas: int
) -> dict[str, str]:
    quota = settings.quota(member)
    return {
        "requests.cpu": quota.cpu,
        "requests.memory": quota.memory,
        "limits.memory": quota.memory,
        "requests.storage": quota.storage,
        "persistentvolumeclaims": "100" if isinstance(member, Course) else "50",
        # Whole GPUs are not capped here: queued jobs may borrow every idle one, and Kueue
        # decides how many they get. Slices are the notebooks', one per student.
        f"requests.{SHARED_GPU_RESOURCE}": str(notebook_slices(member, site, replicas)),
        # Tenants reach their services through the platform, never from outside.
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


# Kubernetes' own critical priority classes preempt anything; tenants' pods may not use them.
CRITICAL_PRIORITY = {
    "hard": {"pods": "0"},
    "scopeSelector": {
        "matchExpressions": [
            {
                "scopeName": "PriorityClass",
                "operator": "In",
                "values": ["system-cluster-critical", "system-node-critical"],
            }
        ]
    },
}

LIMIT_RANGE = {
    "limits": [
        {
            "type": "Container",
            "defaultRequest": {"cpu": "250m", "memory": "1Gi"},
            "default": {"cpu": "2", "memory": "4Gi"},
        }
    ]
}


def role_binding_subjects(member: Member, identity: Oidc) -> list[dict[str, str]]:
    return [
        {
            "kind": "User",
            "apiGroup": "rbac.authorization.k8s.io",
            "name": identity.kubernetes_user(u),
        }
        for u in member.users
    ]


# ---- the component ------------------------------------------------------------------------


@dataclass(frozen=True)
class TenancyArgs:
    tenants: TenantsConfig
    settings: TenancySettings
    site: Site
    time_slicing_replicas: int
    object_store: str | None
    identity: Oidc | None
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


@dataclass(frozen=True)
class TenantSpace:
    """What other add-ons use of a tenant: who it is, and its namespace (to wait for)."""

    member: Member
    namespace: kubernetes.core.v1.Namespace


class Tenancy(pulumi.ComponentResource):
    spaces: dict[str, TenantSpace]

    def __init__(
        self, name: str, args: TenancyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:Tenancy", name, None, opts)
        self._args = args
        self.spaces = {m.name: self._tenant(m) for m in args.tenants.members}
        self.register_outputs({})

    def _opts(self, *after: pulumi.Resource, retain: bool = False) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(after), retain_on_delete=retain)

    def _tenant(self, member: Member) -> TenantSpace:
        args = self._args
        name = member.name
        # Kept when the tenant leaves the config: its volumes (homes, course data) stay.
        namespace = kubernetes.core.v1.Namespace(
            f"tenant-{name}",
            metadata={"name": name, "labels": namespace_labels(member)},
            opts=self._opts(*args.depends_on, retain=True),
        )
        meta = {"namespace": name}
        for policy, spec in network_policies(args.object_store).items():
            kubernetes.networking.v1.NetworkPolicy(
                f"tenant-{name}-{policy}",
                metadata={**meta, "name": policy},
                spec=spec,
                # Left behind with the namespace: whatever still runs there stays cut off.
                opts=self._opts(namespace, retain=policy == "default-deny"),
            )
        quota = resource_quota(member, args.settings, args.site, args.time_slicing_replicas)
        kubernetes.core.v1.ResourceQuota(
            f"tenant-{name}-quota",
            metadata={**meta, "name": "tenant"},
            spec={"hard": quota},
            opts=self._opts(namespace),
        )
        kubernetes.core.v1.ResourceQuota(
            f"tenant-{name}-no-critical-priority",
            metadata={**meta, "name": "no-critical-priority"},
            spec=CRITICAL_PRIORITY,
            opts=self._opts(namespace),
        )
        kubernetes.core.v1.LimitRange(
            f"tenant-{name}-defaults",
            metadata={**meta, "name": "defaults"},
            spec=LIMIT_RANGE,
            opts=self._opts(namespace),
        )
        if args.identity is not None and member.users:
            kubernetes.rbac.v1.RoleBinding(
                f"tenant-{name}-edit",
                metadata={**meta, "name": "tenant-edit"},
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                subjects=role_binding_subjects(member, args.identity),
                opts=self._opts(namespace),
            )  # fmt: skip
        return TenantSpace(member, namespace)


def _deploy(settings: TenancySettings, context: AddonContext) -> Deployed:
    args = TenancyArgs(
        tenants=context.tenants,
        settings=settings,
        site=context.site,
        time_slicing_replicas=context.settings["gpu"].time_slicing_replicas,
        object_store=context.settings["object-store"].provider,
        identity=context.identity,
        depends_on=context.depends_on,
    )
    return Deployed(Tenancy("tenancy", args, context.opts))


ADDON: Addon[TenancySettings] = Addon(
    name="tenancy",
    summary="a namespace per professor and course: Pod Security restricted, default-deny "
    "NetworkPolicies, quotas, RoleBindings",
    deploy=_deploy,
    settings=TenancySettings,
    section="tenancy",
    enabled=lambda _settings, context: context.has_tenants,
    when="when the stack has tenants",
)
