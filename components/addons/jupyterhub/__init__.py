"""JupyterHub (z2jh) at jupyter.<domain>: notebooks for the tenants' users, each in their
tenant's namespace.

- The proxy is a ClusterIP Service behind Traefik, with a certificate from the ClusterIssuer
  `platform`; its NetworkPolicy admits Traefik only.
- Profiles per tenant (hub_config.py picks a user's): a course has a CPU notebook and, with
  `notebookGpuFraction`, one with a slice of a shared GPU (`nvidia.com/gpu.shared`, runtime
  class `nvidia`); a professor has a CPU notebook and one with whole GPUs. Every notebook has
  a home volume of its own in the tenant's namespace; a course's notebooks mount its shared
  data volume `course-data` (ReadWriteMany, made here, never deleted by a config change)
  read-only.
- Notebooks are bare pods: Kueue's integrations leave them alone, so a student's session is
  never queued or preempted; the namespace's ResourceQuota bounds them and the culler stops
  them when idle.
- The notebook pods satisfy Pod Security `restricted` (non-root, no privilege escalation, all
  capabilities dropped, RuntimeDefault seccomp; no iptables init container).
- Their network is the tenant's (components/addons/tenancy.py: the platform services and
  nothing else) plus one policy here: the proxy and the hub in, the hub's API out.
- `MLFLOW_TRACKING_URI` and, where the object store hands out buckets, the tenant's bucket
  (endpoint, region, name, credentials from its Secret) are in every notebook's environment.
- The user scheduler and placeholders are off: the default scheduler of our Kubernetes minor
  places notebooks (the chart pins its own kube-scheduler image, v1.30, otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.certificates import CLUSTER_ISSUER
from components.addons.gpu import SHARED_GPU_RESOURCE, WHOLE_GPU_RESOURCE
from components.addons.helm import RESTRICTED, namespace, release
from components.addons.ingress import INGRESS_CLASS, Traefik
from components.addons.storage import shared_class
from components.addons.tenancy import MLFLOW_TRACKING_URI, TENANT_LABEL, peer
from model.formats import BINARY_SIZE, CPU, PINNED_IMAGE
from model.identity import Oidc
from model.services import ACCESS_KEY_ID, SECRET_ACCESS_KEY, BucketAccess
from model.settings import Derived, setting
from model.tenants import Course, Faculty

NAMESPACE = "jupyterhub"
RELEASE = "jupyterhub"
OIDC_SECRET = "jupyterhub-oidc"
TLS_SECRET = "jupyterhub-tls"
# z2jh's names with an empty fullnameOverride (templates/_helpers-names.tpl): the hub's
# ServiceAccount, and the component labels of the hub, proxy and notebook pods.
HUB_SERVICE_ACCOUNT = "hub"
NOTEBOOK_LABELS = {"component": "singleuser-server"}
HUB_PORT = 8081  # the hub's API, which notebooks call
NOTEBOOK_PORT = 8888
HUB_CONFIG = Path(__file__).with_name("hub_config.py")
COURSE_DATA_CLAIM = "course-data"
# What KubeSpawner needs in each tenant namespace: z2jh's own hub Role
# (jupyterhub/zero-to-jupyterhub-k8s@4.4.0:jupyterhub/templates/hub/rbac.yaml), there.
HUB_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods", "persistentvolumeclaims", "secrets", "services"],
        "verbs": ["get", "watch", "list", "create", "delete"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "watch", "list"]},
]
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


@dataclass(frozen=True, kw_only=True)
class NotebookSettings:
    enabled: bool = setting(
        "enabled",
        Derived(lambda context, _: context.has_tenants, "`true` when the stack has tenants"),
        doc="install JupyterHub for the tenants' users",
    )
    image: str = setting(
        "image",
        versions.NOTEBOOK_IMAGE,
        format=PINNED_IMAGE,
        doc="every notebook's image (PyTorch with CUDA)",
    )
    cpu: str = setting("cpu", "4", format=CPU, doc="CPU limit of a notebook")
    memory: str = setting("memory", "16Gi", format=BINARY_SIZE, doc="memory limit of a notebook")
    home_size: str = setting("homeSize", "10Gi", format=BINARY_SIZE, doc="each home volume")
    course_data_size: str = setting(
        "courseDataSize",
        "100Gi",
        format=BINARY_SIZE,
        doc="each course's shared data volume (ReadWriteMany), mounted read-only in notebooks",
    )
    faculty_gpus: int = setting(
        "facultyGpus", 1, doc="whole GPUs in a professor's GPU notebook (0: no such profile)"
    )
    idle_timeout: int = setting(
        "idleTimeout",
        3600,
        minimum=300,
        doc="seconds without activity after which a notebook is stopped (its home stays)",
    )
    admin_users: tuple[str, ...] = setting(
        "adminUsers",
        (),
        doc="JupyterHub administrators (they approve sign-ups without an OIDC provider)",
    )


# ---- profiles --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """What a tenant's notebooks get: the tenant, its bucket (where the object store hands
    them out) and a course's data volume (where a ReadWriteMany class exists)."""

    member: Faculty | Course
    bucket: BucketAccess | None = None
    data_claim: str | None = None


