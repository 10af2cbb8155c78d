"""Rules across sections of the stack config: networks that must not overlap, tenants that
must fit the machines and the GPU settings.

Each check records problems on the reader it is given and returns nothing, so that
`parse_config` runs them all and reports every problem together.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from components.addons.platform import PlatformSettings
from components.kubeadm.settings import KubernetesSettings
from model.fields import Fields
from model.site import Site
from model.tenants import TenantsConfig
from stacks.sections.aws import AwsConfig
from stacks.sections.baremetal import BaremetalConfig


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


def tenant_capacity(
    top: Fields, tenants: TenantsConfig, platform: PlatformSettings, site: Site
) -> None:
    """Dedicated GPUs fit the hosts; notebook shares fit the time-slicing of the GPUs."""
    key = top.key("tenants")
    dedicated = sum(f.dedicated_gpus for f in tenants.faculty)
    if dedicated > site.gpus:
        top.problems.add(
            f"{key}.faculty", dedicated,
            f"dedicates {dedicated} GPUs but the hosts have {site.gpus}",
            "lower dedicatedGpus or add GPU hosts",
        )  # fmt: skip
    replicas = platform["gpu"].time_slicing_replicas
    for course in tenants.courses:
        if course.notebook_gpu_fraction > replicas:
            top.problems.add(
                f"{key}.courses.{course.name}.notebookGpuFraction",
                f"1/{course.notebook_gpu_fraction}",
                f"a GPU is shared by at most {replicas} (platform.gpu.timeSlicing.replicas)",
                f"raise timeSlicing.replicas to {course.notebook_gpu_fraction} or use 1/{replicas}",
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
