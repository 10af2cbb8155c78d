"""The machines as the cluster and platform layers see them: hosts, their roles, how to reach
them, whether AWS instances this program created or lab machines that already exist."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_command as command

from model.formats import LABEL_VALUE
from model.settings import setting

Role = Literal["control-plane", "worker"]
CONTROL_PLANE: Role = "control-plane"
WORKER: Role = "worker"


@dataclass(frozen=True, kw_only=True)
class GpuSpec:
    # The model reaches the kubelet's --node-labels flag: a label value, nothing else.
    model: str = setting(
        "model", doc="GPU model, a label value (e.g. rtx-4090)", format=LABEL_VALUE
    )
    count: int = setting("count", 1, minimum=1, doc="GPUs in the host")


@dataclass(frozen=True)
class SshAccess:
    """Where and as whom to SSH; the key is the stack's secret `sshPrivateKey`."""

    user: str
    private_key: pulumi.Output[str]
    port: int = 22
    bastion_address: pulumi.Input[str] | None = None
    bastion_user: str | None = None

    def connection(self, address: pulumi.Input[str]) -> command.remote.ConnectionArgs:
        """pulumi-command connection to `address`, through the bastion when there is one."""
        proxy = None
        if self.bastion_address is not None:
            proxy = command.remote.ProxyConnectionArgs(
                host=self.bastion_address,
                user=self.bastion_user or self.user,
                private_key=self.private_key,
            )
        return command.remote.ConnectionArgs(
            host=address,
            user=self.user,
            port=self.port,
            private_key=self.private_key,
            proxy=proxy,
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

    @property
    def is_control_plane(self) -> bool:
        return CONTROL_PLANE in self.roles

    @property
    def is_worker(self) -> bool:
        return WORKER in self.roles


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
    def first_control_plane(self) -> Host:
        return self.control_planes[0]


def host_summary(host: Host) -> dict[str, object]:
    """What the stack exports about a host: where it is and what it does, nothing secret."""
    summary: dict[str, object] = {"address": host.address, "roles": list(host.roles)}
    if host.gpu:
        summary["gpu"] = f"{host.gpu.count} x {host.gpu.model}"
    if host.storage_devices:
        summary["storageDevices"] = list(host.storage_devices)
    return summary
