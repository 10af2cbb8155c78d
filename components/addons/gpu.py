"""The NVIDIA GPU operator: device plugin, container toolkit, DCGM exporter, node feature
discovery, and the driver where the config says the operator manages it.

Each GPU host says how it offers its GPUs (`gpu.sharing`): `exclusive` hosts advertise whole
GPUs as `nvidia.com/gpu`, `shared` hosts time-slice each GPU into `timeSlicing.replicas`
`nvidia.com/gpu.shared` (no memory isolation between the slices). The device plugin picks the
config per node from a node label kubeadm sets when the host joins.

The lab's RTX 4090 is a GeForce card, not on NVIDIA's supported list for the operator; it
works for scheduling and basic telemetry, but DCGM's profiling fields (DCGM_FI_PROF_*, e.g.
tensor-core activity) are datacenter-only and stay absent (see the README).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi

from components import versions, yamltext
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.admin import upstream_dashboard
from components.addons.helm import PRIVILEGED, namespace, release
from model.fields import Fields
from model.inventory import EXCLUSIVE, SHARED
from model.settings import Context, Derived, PerSite, setting, subsection

# The device plugin's ConfigMap: one config per way a host shares its GPUs, chosen per node by
# the label kubeadm sets at join (components/kubeadm/documents.py, DEVICE_PLUGIN_CONFIG_LABEL).
DEVICE_PLUGIN_CONFIG = "device-plugin-configs"
# What shared GPUs are advertised as: with `renameByDefault`, the plugin appends `.shared` to
# the resource name (NVIDIA/k8s-device-plugin@v0.20.0:README.md, "renameByDefault").
SHARED_GPU_RESOURCE = "nvidia.com/gpu.shared"
WHOLE_GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True, kw_only=True)
class TimeSlicing:
    replicas: int = setting(
        "replicas",
        Derived(
            lambda context, _: 4 if context.site.shared_gpus else 1,
            "`4` when a host has `gpu.sharing: shared`, else `1`",
        ),
        minimum=1,
        doc="each GPU of a `shared` host advertised as this many `nvidia.com/gpu.shared`; "
        "time-slicing gives no memory isolation",
    )


@dataclass(frozen=True, kw_only=True)
class GpuSettings:
    enabled: bool = setting(
        "enabled",
        Derived(lambda context, _: context.site.gpu_hosts > 0, "`true` when a host has a GPU"),
        doc="install the NVIDIA GPU operator",
    )
    driver: Literal["preinstalled", "managed"] = setting(
        "driver",
        PerSite(on_premises="preinstalled", cloud="managed"),
        doc="preinstalled: host preparation checks it; managed: the operator builds it on each node",
    )
    time_slicing: TimeSlicing = subsection(
        "timeSlicing", TimeSlicing, doc="how hosts with `gpu.sharing: shared` share their GPUs"
    )
    mig: bool = setting("mig", False, doc="Multi-Instance GPU (data-center cards only)")

    @property
    def time_slicing_replicas(self) -> int:
        return self.time_slicing.replicas


def _check(
    settings: GpuSettings, section: Fields, context: Context, _settings: Mapping[str, Any]
) -> None:
    site = context.site
    wanted = settings.enabled or settings.mig or settings.time_slicing_replicas > 1
    if site.hosts_known and site.gpu_hosts == 0 and wanted:
        section.problems.add(
            section.path, "enabled", "GPU features are set but no host has a GPU",
            "add gpu: {model, count} to the GPU hosts, or remove platform.gpu",
        )  # fmt: skip
        return
    if not site.hosts_known or site.gpu_hosts == 0:
        return
    replicas_key = f"{section.key('timeSlicing')}.replicas"
    replicas = settings.time_slicing_replicas
    if site.shared_gpus and replicas < 2:
        section.problems.add(
            replicas_key, replicas,
            f"{site.shared_gpus} GPU(s) are on hosts with gpu.sharing: shared, but a GPU "
            "shared by 1 is a whole GPU under another name",
            "set timeSlicing.replicas to 2 or more, or make those hosts exclusive",
        )  # fmt: skip
    elif not site.shared_gpus and replicas > 1:
        section.problems.add(
            replicas_key, replicas,
            "time-slicing applies to hosts with gpu.sharing: shared, and no host has it",
            "set gpu.sharing: shared on the hosts to slice, or remove timeSlicing",
        )  # fmt: skip


@dataclass(frozen=True)
class GpuOperatorArgs:
    settings: GpuSettings
    # Whether a host time-slices its GPUs (then each node gets its config by label).
    shared_hosts: bool
    # Ships the DCGM dashboard (when the stack has monitoring).
    context: AddonContext | None
    # The ServiceMonitor CRD: the operator creates dcgm-exporter's ServiceMonitor only if
    # the CRD exists when it reconciles, and does not look again.
    depends_on: Sequence[pulumi.Resource]


def device_plugin_configs(settings: GpuSettings) -> dict[str, str]:
    """The device plugin's configs by name, one per value of `gpu.sharing`: `exclusive`
    advertises whole GPUs as nvidia.com/gpu; `shared` advertises each GPU as `replicas`
    nvidia.com/gpu.shared."""
    flags = {"migStrategy": "single" if settings.mig else "none"}
    shared = {
        "version": "v1",
        "flags": flags,
        "sharing": {
            "timeSlicing": {
                # Renamed, so that a pod asking for nvidia.com/gpu never lands on a slice.
                "renameByDefault": True,
                # A pod asking for two slices would get two slices of one GPU.
                "failRequestsGreaterThanOne": True,
                "resources": [
                    {"name": WHOLE_GPU_RESOURCE, "replicas": settings.time_slicing_replicas}
                ],
            }
        },
    }
    return {
        EXCLUSIVE: yamltext.dump({"version": "v1", "flags": flags}),
        SHARED: yamltext.dump(shared),
    }


def gpu_operator_values(settings: GpuSettings, shared_hosts: bool = False) -> dict[str, Any]:
    managed = settings.driver == "managed"
    values: dict[str, Any] = {
        "driver": {"enabled": managed},
        # The toolkit stays operator-managed when only the driver is preinstalled (NVIDIA's
        # "pre-installed drivers" case); with CDI it does not make nvidia the default runtime.
        "toolkit": {"enabled": True},
        "cdi": {"enabled": True},
        "nfd": {"enabled": True},
        "mig": {"strategy": "single" if settings.mig else "none"},
        "migManager": {"enabled": settings.mig},
        "dcgmExporter": {
            "enabled": True,
            "serviceMonitor": {
                "enabled": True,
                "interval": "15s",
                # The exporter labels each GPU's series with the namespace and pod using it;
                # honoured, they stay those (not exported_namespace), so per-tenant GPU use
                # is a plain `sum by (namespace)`.
                "honorLabels": True,
                # The node name on every GPU series; alerts and dashboards group by it.
                "relabelings": [
                    {
                        "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                        "targetLabel": "node",
                        "action": "replace",
                    }
                ],
            },
        },
    }
    if shared_hosts:
        # A node without the label (joined before it existed) gets whole GPUs.
        values["devicePlugin"] = {
            "config": {
                "create": True,
                "name": DEVICE_PLUGIN_CONFIG,
                "default": EXCLUSIVE,
                "data": device_plugin_configs(settings),
            }
        }
    return values


class GpuOperator(pulumi.ComponentResource):
    NAMESPACE = "gpu-operator"

    def __init__(
        self, name: str, args: GpuOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:GpuOperator", name, None, opts)
        ns = namespace(self.NAMESPACE, PRIVILEGED, self, args.depends_on)
        self.release = release(
            "gpu-operator",
            versions.GPU_OPERATOR,
            ns,
            gpu_operator_values(args.settings, args.shared_hosts),
            self,
            # A managed driver is compiled on each node at first install.
            timeout_seconds=1800,
        )
        if args.context is not None and args.context.enabled("monitoring"):
            upstream_dashboard(
                f"{name}-dashboard",
                versions.DCGM_DASHBOARD,
                self.NAMESPACE,
                "GPU",
                args.context,
                self,
                [ns],
            )
        self.register_outputs({})


def _deploy(settings: GpuSettings, context: AddonContext) -> Deployed:
    shared = any(h.gpu.sharing == SHARED for h in context.inventory.gpu_hosts)
    args = GpuOperatorArgs(settings, shared, context, context.depends_on)
    return Deployed(GpuOperator("gpu-operator", args, context.opts))


ADDON: Addon[GpuSettings] = Addon(
    name="gpu",
    summary="the NVIDIA GPU operator: device plugin (whole or time-sliced GPUs per host), container "
    "toolkit, DCGM exporter",
    deploy=_deploy,
    settings=GpuSettings,
    section="gpu",
    needs=("prometheus-crds",),
    charts=(versions.GPU_OPERATOR,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled` (by default when a host has a GPU)",
    check=_check,
    namespaces=(GpuOperator.NAMESPACE,),
)