def _environment(space: Workspace) -> dict[str, Any]:
    env: dict[str, Any] = {"MLFLOW_TRACKING_URI": MLFLOW_TRACKING_URI}
    bucket = space.bucket
    if bucket is not None:
        secret = {"name": bucket.secret_name}
        env.update(
            {
                "AWS_ENDPOINT_URL": bucket.endpoint,
                "MLFLOW_S3_ENDPOINT_URL": bucket.endpoint,
                "AWS_DEFAULT_REGION": bucket.region,
                "ML_PLATFORM_BUCKET": bucket.bucket,
                ACCESS_KEY_ID: {"valueFrom": {"secretKeyRef": {**secret, "key": ACCESS_KEY_ID}}},
                SECRET_ACCESS_KEY: {
                    "valueFrom": {"secretKeyRef": {**secret, "key": SECRET_ACCESS_KEY}}
                },
            }
        )
    return env


def _override(space: Workspace, gpu: Mapping[str, str] | None) -> dict[str, Any]:
    member = space.member
    override: dict[str, Any] = {"namespace": member.name, "environment": _environment(space)}
    if space.data_claim:
        # Dicts: KubeSpawner merges them into z2jh's volumes (the home) instead of replacing.
        override["volumes"] = {
            COURSE_DATA_CLAIM: {
                "name": COURSE_DATA_CLAIM,
                "persistentVolumeClaim": {"claimName": space.data_claim, "readOnly": True},
            }
        }
        override["volume_mounts"] = {
            COURSE_DATA_CLAIM: {
                "name": COURSE_DATA_CLAIM,
                "mountPath": "/home/jovyan/course-data",
                "readOnly": True,
            }
        }
    if gpu:
        override["extra_resource_limits"] = dict(gpu)
        override["extra_resource_guarantees"] = dict(gpu)
        # The GPU operator's runtime class, which exposes the devices to the container.
        override["extra_pod_config"] = {"runtimeClassName": "nvidia"}
    return override


