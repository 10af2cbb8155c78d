"""Rules across sections of the stack config: networks that must not overlap, tenants that
must fit the machines and the GPU settings, tenants' names and users.

Each check records problems on the reader it is given and returns nothing, so that
`parse_config` runs them all and reports every problem together.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from components.addons import ADDONS
from components.addons.platform import PlatformSettings
from components.kubeadm.settings import KubernetesSettings
from model.fields import Fields
from model.formats import EMAIL, USERNAME
from model.identity import UserForm
from model.site import Site
from model.tenants import TenantsConfig
from stacks.sections.aws import AwsConfig
from stacks.sections.baremetal import BaremetalConfig
from stacks.sections.identity import IdentityConfig


def networks(top: Fields, k8s: KubernetesSettings, machines: BaremetalConfig | AwsConfig) -> None:
    """Pods and Services apart from each other and from the machines' network."""
    cluster = {
        f"{top.key('kubernetes')}.podSubnet": k8s.pod_subnet,
        f"{top.key('kubernetes')}.serviceSubnet": k8s.service_subnet,
    }
    if isinstance(machines, AwsConfig):
        _overlaps(top, {**cluster, f"{top.key('aws')}.vpcCidr": machines.vpc_cidr})
        return
    _overlaps(top, {f"{top.key('baremetal')}.hostNetwork": machines.host_network, **cluster})
    _addresses_outside(top, cluster, machines)


def _overlaps(top: Fields, named: Mapping[str, ipaddress.IPv4Network]) -> None:
    items = list(named.items())
    for i, (key_a, net_a) in enumerate(items):
        for key_b, net_b in items[i + 1 :]:
            if net_a.overlaps(net_b):
                top.problems.add(
                    key_b,
                    str(net_b),
                    f"overlaps {key_a} ({net_a})",
                    "choose ranges that do not overlap",
                )


def _addresses_outside(
    top: Fields, cluster: Mapping[str, ipaddress.IPv4Network], bm: BaremetalConfig
) -> None:
    """The VIP, the MetalLB pool and the hosts are not pod or Service addresses."""
    bm_key = top.key("baremetal")
    pool, vip = bm.load_balancer_addresses, bm.control_plane_vip
    pool_key, vip_key = f"{bm_key}.loadBalancerAddresses", f"{bm_key}.controlPlaneVip"
    for key, network in cluster.items():
        for address, what in ((vip, vip_key), (pool.first, pool_key), (pool.last, pool_key)):
            if address in network:
                top.problems.add(
                    what,
                    str(address),
                    f"lies inside {key} ({network})",
                    "use a host-network address",
                )
        for host in bm.hosts:
            if host.address in network:
                top.problems.add(
                    f"{bm_key}.hosts", str(host.address),
                    f"host {host.name} lies inside {key} ({network})",
                    f"move {key} away from the hosts' network",
                )  # fmt: skip


# Namespaces that exist in every cluster or come with its pod network (Calico's operator and
# what it creates; Canal lives in kube-system); `kube-` is Kubernetes' own prefix.
CLUSTER_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease"}
    | {"tigera-operator", "calico-system", "calico-apiserver"}
)
USER_FORMATS = {"email": EMAIL, "name": USERNAME}


def platform_namespaces() -> frozenset[str]:
    """Every namespace the platform may create, whichever add-ons this stack enables."""
    return CLUSTER_NAMESPACES | {n for addon in ADDONS for n in addon.namespaces}


def _tenant_lists(top: Fields, tenants: TenantsConfig):
    """(key of the entry, the entry) for every faculty and course, as the config lists them."""
    key = top.key("tenants")
    for group, members in (("faculty", tenants.faculty), ("courses", tenants.courses)):
        for index, member in enumerate(members):
            yield f"{key}.{group}[{index}]", member


