"""JupyterHub: its chart values, the per-tenant objects it adds, and the code it runs at start
(hub_config.py, executed here the way z2jh executes hub.extraConfig)."""

from __future__ import annotations

import io
import json
import sys
import types
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest

from automation.engine import Evaluation, secret_values, unwrap_secrets
from components.addons import jupyterhub
from components.addons.jupyterhub import (
    JupyterHubArgs,
    NotebookSettings,
    Workspace,
    jupyterhub_values,
)
from model.services import BucketAccess
from model.tenants import Course, Faculty
from tests.helpers import plain_text, releases
from tests.netpol import Pod, cluster_of
from tests.tenants import OIDC

NOTEBOOK = {"component": "singleuser-server", "app": "jupyterhub"}


def values(evaluation: Evaluation) -> dict:
    return unwrap_secrets(releases(evaluation)["jupyterhub"].inputs["values"])


# ---- the hub's own code, run --------------------------------------------------------------


class Section(types.SimpleNamespace):
    pass


class HubConfig:
    """Stands in for traitlets' config object: c.Class.trait = value."""

    def __getattr__(self, name: str) -> Section:
        section = Section()
        setattr(self, name, section)
        return section


@dataclass
class Spawner:
    name: str
    user: Any = field(init=False)

    def __post_init__(self) -> None:
        self.user = types.SimpleNamespace(name=self.name)


DISCOVERY = {
    "issuer": OIDC["issuerUrl"],
    "authorization_endpoint": "https://login.lab.example.edu/auth",
    "token_endpoint": "https://login.lab.example.edu/token",
    "userinfo_endpoint": "https://login.lab.example.edu/userinfo",
}


def run_hub_config(
    chart_values: dict,
    modules: dict[str, types.ModuleType] | None = None,
    discovery: dict | None = None,
    asked: list[str] | None = None,
) -> dict:
    """hub_config.py executed with z2jh's globals: `c` and `get_config` over the values; the
    OIDC provider's discovery document answered with `discovery`."""

    def urlopen(url: str, timeout: int) -> io.BytesIO:
        (asked if asked is not None else []).append(url)
        return io.BytesIO(json.dumps(discovery or DISCOVERY).encode())

    def get_config(key: str, default: Any = None) -> Any:
        value: Any = chart_values
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    namespace = {"c": HubConfig(), "get_config": get_config}
    saved = {name: sys.modules.get(name) for name in modules or {}}
    sys.modules.update(modules or {})
    try:
        with mock.patch("urllib.request.urlopen", urlopen):
            exec(jupyterhub.HUB_CONFIG.read_text(encoding="utf-8"), namespace)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return namespace


def fake_native_authenticator() -> dict[str, types.ModuleType]:
    package = types.ModuleType("nativeauthenticator")
    orm = types.ModuleType("nativeauthenticator.orm")

    class NativeAuthenticator:
        allowed_users: set[str] = set()
        admin_users: set[str] = set()
        db = None

        def validate_username(self, username: str) -> bool:
            return "," not in username

    class UserInfo:
        @staticmethod
        def all_users(_db: Any) -> list:
            return [
                types.SimpleNamespace(username="kim@lab.example.edu", is_authorized=True),
                types.SimpleNamespace(username="s1@lab.example.edu", is_authorized=False),
            ]

    package.NativeAuthenticator = NativeAuthenticator
    orm.UserInfo = UserInfo
    return {"nativeauthenticator": package, "nativeauthenticator.orm": orm}


def test_users_get_the_profiles_of_their_tenants_in_their_namespaces(campus):
    hub = run_hub_config(values(campus), fake_native_authenticator())
    profile_list = hub["c"].KubeSpawner.profile_list
    slugs = [p["slug"] for p in profile_list(Spawner("s1@lab.example.edu"))]
    # s1 studies in cs231 (a quarter GPU) and ml101 (CPU only).
    assert slugs == ["cs231-cpu", "cs231-gpu-slice", "ml101-cpu"]
    for profile in profile_list(Spawner("s1@lab.example.edu")):
        assert profile["kubespawner_override"]["namespace"] == profile["slug"].split("-")[0]
    lee = [p["slug"] for p in profile_list(Spawner("lee@lab.example.edu"))]
    assert lee == ["prof-lee-cpu", "prof-lee-gpu"]


def test_someone_of_no_tenant_cannot_start_a_notebook(campus):
    hub = run_hub_config(values(campus), fake_native_authenticator())
    assert hub["c"].KubeSpawner.profile_list(Spawner("stranger@example.com")) == []
    with pytest.raises(RuntimeError, match="in no course and with no professor"):
        hub["c"].Spawner.pre_spawn_hook(Spawner("stranger@example.com"))
    hub["c"].Spawner.pre_spawn_hook(Spawner("s3@lab.example.edu"))