def profiles(space: Workspace, settings: NotebookSettings) -> list[dict]:
    """A tenant's notebook profiles, as KubeSpawner's profile_list takes them."""
    member = space.member
    cpu = {
        "display_name": f"{member.name}: CPU",
        "slug": f"{member.name}-cpu",
        "description": f"{settings.cpu} CPU, {settings.memory} of memory",
        "kubespawner_override": _override(space, None),
    }
    result = [cpu]
    if isinstance(member, Course) and member.notebook_gpu_fraction:
        result.append(
            {
                "display_name": f"{member.name}: 1/{member.notebook_gpu_fraction} GPU",
                "slug": f"{member.name}-gpu-slice",
                "description": "a time-sliced share of a GPU; its memory is shared with the "
                "other notebooks on it (no isolation)",
                "kubespawner_override": _override(space, {SHARED_GPU_RESOURCE: "1"}),
            }
        )
    if isinstance(member, Faculty) and settings.faculty_gpus:
        result.append(
            {
                "display_name": f"{member.name}: {settings.faculty_gpus} GPU",
                "slug": f"{member.name}-gpu",
                "description": "whole GPUs of the lab's exclusive hosts, outside the queue",
                "kubespawner_override": _override(
                    space, {WHOLE_GPU_RESOURCE: str(settings.faculty_gpus)}
                ),
            }
        )
    return result


# ---- chart values ----------------------------------------------------------------------------