def tenant_names_and_users(top: Fields, tenants: TenantsConfig, usernames: UserForm) -> None:
    """A tenant's name is its namespace: none may be the platform's. Users are of the form
    the identity section says (and lowercase: JupyterHub lowercases the names it is given)."""
    reserved = platform_namespaces()
    user_format = USER_FORMATS[usernames]
    for entry, member in _tenant_lists(top, tenants):
        if member.name in reserved or member.name.startswith("kube-"):
            top.problems.add(
                f"{entry}.name", member.name,
                "is the name of a namespace the platform or Kubernetes uses",
                "give the tenant another name (its namespace is named after it)",
            )  # fmt: skip
        for user in member.users:
            ok, _, problem = user_format.parse(user)
            if not ok or user != user.lower():
                top.problems.add(
                    f"{entry}.users", user,
                    f"{problem or 'has capital letters'} (identity.usernames: {usernames})",
                    f"{user_format.fix}, in lowercase"
                    + ("" if usernames == "name" else "; or set identity.usernames: name"),
                )  # fmt: skip


def tenant_capacity(
    top: Fields, tenants: TenantsConfig, platform: PlatformSettings, site: Site
) -> None:
    """Queued GPUs fit the whole GPUs of the exclusive hosts; notebook slices are the slices of
    the shared hosts."""
    key = top.key("tenants")
    exclusive = site.exclusive_gpus
    dedicated = sum(f.dedicated_gpus for f in tenants.faculty)
    if dedicated > exclusive:
        top.problems.add(
            f"{key}.faculty", dedicated,
            f"dedicates {dedicated} GPUs but the exclusive hosts have {exclusive} "
            f"({site.shared_gpus} of the {site.gpus} GPUs are shared)",
            "lower dedicatedGpus, or set gpu.sharing: exclusive on more hosts",
        )  # fmt: skip
    quotas = sum(c.gpu_quota for c in tenants.courses)
    if dedicated <= exclusive < dedicated + quotas:
        top.problems.add(
            f"{key}.courses", quotas,
            f"the courses' gpuQuota add up to {quotas} GPUs but the exclusive hosts have "
            f"{exclusive - dedicated} left after the faculty's {dedicated} dedicated",
            "lower the courses' gpuQuota (idle GPUs are lent to them anyway), or add "
            "exclusive GPUs",
        )  # fmt: skip
    replicas = platform["gpu"].time_slicing_replicas
    for entry, course in _tenant_lists(top, TenantsConfig(courses=tenants.courses)):
        fraction = course.notebook_gpu_fraction
        if fraction is None:
            continue
        if not site.shared_gpus:
            top.problems.add(
                f"{entry}.notebookGpuFraction", f"1/{fraction}",
                "notebooks get slices of shared GPUs, and no host has gpu.sharing: shared",
                "set gpu.sharing: shared on the hosts for notebooks, or remove notebookGpuFraction",
            )  # fmt: skip
        elif fraction != replicas:
            top.problems.add(
                f"{entry}.notebookGpuFraction", f"1/{fraction}",
                f"a notebook gets one slice of a shared GPU, which is 1/{replicas} "
                "(platform.gpu.timeSlicing.replicas)",
                f"use 1/{replicas}, or set timeSlicing.replicas to {fraction}",
            )  # fmt: skip


def served_by_tenants(top: Fields, tenants: TenantsConfig, platform: PlatformSettings) -> None:
    """Every served model lives in a tenant's namespace: its quotas, policies and people."""
    names = {m.name for m in tenants.members}
    for index, model in enumerate(platform["serving"].models):
        if model.namespace not in names:
            top.problems.add(
                f"{top.key('platform')}.serving.models[{index}].namespace", model.namespace,
                "is not a tenant", f"name a faculty or course namespace: {', '.join(sorted(names)) or 'none configured'}",
            )  # fmt: skip


def mlops_example_sign_in(
    top: Fields, platform: PlatformSettings, identity: IdentityConfig
) -> None:
    """The MLOps example makes an MLflow user of its own with MLflow's basic-auth API; with an
    OIDC provider MLflow signs users in through it instead (the mlflow add-on runs the
    mlflow-oidc-auth plugin) and has no such API."""
    if platform["mlops-example"].example.enabled and identity.oidc is not None:
        top.problems.add(
            f"{top.key('platform')}.mlops.example.enabled", True,
            "makes an MLflow user with MLflow's basic auth, but with identity.oidc MLflow "
            "signs users in through the OIDC provider",
            "set mlops.example.enabled: false on a stack with an OIDC provider",
        )  # fmt: skip
