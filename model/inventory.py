"""The machines as the cluster and platform layers see them: hosts, their roles, how to reach
them, whether AWS instances this program created or lab machines that already exist."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_command as command

from model.formats import LABEL_VALUE
from model.settings import PerSite, setting

Role = Literal["control-plane", "worker"]
CONTROL_PLANE: Role = "control-plane"
WORKER: Role = "worker"

# How a host's GPUs are offered: whole (`nvidia.com/gpu`) or time-sliced, each GPU advertised
# as `platform.gpu.timeSlicing.replicas` `nvidia.com/gpu.shared` (no memory isolation).
GpuSharing = Literal["exclusive", "shared"]
EXCLUSIVE: GpuSharing = "exclusive"
SHARED: GpuSharing = "shared"
# The GPU operator's device plugin serves the config of its ConfigMap named by this node label
# (NVIDIA/k8s-device-plugin@v0.20.0:README.md, "Updating Per-Node Configuration With a Node
# Label"; the operator's plugin watches it: NVIDIA/gpu-operator@v26.7.0:
# assets/state-device-plugin/0500_daemonset.yaml). kubeadm sets it to the host's `sharing` at
# join, so the plugin's first config is already the right one; Kueue's GPU flavors select it.
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
# Lab hosts are research GPUs, shared only where said; an AWS stack is a small development
# environment whose few GPUs its users share.
DEFAULT_GPU_SHARING = PerSite(on_premises=EXCLUSIVE, cloud=SHARED)


@dataclass(frozen=True, kw_only=True)
class GpuSpec:
    # The model reaches the kubelet's --node-labels flag: a label value, nothing else.
    model: str = setting(
        "model", doc="GPU model, a label value (e.g. rtx-4090)", format=LABEL_VALUE
    )
    count: int = setting("count", 1, minimum=1, doc="GPUs in the host")
    # Also a value of the kubelet's --node-labels (the device plugin's per-node config).
    sharing: GpuSharing = setting(
        "sharing",
        DEFAULT_GPU_SHARING,
        doc="`exclusive`: whole GPUs, queued through Kueue; `shared`: time-sliced slices for "
        "notebooks (no memory isolation)",
    )


@dataclass(frozen=True)
class SshAccess:
    """Where and as whom to SSH; the key is the stack's secret `sshPrivateKey`.

    Host keys: pulumi-command (>= 1.1) verifies a connection's `hostKey` with x/crypto/ssh
    FixedHostKey and offers only that key's algorithm; without one it accepts any host
    (InsecureIgnoreHostKey). The proxy (bastion) connection has its own `hostKey`
    (pulumi/pulumi-command@v1.2.1:provider/pkg/provider/remote/connection.go, proxyConnection.go).
    """

    user: str
    private_key: pulumi.Output[str]
    port: int = 22
    bastion_address: pulumi.Input[str] | None = None
    bastion_user: str | None = None
    bastion_host_key: pulumi.Input[str] | None = None
    # Public keys host preparation lets in for `user`: the public half of `private_key` first,
    # then any others (the next key, before a rotation). Empty: the hosts' keys are left alone.
    authorized_keys: tuple[pulumi.Input[str], ...] = ()
    # True where this program created the hosts: the keys above are all the user's keys.
    exclusive_keys: bool = False

    def connection(
        self, address: pulumi.Input[str], host_key: pulumi.Input[str] | None = None
    ) -> command.remote.ConnectionArgs:
        """pulumi-command connection to `address` (verified against `host_key` when given),
        through the bastion when there is one."""
        proxy = None
        if self.bastion_address is not None:
            proxy = command.remote.ProxyConnectionArgs(
                host=self.bastion_address,
                user=self.bastion_user or self.user,
                private_key=self.private_key,
                host_key=self.bastion_host_key,
            )
        return command.remote.ConnectionArgs(
            host=address,
            user=self.user,
            port=self.port,
            private_key=self.private_key,
            proxy=proxy,
            host_key=host_key,
            # Fresh instances and rebooting hosts refuse SSH for a while; retry rather than fail.
            dial_error_limit=30,
        )


@dataclass(frozen=True)
class Host:
    name: str
    address: pulumi.Input[str]
    roles: tuple[Role, ...]
    connection: command.remote.ConnectionArgs
    gpu: GpuSpec | None = None
    storage_devices: tuple[str, ...] = ()
    # The kubelet's node name; on AWS the cloud controller manager needs the private DNS name.
    node_name: pulumi.Input[str] | None = None
    # What makes this machine this machine: the instance id on AWS, the address and host key
    # of a lab host. When it changes the machine is a new one: the old one leaves the cluster
    # (drain, reset, Node deleted) and the new one is prepared and joins. Default: the address.
    identity: pulumi.Input[str] | None = None
    # False when the machine is dead or cut off: nothing runs on it any more, and removing or
    # replacing it skips `kubeadm reset` on it (its Node and etcd member are removed from a
    # control plane).
    reachable: bool = True

    @property
    def is_control_plane(self) -> bool:
        return CONTROL_PLANE in self.roles

    @property
    def is_worker(self) -> bool:
        return WORKER in self.roles

    @property
    def machine(self) -> pulumi.Input[str]:
        return self.identity if self.identity is not None else self.address


class InventoryError(ValueError):
    """An inventory that cannot make a cluster (the config checks catch these first)."""


@dataclass(frozen=True)
class Inventory:
    cluster_name: str
    hosts: tuple[Host, ...]
    # DNS name or address that clients and joining nodes use for the API server.
    api_endpoint: pulumi.Input[str]
    # The cloud's ReadWriteMany file system (the Site says whether there is one).
    shared_filesystem_id: pulumi.Input[str] | None = None
    # Resources the hosts depend on beyond their addresses (routes, NAT) before SSH works.
    ready: tuple[pulumi.Resource, ...] = field(default=())
    # The cloud's Pulumi provider, its region set from the stack config: add-ons that create
    # cloud resources (the S3 object store's buckets and users) use it. None on bare metal.
    cloud_provider: pulumi.ProviderResource | None = None
    # Where the program and the exported kubeconfig reach the API server, when that is not
    # https://<api_endpoint>:<port> (an internet-facing load balancer, an SSH tunnel).
    api_server_url: pulumi.Input[str] | None = None
    # Other names the API server certificate must carry (the public load balancer's name).
    api_extra_names: tuple[pulumi.Input[str], ...] = ()
    # The control plane where `kubeadm init` runs, by name: reordering the hosts changes
    # nothing. It also runs the cluster-wide steps (join tokens, drains, Node removal).
    init_host: str = ""
    # How the hosts are reached, and which keys they let in.
    ssh: SshAccess | None = None
    # The jump host the program created (AWS), whose authorized keys it keeps too.
    bastion: command.remote.ConnectionArgs | None = None

    def __post_init__(self) -> None:
        names = [h.name for h in self.hosts]
        if not self.init_host and self.control_planes:
            # Code and tests that build an inventory by hand: the first control plane.
            object.__setattr__(self, "init_host", self.control_planes[0].name)
        if self.init_host not in names:
            raise InventoryError(f"the init host {self.init_host!r} is not one of the hosts")
        if not self.init.is_control_plane:
            raise InventoryError(f"the init host {self.init_host!r} is not a control plane")

    @property
    def control_planes(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.is_control_plane)

    @property
    def workers(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.is_worker and not h.is_control_plane)

    @property
    def gpu_hosts(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.gpu)

    @property
    def storage_hosts(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.storage_devices)

    @property
    def init(self) -> Host:
        """The named init host: where `kubeadm init` ran, and the cluster-wide steps run."""
        return next(h for h in self.hosts if h.name == self.init_host)

    @property
    def first_control_plane(self) -> Host:
        return self.init


def host_summary(host: Host) -> dict[str, object]:
    """What the stack exports about a host: where it is and what it does, nothing secret."""
    summary: dict[str, object] = {"address": host.address, "roles": list(host.roles)}
    if host.gpu:
        summary["gpu"] = f"{host.gpu.count} x {host.gpu.model} ({host.gpu.sharing})"
    if host.storage_devices:
        summary["storageDevices"] = list(host.storage_devices)
    return summary
