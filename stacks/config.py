"""The stack config contract: typed, frozen settings, validated before any resource exists.

`load_config()` reads the `ml-platform:*` keys of the running stack; `parse_config()` is the
pure part, turning the decoded values into a `PlatformConfig` or raising one `ConfigError`
that lists every problem (key path, bad value, fix).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from components import versions
from stacks import checks
from stacks.fields import MISSING, ConfigError, Fields, Problems, suggestion

NAMESPACE = "ml-platform"
TOP_LEVEL_KEYS = (
    "infrastructure",
    "sshPrivateKey",
    "kubernetes",
    "baremetal",
    "aws",
    "platform",
    "tenants",
)
ROLES = ("control-plane", "worker")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
VERSION = re.compile(r"^1\.(\d+)\.(\d+)$")

__all__ = ["ConfigError", "PlatformConfig", "load_config", "parse_config"]


@dataclass(frozen=True)
class KubernetesConfig:
    version: str
    cni: str
    pod_subnet: ipaddress.IPv4Network
    service_subnet: ipaddress.IPv4Network
    cluster_name: str
    etcd_snapshot_retention_days: int

    @property
    def minor(self) -> str:
        """`1.36` for `1.36.4`: the pkgs.k8s.io repository the packages come from."""
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class GpuSpec:
    model: str
    count: int


@dataclass(frozen=True)
class HostConfig:
    name: str
    address: ipaddress.IPv4Address
    roles: tuple[str, ...]
    gpu: GpuSpec | None = None
    storage_devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bastion:
    address: str
    user: str


@dataclass(frozen=True)
class AddressRange:
    first: ipaddress.IPv4Address
    last: ipaddress.IPv4Address

    def __contains__(self, address: ipaddress.IPv4Address) -> bool:
        return self.first <= address <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class BaremetalConfig:
    ssh_user: str
    ssh_port: int
    control_plane_vip: ipaddress.IPv4Address
    # The control planes' network interface on which kube-vip announces the VIP by ARP.
    vip_interface: str
    # The hosts' own network: host addresses, the VIP and the MetalLB pool all lie in it.
    host_network: ipaddress.IPv4Network
    load_balancer_addresses: AddressRange
    hosts: tuple[HostConfig, ...]
    bastion: Bastion | None = None


@dataclass(frozen=True)
class NodeGroupConfig:
    count: int
    instance_type: str
    root_volume_gb: int
    gpu: GpuSpec | None = None


@dataclass(frozen=True)
class AwsConfig:
    region: str
    availability_zones: int
    vpc_cidr: ipaddress.IPv4Network
    admin_cidrs: tuple[ipaddress.IPv4Network, ...]
    control_plane: NodeGroupConfig
    workers: NodeGroupConfig
    gpu_workers: NodeGroupConfig
    ssh_user: str
    ami: str | None = None


@dataclass(frozen=True)
class GpuSettings:
    enabled: bool
    driver: str
    time_slicing_replicas: int
    mig: bool


@dataclass(frozen=True)
class CertificateSettings:
    issuer: str  # self-signed | acme
    acme_email: str | None
    acme_server: str


@dataclass(frozen=True)
class MonitoringSettings:
    enabled: bool
    retention: str  # a Prometheus duration, e.g. 15d
    volume_size: str  # a Kubernetes quantity, e.g. 50Gi
    # None: the cluster's default StorageClass.
    storage_class: str | None


@dataclass(frozen=True)
class AddonsConfig:
    domain: str
    gpu: GpuSettings
    storage: str
    object_store: str
    ingress_replicas: int
    certificates: CertificateSettings
    monitoring: MonitoringSettings
    vpa_mode: str  # recommend | auto | off


@dataclass(frozen=True)
class Faculty:
    name: str
    users: tuple[str, ...]
    dedicated_gpus: int


@dataclass(frozen=True)
class Course:
    name: str
    users: tuple[str, ...]
    gpu_quota: int
    notebook_gpu_fraction: int  # the N of 1/N


@dataclass(frozen=True)
class TenantsConfig:
    faculty: tuple[Faculty, ...] = ()
    courses: tuple[Course, ...] = ()


@dataclass(frozen=True)
class PlatformConfig:
    """The whole validated stack config; the only thing the layers below read."""

    stack: str
    infrastructure: str
    ssh_private_key: pulumi.Output[str]
    kubernetes: KubernetesConfig
    platform: AddonsConfig
    tenants: TenantsConfig
    baremetal: BaremetalConfig | None = None
    aws: AwsConfig | None = None


# Instance types whose GPUs are known; any other GPU instance type must say `gpu:` itself.
AWS_GPU_INSTANCES: Mapping[str, GpuSpec] = {
    "g4dn.xlarge": GpuSpec("t4", 1),
    "g4dn.2xlarge": GpuSpec("t4", 1),
    "g5.xlarge": GpuSpec("a10g", 1),
    "g5.2xlarge": GpuSpec("a10g", 1),
    "g5.12xlarge": GpuSpec("a10g", 4),
    "g6.xlarge": GpuSpec("l4", 1),
    "g6.2xlarge": GpuSpec("l4", 1),
    "g6.12xlarge": GpuSpec("l4", 4),
    "g6e.xlarge": GpuSpec("l40s", 1),
    "p4d.24xlarge": GpuSpec("a100", 8),
    "p5.48xlarge": GpuSpec("h100", 8),
}


def load_config() -> PlatformConfig:
    """The running stack's config, validated; raises ConfigError before any resource."""
    prefix = f"{NAMESPACE}:"
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values = {k[len(prefix) :]: _decode(v) for k, v in raw.items() if k.startswith(prefix)}
    key_is_secret = runtime_config.is_config_secret(f"{prefix}sshPrivateKey")
    ssh_key = pulumi.Config(NAMESPACE).get_secret("sshPrivateKey")
    return parse_config(values, ssh_key, key_is_secret, pulumi.get_stack())