def test_a_student_notebook_gets_one_slice_of_a_shared_gpu_and_the_course_data(campus):
    hub = run_hub_config(values(campus), fake_native_authenticator())
    (slice_profile,) = [
        p
        for p in hub["c"].KubeSpawner.profile_list(Spawner("s2@lab.example.edu"))
        if "gpu" in p["slug"]
    ]
    override = slice_profile["kubespawner_override"]
    assert override["extra_resource_limits"] == {"nvidia.com/gpu.shared": "1"}
    assert override["extra_pod_config"] == {"runtimeClassName": "nvidia"}
    assert override["volumes"]["course-data"]["persistentVolumeClaim"] == {"claimName": "course-data", "readOnly": True}  # fmt: skip
    assert override["volume_mounts"]["course-data"]["readOnly"] is True
    assert "1/4 GPU" in slice_profile["display_name"]
    # Not queued: nothing puts a notebook in a Kueue queue.
    assert "kueue" not in json.dumps(slice_profile)


def test_a_professors_gpu_notebook_has_whole_gpus_and_no_course_data(campus):
    hub = run_hub_config(values(campus), fake_native_authenticator())
    profiles = hub["c"].KubeSpawner.profile_list(Spawner("kim@lab.example.edu"))
    gpu = profiles[1]["kubespawner_override"]
    assert gpu["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert "volumes" not in gpu


def test_without_oidc_sign_up_is_for_tenants_and_approval_for_admins(lab):
    hub = run_hub_config(values(lab), fake_native_authenticator())
    authenticator = hub["c"].JupyterHub.authenticator_class
    instance = authenticator()
    instance.allowed_users = {"lee@lab.example.edu", "ta-cs231@lab.example.edu"}
    instance.admin_users = {"admin"}
    assert instance.validate_username("lee@lab.example.edu")
    assert not instance.validate_username("stranger@example.com")
    # Being listed approves no one: only what an administrator approved, and the admins.
    assert instance.get_authed_users() == {"kim@lab.example.edu", "admin"}
    native = values(lab)["hub"]["config"]["NativeAuthenticator"]
    assert native["open_signup"] is False
    assert native["allowed_users"] == ["lee@lab.example.edu", "ta-cs231@lab.example.edu"]


def test_with_oidc_the_hub_finds_the_providers_endpoints(campus):
    asked: list[str] = []
    hub = run_hub_config(values(campus), asked=asked)
    assert asked == [f"{OIDC['issuerUrl']}/.well-known/openid-configuration"]
    assert hub["c"].GenericOAuthenticator.token_url == "https://login.lab.example.edu/token"
    assert hub["c"].GenericOAuthenticator.userdata_url == DISCOVERY["userinfo_endpoint"]
    elsewhere = {**DISCOVERY, "issuer": "https://elsewhere.example.com"}
    with pytest.raises(RuntimeError, match="discovery document names"):
        run_hub_config(values(campus), discovery=elsewhere)


def test_with_oidc_the_client_secret_stays_in_a_secret(campus):
    config = values(campus)["hub"]
    oauth = config["config"]["GenericOAuthenticator"]
    assert config["config"]["JupyterHub"]["authenticator_class"] == "generic-oauth"
    assert oauth["client_id"] == "ml-platform" and oauth["username_claim"] == "email"
    assert oauth["oauth_callback_url"] == "https://jupyter.ml.lab.example.edu/hub/oauth_callback"
    assert config["extraEnv"]["OAUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "jupyterhub-oidc"  # fmt: skip
    (secret,) = [
        r for r in campus.of_type("kubernetes:core/v1:Secret") if r.name == "jupyterhub-oidc"
    ]
    assert secret_values(secret.inputs["stringData"])
    for registration in campus.registrations:
        assert OIDC["clientSecret"] not in plain_text(registration.inputs), registration.name


# ---- chart values -------------------------------------------------------------------------


def test_the_proxy_is_behind_traefik_with_tls(lab):
    chart = values(lab)
    assert chart["proxy"]["service"] == {"type": "ClusterIP"}
    ingress = chart["ingress"]
    assert (
        ingress["hosts"] == ["jupyter.ml.lab.example.edu"]
        and ingress["ingressClassName"] == "traefik"
    )
    assert ingress["annotations"] == {"cert-manager.io/cluster-issuer": "platform"}
    assert ingress["tls"] == [
        {"hosts": ["jupyter.ml.lab.example.edu"], "secretName": "jupyterhub-tls"}
    ]
    assert lab.exports["jupyterhubUrl"].value == "https://jupyter.ml.lab.example.edu"


def test_notebooks_are_culled_and_scheduled_by_the_clusters_scheduler(lab):
    chart = values(lab)
    assert chart["cull"]["enabled"] is True and chart["cull"]["timeout"] == 3600
    assert chart["scheduling"]["userScheduler"]["enabled"] is False
    assert chart["scheduling"]["userPlaceholder"]["enabled"] is False


def test_notebook_pods_meet_pod_security_restricted(lab):
    chart = values(lab)
    spawner = chart["hub"]["config"]["KubeSpawner"]
    assert spawner["pod_security_context"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = spawner["container_security_context"]
    assert container["capabilities"] == {"drop": ["ALL"]} and container["runAsNonRoot"] is True
    assert container["allowPrivilegeEscalation"] is False
    # The iptables init container runs as root with NET_ADMIN: off.
    assert chart["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    assert chart["singleuser"]["image"] == {"name": "quay.io/jupyter/pytorch-notebook", "tag": "cuda12-2026-08-24"}  # fmt: skip


def test_the_hub_may_spawn_in_each_tenant_namespace_only(campus):
    roles = {r.inputs["metadata"]["namespace"] for r in campus.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role") if r.inputs["metadata"]["name"] == "jupyterhub-spawner"}  # fmt: skip
    assert roles == {"prof-lee", "prof-kim", "prof-ng", "cs231", "cs229", "ml101"}
    cluster_bindings = campus.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert not [b for b in cluster_bindings if "jupyterhub" in b.name]


def test_the_proxy_and_hub_reach_notebooks_and_nothing_else_of_the_tenant(campus):
    cluster = cluster_of(campus.registrations, {"kube-system": {}})
    proxy = Pod("jupyterhub", {"component": "proxy", "app": "jupyterhub"})
    hub = Pod("jupyterhub", {"component": "hub", "app": "jupyterhub"})
    notebook = Pod("cs231", NOTEBOOK)
    assert cluster.connects(proxy, notebook, 8888)
    assert cluster.connects(notebook, hub, 8081)
    assert not cluster.connects(proxy, Pod("cs231", {"app": "ray-head"}), 8265)
    assert not cluster.connects(notebook, Pod("jupyterhub", {"component": "proxy"}), 8001)
    assert not cluster.connects(notebook, Pod("prof-lee", NOTEBOOK), 8888)


# ---- the environment notebooks get --------------------------------------------------------


def test_notebooks_get_mlflow_and_their_tenants_bucket():
    bucket = BucketAccess(
        endpoint="http://rook-ceph-rgw-ceph-objectstore.rook-ceph.svc:80",
        region="us-east-1",
        bucket="tenant-cs231",
        namespace="cs231",
        secret_name="tenant-cs231-bucket",
        ready=[],
    )
    course = Course(name="cs231", users=("s@lab.example.edu",), notebook_gpu_fraction=4)
    args = JupyterHubArgs(
        settings=NotebookSettings(enabled=True),
        host="jupyter.example.edu",
        spaces={"cs231": Workspace(course, bucket), "p": Workspace(Faculty(name="p"))},
        identity=None,
        ingress_namespace="traefik",
        depends_on=[],
    )  # fmt: skip
    tenants = {t["name"]: t for t in jupyterhub_values(args)["custom"]["mlPlatform"]["tenants"]}
    env = tenants["cs231"]["profiles"][0]["kubespawner_override"]["environment"]
    assert env["MLFLOW_TRACKING_URI"].startswith("http://mlflow.")
    assert (
        env["AWS_ENDPOINT_URL"] == bucket.endpoint and env["ML_PLATFORM_BUCKET"] == "tenant-cs231"
    )
    assert env["AWS_SECRET_ACCESS_KEY"] == {
        "valueFrom": {
            "secretKeyRef": {"name": "tenant-cs231-bucket", "key": "AWS_SECRET_ACCESS_KEY"}
        }
    }
    # A tenant without a bucket (the object store hands none out yet) gets MLflow only.
    assert set(tenants["p"]["profiles"][0]["kubespawner_override"]["environment"]) == {
        "MLFLOW_TRACKING_URI"
    }
    # No data volume without a shared class.
    assert "volumes" not in tenants["cs231"]["profiles"][0]["kubespawner_override"]


# ---- Pod Security of the notebook pods -------------------------------------------------------


def notebook_pod(chart: dict, override: dict) -> dict:
    """The pod KubeSpawner 7 makes from z2jh's settings and a profile's override: the pod's
    securityContext is fsGroup (singleuser.fsGid) and pod_security_context; the container's is
    runAsUser (singleuser.uid), allowPrivilegeEscalation and container_security_context
    (jupyterhub/kubespawner@7.0.0:kubespawner/objects.py make_pod); the volumes are the home
    claim and the profile's; z2jh adds an iptables init container only with
    singleuser.cloudMetadata.blockWithIptables."""
    spawner = chart["hub"]["config"]["KubeSpawner"]
    volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-s1"}}]
    volumes += list(override.get("volumes", {}).values())
    pod = {
        "metadata": {"labels": NOTEBOOK},
        "spec": {
            "securityContext": {"fsGroup": 100, **spawner["pod_security_context"]},
            "containers": [
                {
                    "name": "notebook",
                    "image": f"{chart['singleuser']['image']['name']}:{chart['singleuser']['image']['tag']}",
                    "securityContext": {
                        "runAsUser": 1000,
                        "allowPrivilegeEscalation": False,
                        **spawner["container_security_context"],
                    },
                }
            ],
            "volumes": volumes,
            **override.get("extra_pod_config", {}),
        },
    }
    if chart["singleuser"]["cloudMetadata"]["blockWithIptables"]:
        # z2jh's files/hub/jupyterhub_config.py: the block-cloud-metadata init container.
        pod["spec"]["initContainers"] = [
            {
                "name": "block-cloud-metadata",
                "securityContext": {"runAsUser": 0, "capabilities": {"add": ["NET_ADMIN"]}},
            }
        ]
    return pod


def test_every_profiles_notebook_is_admitted_by_the_restricted_tenant_namespaces(campus):
    from tools.pod_security import RESTRICTED, evaluate_pod, forbidden_detail

    chart = values(campus)
    hub = run_hub_config(chart)
    for tenant in chart["custom"]["mlPlatform"]["tenants"]:
        for profile in tenant["profiles"]:
            pod = notebook_pod(chart, profile["kubespawner_override"])
            assert evaluate_pod(pod, RESTRICTED) == [], forbidden_detail(
                evaluate_pod(pod, RESTRICTED)
            )
    assert hub["c"].KubeSpawner.profile_list(Spawner("s1@lab.example.edu"))
    # The check is not vacuous: z2jh's default iptables init container would be refused.
    blocked = {
        **chart,
        "singleuser": {**chart["singleuser"], "cloudMetadata": {"blockWithIptables": True}},
    }
    assert evaluate_pod(notebook_pod(blocked, {}), RESTRICTED)


def test_each_tenant_gets_a_bucket_of_its_own_in_its_namespace():
    """Where the object store hands out buckets (model/services.py ObjectStore), JupyterHub
    asks for one per tenant, delivered into its namespace once that exists."""
    import pulumi
    import pulumi_random as random

    from components.addons.addon import Deployed
    from components.addons.storage import StorageSettings
    from components.addons.tenancy import TenantSpace
    from model.tenants import TenantsConfig
    from tests.helpers import deploy_addon

    tenants = TenantsConfig(
        faculty=(Faculty(name="prof-a", users=("a@lab.example.edu",)),),
        courses=(Course(name="c1", users=("s@lab.example.edu",)),),
    )
    asked: list[tuple] = []

    class Store(pulumi.ComponentResource):
        def __init__(self) -> None:
            super().__init__("test:index:Store", "store")

        def bucket(
            self, consumer: str, namespace: str, *, depends_on=(), **_: object
        ) -> BucketAccess:
            asked.append((consumer, namespace, [d._name for d in depends_on]))
            return BucketAccess(
                "http://s3.test", "us-east-1", f"b-{consumer}", namespace, f"{consumer}-keys", []
            )

    def deployed() -> dict:
        tenancy = pulumi.ComponentResource("test:index:Tenancy", "tenancy")
        spaces = {
            m.name: TenantSpace(
                m,
                random.RandomString(
                    f"ns-{m.name}", length=4, opts=pulumi.ResourceOptions(parent=tenancy)
                ),
            )
            for m in tenants.members
        }
        tenancy.spaces = spaces
        return {"tenancy": Deployed(tenancy), "object-store": Deployed(Store())}

    built = deploy_addon(
        jupyterhub.ADDON,
        NotebookSettings(enabled=True),
        others={"storage": StorageSettings(provider="rook-ceph")},
        enabled=["storage", "object-store"],
        deployed=deployed,
        tenants=tenants,
    )
    assert asked == [("tenant-prof-a", "prof-a", ["ns-prof-a"]), ("tenant-c1", "c1", ["ns-c1"])]
    chart = values(built)
    env = {t["name"]: t["profiles"][0]["kubespawner_override"]["environment"] for t in chart["custom"]["mlPlatform"]["tenants"]}  # fmt: skip
    assert env["c1"]["ML_PLATFORM_BUCKET"] == "b-tenant-c1"
    assert env["c1"]["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "tenant-c1-keys"
    # The course's data volume on Ceph's shared file system.
    (claim,) = built.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.inputs["spec"]["storageClassName"] == "ceph-filesystem" and claim.retain_on_delete