def cores(quantity: str) -> float:
    """A CPU quantity (4, 2.5, 500m) as KubeSpawner's cpu_limit takes it."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


@dataclass(frozen=True)
class DataVolume:
    storage_class: str
    size: str


@dataclass(frozen=True)
class JupyterHubArgs:
    settings: NotebookSettings
    host: str
    spaces: Mapping[str, Workspace]
    identity: Oidc | None
    ingress_namespace: str
    depends_on: Sequence[pulumi.Resource]
    # The tenants' namespaces by name (what the per-tenant objects wait for).
    namespaces: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    # The courses' data volumes to make, by course.
    data_volumes: Mapping[str, DataVolume] = field(default_factory=dict)


def _authenticator(args: JupyterHubArgs, users: list[str]) -> dict[str, Any]:
    admins = list(args.settings.admin_users)
    common = {"allowed_users": users, "admin_users": admins}
    if args.identity is None:
        # NativeAuthenticator, made stricter in hub_config.py.
        return {
            "JupyterHub": {"admin_access": False},
            "NativeAuthenticator": {**common, "open_signup": False, "enable_signup": True},
        }
    oidc = args.identity
    return {
        "JupyterHub": {"admin_access": False, "authenticator_class": "generic-oauth"},
        "GenericOAuthenticator": {
            **common,
            "client_id": oidc.client_id,
            # The secret is in the environment (OAUTH_CLIENT_SECRET, from a Secret), never
            # in the values (oauthenticator@17.4.0:oauthenticator/oauth2.py
            # _client_secret_default).
            "oauth_callback_url": f"https://{args.host}/hub/oauth_callback",
            "username_claim": oidc.username_claim,
            "scope": ["openid", "profile", "email"],
            "login_service": "the lab's login",
        },
    }


def jupyterhub_values(args: JupyterHubArgs) -> dict[str, Any]:
    settings = args.settings
    users = sorted({u for s in args.spaces.values() for u in s.member.users})
    tenants = [
        {
            "name": name,
            "users": list(space.member.users),
            "profiles": profiles(space, settings),
        }
        for name, space in args.spaces.items()
    ]
    image, _, tag = settings.image.rpartition(":")
    notebooks_ingress = {
        "from": [
            {
                "namespaceSelector": {
                    "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
                },
                "podSelector": {"matchLabels": NOTEBOOK_LABELS},
            }
        ],
        "ports": [{"port": "http"}],
    }
    hub: dict[str, Any] = {
        "config": {
            **_authenticator(args, users),
            "KubeSpawner": {
                "pod_security_context": RESTRICTED_POD,
                "container_security_context": RESTRICTED_CONTAINER,
            },
        },
        "extraConfig": {"ml-platform": HUB_CONFIG.read_text(encoding="utf-8")},
        # Notebooks in the tenants' namespaces call the hub's API.
        "networkPolicy": {"ingress": [notebooks_ingress]},
    }
    if args.identity is not None:
        hub["extraEnv"] = {
            "OAUTH_CLIENT_SECRET": {
                "valueFrom": {"secretKeyRef": {"name": OIDC_SECRET, "key": "client-secret"}}
            }
        }
    return {
        "custom": {
            "mlPlatform": {
                "tenants": tenants,
                "oidcIssuer": args.identity.issuer_url if args.identity else None,
            }
        },
        "hub": hub,
        "proxy": {
            "service": {"type": "ClusterIP"},
            "chp": {
                "networkPolicy": {
                    # Only Traefik reaches the proxy.
                    "allowedIngressPorts": [],
                    "ingress": [{"from": [peer(args.ingress_namespace)], "ports": [{"port": "http"}]}],
                }
            },
        },
        "ingress": {
            "enabled": True,
            "ingressClassName": INGRESS_CLASS,
            "annotations": {"cert-manager.io/cluster-issuer": CLUSTER_ISSUER},
            "hosts": [args.host],
            "tls": [{"hosts": [args.host], "secretName": TLS_SECRET}],
        },
        "singleuser": {
            "image": {"name": image, "tag": tag},
            # Pod Security restricted: no root init container rewriting iptables; the tenant's
            # NetworkPolicies keep notebooks off the metadata service instead.
            "cloudMetadata": {"blockWithIptables": False},
            # The chart's notebook policy would apply in JupyterHub's namespace, where no
            # notebook runs; theirs are the tenants' (components/addons/tenancy.py).
            "networkPolicy": {"enabled": False},
            "cpu": {"limit": cores(settings.cpu), "guarantee": min(0.5, cores(settings.cpu))},
            # JupyterHub reads G as 2^30 bytes, like Kubernetes' Gi.
            "memory": {"limit": settings.memory.replace("i", ""), "guarantee": "2G"},
            # Homes on the cluster's default StorageClass.
            "storage": {"type": "dynamic", "capacity": settings.home_size},
            # First starts pull large CUDA images.
            "startTimeout": 900,
        },
        "scheduling": {
            "userScheduler": {"enabled": False},
            "userPlaceholder": {"enabled": False},
            "podPriority": {"enabled": False},
        },
        # The continuous puller keeps the notebook image on every node; the install hook
        # would make each `pulumi up` wait for it.
        "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": True}},
        "cull": {
            "enabled": True,
            "timeout": settings.idle_timeout,
            "every": min(600, settings.idle_timeout // 2),
            "users": False,
            "removeNamedServers": False,
        },
    }  # fmt: skip


# ---- the component ---------------------------------------------------------------------------


def notebook_policy() -> dict[str, Any]:
    """The policy JupyterHub adds in each tenant namespace: the proxy and the hub reach the
    notebooks, the notebooks reach the hub's API; nothing else of theirs changes."""
    hub_pods = [peer(NAMESPACE, {"component": "proxy"}), peer(NAMESPACE, {"component": "hub"})]
    return {
        "podSelector": {"matchLabels": NOTEBOOK_LABELS},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": hub_pods, "ports": [{"protocol": "TCP", "port": NOTEBOOK_PORT}]}],
        "egress": [
            {
                "to": [peer(NAMESPACE, {"component": "hub"})],
                "ports": [{"protocol": "TCP", "port": HUB_PORT}],
            }
        ],
    }