def _decode(value: Any) -> Any:
    """Structured config values arrive JSON-encoded; plain strings stay strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_config(
    values: Mapping[str, Any],
    ssh_private_key: pulumi.Output[str] | None,
    key_is_secret: bool,
    stack: str,
) -> PlatformConfig:
    problems = Problems()
    top = Fields(values, f"{NAMESPACE}:", problems, TOP_LEVEL_KEYS)
    infrastructure = top.choice("infrastructure", ("aws", "baremetal"))
    _check_ssh_key(top, ssh_private_key, key_is_secret)
    kubernetes = _kubernetes(top, stack)
    baremetal = aws = None
    if infrastructure == "baremetal":
        baremetal = _baremetal(top)
        _refuse_other_section(top, "aws", infrastructure)
    elif infrastructure == "aws":
        aws = _aws(top)
        _refuse_other_section(top, "baremetal", infrastructure)
    gpu_hosts, storage_hosts = _gpu_and_storage_hosts(baremetal, aws)
    platform = _addons(top, infrastructure, kubernetes, gpu_hosts)
    tenants = _tenants(top)
    if baremetal:
        checks.baremetal_addresses(top, baremetal)
    if kubernetes and baremetal:
        checks.baremetal_networks(top, kubernetes, baremetal)
    if kubernetes and aws:
        checks.aws_networks(top, kubernetes, aws)
    # Capacity checks compare against the hosts; without valid hosts they would only add noise.
    hosts_known = baremetal is not None or aws is not None
    if platform and hosts_known:
        checks.platform_needs(top, platform, gpu_hosts, storage_hosts)
    if tenants and platform and hosts_known:
        checks.tenant_capacity(top, tenants, platform, _total_gpus(baremetal, aws))
    problems.raise_if_any()
    return PlatformConfig(
        stack=stack,
        infrastructure=infrastructure,
        ssh_private_key=ssh_private_key,
        kubernetes=kubernetes,
        platform=platform,
        tenants=tenants,
        baremetal=baremetal,
        aws=aws,
    )


def _check_ssh_key(top: Fields, key: pulumi.Output[str] | None, is_secret: bool) -> None:
    fix = "pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519"
    if key is None:
        top.bad("sshPrivateKey", "is required to reach the hosts over SSH", fix)
    elif not is_secret:
        top.problems.add(
            top.key("sshPrivateKey"), "(plain text, not shown)", "is stored in plain text", fix
        )


def _refuse_other_section(top: Fields, section: str, infrastructure: str) -> None:
    if top.raw(section) is not MISSING:
        top.bad(
            section,
            f"is set but infrastructure is {infrastructure}",
            f"remove the {section} section or set infrastructure: {section}",
        )


def _kubernetes(top: Fields, stack: str) -> KubernetesConfig | None:
    known = (
        "version",
        "cni",
        "podSubnet",
        "serviceSubnet",
        "clusterName",
        "etcdSnapshotRetentionDays",
    )
    k8s = top.section("kubernetes", known)
    if k8s is None:
        return None
    version = _kubernetes_version(k8s)
    cluster_name = k8s.string("clusterName", f"ml-platform-{stack}".lower())
    if cluster_name is not None and not DNS_LABEL.match(cluster_name):
        k8s.bad("clusterName", "is not a DNS label", "use lowercase letters, digits and '-'")
        cluster_name = None
    fields = {
        "version": version,
        "cni": k8s.choice("cni", ("calico", "canal"), "calico"),
        "pod_subnet": k8s.network("podSubnet", "10.244.0.0/16"),
        "service_subnet": k8s.network("serviceSubnet", "10.96.0.0/12"),
        "cluster_name": cluster_name,
        "etcd_snapshot_retention_days": k8s.integer("etcdSnapshotRetentionDays", 7, minimum=1),
    }
    return None if None in fields.values() else KubernetesConfig(**fields)


def _kubernetes_version(k8s: Fields) -> str | None:
    version = k8s.string("version", versions.KUBERNETES_VERSION)
    if version is None:
        return None
    supported = versions.supported_kubernetes_minors()
    span = f"1.{supported.start} to 1.{supported.stop - 1}"
    match = VERSION.match(version)
    if not match:
        k8s.bad(
            "version",
            "must be an exact version 1.MINOR.PATCH",
            f"e.g. {versions.KUBERNETES_VERSION}",
        )
        return None
    if int(match.group(1)) not in supported:
        limits = ", ".join(
            f"{s.component} {s.release}: 1.{s.oldest_minor}-1.{s.newest_minor}"
            for s in versions.ADDON_KUBERNETES_SUPPORT
        )
        k8s.bad(
            "version",
            f"is outside what every pinned add-on supports ({limits})",
            f"use a {span} release, e.g. {versions.KUBERNETES_VERSION}",
        )
        return None
    return version


def _gpu(fields: Fields, name: str) -> GpuSpec | None:
    gpu = fields.section(name, ("model", "count"))
    if gpu is None or not gpu.data:
        return None
    model, count = gpu.string("model"), gpu.integer("count", 1, minimum=1)
    return GpuSpec(model, count) if model and count else None


def _baremetal(top: Fields) -> BaremetalConfig | None:
    known = (
        "sshUser", "sshPort", "controlPlaneVip", "vipInterface", "hostNetwork",
        "loadBalancerAddresses", "bastion", "hosts",
    )  # fmt: skip
    bm = top.section("baremetal", known, required=True)
    if bm is None:
        return None
    fields = {
        "ssh_user": bm.string("sshUser", "ubuntu"),
        "ssh_port": bm.integer("sshPort", 22, minimum=1),
        "control_plane_vip": bm.ip("controlPlaneVip"),
        "vip_interface": bm.string("vipInterface"),
        "host_network": bm.network("hostNetwork"),
        "load_balancer_addresses": _address_range(bm, "loadBalancerAddresses"),
        "hosts": _hosts(bm),
    }
    bastion = bm.section("bastion", ("address", "user"))
    if bastion is not None and bastion.data:
        address, user = bastion.string("address"), bastion.string("user", fields["ssh_user"])
        fields["bastion"] = Bastion(address, user) if address and user else None
    return None if None in fields.values() else BaremetalConfig(**fields)


def _address_range(fields: Fields, name: str) -> AddressRange | None:
    """`first-last`, or a CIDR taken as all of its addresses."""
    text = fields.string(name)
    if text is None:
        return None
    if "/" in text:
        network = fields.parse_network(name, text)
        return network and AddressRange(network[0], network[-1])
    first, _, last = text.partition("-")
    first_ip = fields.parse_ip(name, first.strip())
    last_ip = fields.parse_ip(name, (last or first).strip())
    if first_ip is None or last_ip is None:
        return None
    if last_ip < first_ip:
        fields.bad(name, "ends before it starts", "write it as first-last, lowest address first")
        return None
    return AddressRange(first_ip, last_ip)


def _hosts(bm: Fields) -> tuple[HostConfig, ...] | None:
    entries = bm.items("hosts")
    if entries is None:
        return None
    hosts = tuple(filter(None, (_host(bm, i, entry) for i, entry in enumerate(entries))))
    if len(hosts) != len(entries):
        return None
    checks.host_list(bm, hosts)
    return hosts


def _host(bm: Fields, index: int, entry: Any) -> HostConfig | None:
    host = bm.element("hosts", index, entry, ("name", "address", "roles", "gpu", "storageDevices"))
    if host is None:
        return None
    name, address = host.string("name"), host.ip("address")
    if name is not None and not DNS_LABEL.match(name):
        host.bad("name", "is not a valid node name", "use lowercase letters, digits and '-'")
        name = None
    roles = host.strings("roles")
    for role in roles or ():
        if role not in ROLES:
            host.bad("roles", f"has an unknown role '{role}'", suggestion(role, ROLES))
            roles = None
    devices = host.strings("storageDevices", [])
    for device in devices or ():
        if not re.match(r"^/dev/\S+$", device):
            host.bad(
                "storageDevices", f"'{device}' is not an absolute /dev path", "e.g. /dev/nvme1n1"
            )
            devices = None
    gpu = _gpu(host, "gpu")
    if None in (name, address, roles, devices) or not roles:
        if roles == ():
            host.bad("roles", "is empty", "give the host control-plane, worker or both")
        return None
    return HostConfig(name, address, roles, gpu, devices)


def _node_group(
    aws: Fields, name: str, default_type: str, default_gb: int
) -> NodeGroupConfig | None:
    group = aws.section(name, ("count", "instanceType", "rootVolumeGb", "gpu"))
    if group is None:
        return None
    count = group.integer("count", 0, minimum=0)
    instance_type = group.string("instanceType", default_type)
    root_gb = group.integer("rootVolumeGb", default_gb, minimum=20)
    gpu = _gpu(group, "gpu")
    if None in (count, instance_type, root_gb):
        return None
    return NodeGroupConfig(count, instance_type, root_gb, gpu)


def _aws(top: Fields) -> AwsConfig | None:
    known = (
        "region", "availabilityZones", "vpcCidr", "adminCidrs", "ami", "sshUser",
        "controlPlane", "workers", "gpuWorkers",
    )  # fmt: skip
    aws = top.section("aws", known, required=True)
    if aws is None:
        return None
    admin = aws.strings("adminCidrs")
    admin_cidrs = (
        None if admin is None else tuple(aws.parse_network("adminCidrs", c) for c in admin)
    )
    fields = {
        "region": aws.string("region"),
        "availability_zones": aws.integer("availabilityZones", 3, minimum=1),
        "vpc_cidr": aws.network("vpcCidr", "10.0.0.0/16"),
        "admin_cidrs": None if admin_cidrs is None or None in admin_cidrs else admin_cidrs,
        "control_plane": _node_group(aws, "controlPlane", "m7i.large", 50),
        "workers": _node_group(aws, "workers", "m7i.2xlarge", 100),
        "gpu_workers": _node_group(aws, "gpuWorkers", "g6.xlarge", 200),
        "ssh_user": aws.string("sshUser", "ubuntu"),
        "ami": aws.string("ami", None),
    }
    checks.aws_shape(aws, fields)
    if None in (v for k, v in fields.items() if k != "ami"):
        return None
    gpu_workers = fields["gpu_workers"]
    if gpu_workers.count and gpu_workers.gpu is None:
        spec = AWS_GPU_INSTANCES.get(gpu_workers.instance_type)
        if spec is None:
            aws.bad(
                "gpuWorkers",
                f"instance type {gpu_workers.instance_type} has no known GPU",
                "add gpu: {model: ..., count: ...} to gpuWorkers",
            )
            return None
        fields["gpu_workers"] = NodeGroupConfig(
            gpu_workers.count, gpu_workers.instance_type, gpu_workers.root_volume_gb, spec
        )
    return AwsConfig(**fields)


def _gpu_and_storage_hosts(
    baremetal: BaremetalConfig | None, aws: AwsConfig | None
) -> tuple[int, int]:
    if baremetal:
        hosts = baremetal.hosts
        return sum(1 for h in hosts if h.gpu), sum(1 for h in hosts if h.storage_devices)
    if aws:
        return aws.gpu_workers.count, 0
    return 0, 0


def _total_gpus(baremetal: BaremetalConfig | None, aws: AwsConfig | None) -> int:
    if baremetal:
        return sum(h.gpu.count for h in baremetal.hosts if h.gpu)
    if aws and aws.gpu_workers.gpu:
        return aws.gpu_workers.count * aws.gpu_workers.gpu.count
    return 0


PLATFORM_KEYS = (
    "domain", "gpu", "storage", "mlflow", "ingress", "certificates", "monitoring", "autoscaling",
)  # fmt: skip
# Prometheus' duration syntax (units largest first), e.g. 15d, 2w, 1d12h.
PROMETHEUS_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
BINARY_QUANTITY = re.compile(r"^[1-9]\d*(Mi|Gi|Ti)$")
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


def _certificates(platform: Fields) -> CertificateSettings | None:
    certs = platform.section("certificates", ("issuer", "acmeEmail", "acmeServer"))
    if certs is None:
        return None
    issuer = certs.choice("issuer", ("self-signed", "acme"), "self-signed")
    email = certs.string("acmeEmail", None)
    server = certs.string("acmeServer", LETS_ENCRYPT)
    if issuer == "acme" and not email:
        certs.bad(
            "acmeEmail", "is required with issuer acme", "set the address the CA may write to"
        )
        return None
    if server is not None and not server.startswith("https://"):
        certs.bad("acmeServer", "must be an https:// URL", f"e.g. {LETS_ENCRYPT}")
        return None
    return None if None in (issuer, server) else CertificateSettings(issuer, email, server)


def _monitoring(platform: Fields) -> MonitoringSettings | None:
    known = ("enabled", "retention", "volumeSize", "storageClass")
    monitoring = platform.section("monitoring", known)
    if monitoring is None:
        return None
    retention = monitoring.string("retention", "15d")
    if retention is not None and not (retention and PROMETHEUS_DURATION.match(retention)):
        monitoring.bad(
            "retention",
            "is not a Prometheus duration",
            "write it like 15d, 2w or 36h (units y w d h m s ms)",
        )
        retention = None
    size = monitoring.string("volumeSize", "50Gi")
    if size is not None and not BINARY_QUANTITY.match(size):
        monitoring.bad("volumeSize", "is not a size in Mi, Gi or Ti", "write it like 50Gi")
        size = None
    fields = (monitoring.boolean("enabled", True), retention, size)
    if None in fields:
        return None
    return MonitoringSettings(*fields, storage_class=monitoring.string("storageClass", None))


def _addons(
    top: Fields, infrastructure: str | None, k8s: KubernetesConfig | None, gpu_hosts: int
) -> AddonsConfig | None:
    platform = top.section("platform", PLATFORM_KEYS)
    if platform is None:
        return None
    on_aws = infrastructure == "aws"
    cluster = k8s.cluster_name if k8s else "ml-platform"
    domain = platform.string("domain", f"{cluster}.internal")
    gpu = platform.section("gpu", ("enabled", "driver", "timeSlicing", "mig"))
    storage = platform.section("storage", ("provider",))
    mlflow = platform.section("mlflow", ("objectStore",))
    ingress = platform.section("ingress", ("replicas",))
    autoscaling = platform.section("autoscaling", ("vpa",))
    if None in (gpu, storage, mlflow, ingress, autoscaling):
        return None
    time_slicing = gpu.section("timeSlicing", ("replicas",))
    settings = GpuSettings(
        enabled=gpu.boolean("enabled", gpu_hosts > 0),
        driver=gpu.choice(
            "driver", ("preinstalled", "managed"), "managed" if on_aws else "preinstalled"
        ),
        time_slicing_replicas=time_slicing and time_slicing.integer("replicas", 1, minimum=1),
        mig=gpu.boolean("mig", False),
    )
    fields = {
        "domain": domain,
        "gpu": settings,
        "storage": storage.choice(
            "provider", ("rook-ceph", "aws", "none"), "aws" if on_aws else "rook-ceph"
        ),
        "object_store": mlflow.choice(
            "objectStore", ("ceph-rgw", "s3", "minio"), "s3" if on_aws else "ceph-rgw"
        ),
        "ingress_replicas": ingress.integer("replicas", 2, minimum=1),
        "certificates": _certificates(platform),
        "monitoring": _monitoring(platform),
        # Recommendations only by default: `auto` lets the updater evict pods to resize them.
        "vpa_mode": autoscaling.choice("vpa", ("recommend", "auto", "off"), "recommend"),
    }
    if None in fields.values() or None in vars(settings).values():
        return None
    return AddonsConfig(**fields)


def _tenants(top: Fields) -> TenantsConfig | None:
    tenants = top.section("tenants", ("faculty", "courses"))
    if tenants is None:
        return None
    faculty = tuple(
        _faculty(tenants, i, entry) for i, entry in enumerate(tenants.items("faculty", []) or [])
    )
    courses = tuple(
        _course(tenants, i, entry) for i, entry in enumerate(tenants.items("courses", []) or [])
    )
    if None in faculty or None in courses:
        return None
    checks.tenant_names(tenants, [*faculty, *courses])
    return TenantsConfig(faculty, courses)


def _faculty(tenants: Fields, index: int, entry: Any) -> Faculty | None:
    member = tenants.element("faculty", index, entry, ("name", "users", "dedicatedGpus"))
    if member is None:
        return None
    fields = (
        member.string("name"),
        member.strings("users", []),
        member.integer("dedicatedGpus", 0),
    )
    return None if None in fields else Faculty(*fields)


def _course(tenants: Fields, index: int, entry: Any) -> Course | None:
    known = ("name", "users", "gpuQuota", "notebookGpuFraction")
    course = tenants.element("courses", index, entry, known)
    if course is None:
        return None
    fraction = course.string("notebookGpuFraction", "1/1")
    denominator = None
    if fraction is not None:
        match = re.match(r"^1/([1-9]\d*)$", fraction)
        if match:
            denominator = int(match.group(1))
        else:
            course.bad("notebookGpuFraction", "must be 1/N", "write it as 1/1, 1/2, 1/4 ...")
    fields = (
        course.string("name"),
        course.strings("users", []),
        course.integer("gpuQuota", 0),
        denominator,
    )
    return None if None in fields else Course(*fields)