class JupyterHub(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: JupyterHubArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:JupyterHub", name, None, opts)
        ns = namespace(NAMESPACE, RESTRICTED, self, args.depends_on)
        after: list[pulumi.Resource] = []
        if args.identity is not None:
            after.append(
                kubernetes.core.v1.Secret(
                    f"{name}-oidc",
                    metadata={"name": OIDC_SECRET, "namespace": NAMESPACE},
                    string_data={"client-secret": args.identity.client_secret},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
                )
            )
        for tenant in args.spaces:
            meta = {"namespace": tenant}
            child = pulumi.ResourceOptions(parent=self, depends_on=[args.namespaces[tenant]])
            role = kubernetes.rbac.v1.Role(
                f"{name}-{tenant}-spawner",
                metadata={**meta, "name": "jupyterhub-spawner"},
                rules=HUB_RULES,
                opts=child,
            )
            after.append(
                kubernetes.rbac.v1.RoleBinding(
                    f"{name}-{tenant}-spawner",
                    metadata={**meta, "name": "jupyterhub-spawner"},
                    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "jupyterhub-spawner"},
                    subjects=[{"kind": "ServiceAccount", "name": HUB_SERVICE_ACCOUNT, "namespace": NAMESPACE}],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
                )
            )  # fmt: skip
            kubernetes.networking.v1.NetworkPolicy(
                f"tenant-{tenant}-jupyterhub-notebooks",
                metadata={**meta, "name": "jupyterhub-notebooks"},
                spec=notebook_policy(),
                opts=child,
            )
        for tenant, claim in args.data_volumes.items():
            kubernetes.core.v1.PersistentVolumeClaim(
                f"{name}-{tenant}-data",
                metadata={"namespace": tenant, "name": COURSE_DATA_CLAIM},
                spec={
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": claim.storage_class,
                    "resources": {"requests": {"storage": claim.size}},
                },
                # Data: never deleted by a config change (removing the course, turning
                # notebooks off); Pulumi waits until it is bound
                # (pulumi/pulumi-kubernetes@v4.32.0:provider/pkg/await/awaiters.go).
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[args.namespaces[tenant]], retain_on_delete=True
                ),
            )
        self.release = release(
            RELEASE,
            versions.JUPYTERHUB,
            ns,
            jupyterhub_values(args),
            self,
            depends_on=after,
            # The hub's database (users, and their passwords without OIDC) is on a volume of
            # the release: a failed first install must not take it away.
            stateful=True,
        )
        self.url = f"https://{args.host}"
        self.register_outputs({"url": self.url})


def _deploy(settings: NotebookSettings, context: AddonContext) -> Deployed:
    tenants = context.deployed["tenancy"].component.spaces
    rwx = shared_class(context.settings["storage"].provider, context.site)
    if not context.enabled("storage"):
        rwx = None
    size = settings.course_data_size
    volumes = {
        name: DataVolume(rwx, size)
        for name, tenant in tenants.items()
        if rwx and isinstance(tenant.member, Course)
    }
    # A bucket of each tenant's own, its credentials in the tenant's namespace, where the
    # object store hands them out (model/services.py ObjectStore).
    store = context.deployed.get("object-store")
    bucket = getattr(store.component, "bucket", None) if store else None
    spaces = {
        name: Workspace(
            tenant.member,
            bucket(f"tenant-{name}", name, depends_on=[tenant.namespace]) if bucket else None,
            COURSE_DATA_CLAIM if name in volumes else None,
        )
        for name, tenant in tenants.items()
    }
    args = JupyterHubArgs(
        settings=settings,
        host=f"jupyter.{context.domain}",
        spaces=spaces,
        identity=context.identity,
        ingress_namespace=Traefik.NAMESPACE,
        depends_on=context.depends_on,
        namespaces={name: tenant.namespace for name, tenant in tenants.items()},
        data_volumes=volumes,
    )
    hub = JupyterHub("jupyterhub", args, context.opts)
    return Deployed(hub, {"jupyterhubUrl": hub.url})


ADDON: Addon[NotebookSettings] = Addon(
    name="jupyterhub",
    summary="JupyterHub: notebooks for the tenants' users in their namespaces, CPU or a GPU share, "
    "culled when idle",
    deploy=_deploy,
    settings=NotebookSettings,
    section="notebooks",
    # Its notebooks run in the tenants' namespaces; its Ingress needs Traefik and a
    # certificate; its volumes a storage class; the tenants' buckets the object store.
    needs=("tenancy", "ingress", "certificates", "storage", "object-store"),
    charts=(versions.JUPYTERHUB,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled` (by default when the stack has tenants)",
    namespaces=(NAMESPACE,),
)
