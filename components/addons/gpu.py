"""The NVIDIA GPU operator: device plugin with time-slicing, container toolkit, DCGM exporter,
node feature discovery, and the driver where the config says the operator manages it.

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
from model.settings import Context, Derived, PerSite, setting, subsection

DEVICE_PLUGIN_CONFIG = "time-slicing-config"


@dataclass(frozen=True, kw_only=True)
class TimeSlicing:
    replicas: int = setting(
        "replicas",
        1,
        minimum=1,
        doc="each GPU advertised as this many; time-slicing gives no memory isolation",
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
    time_slicing: TimeSlicing = subsection("timeSlicing", TimeSlicing, doc="GPU sharing")
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


@dataclass(frozen=True)
class GpuOperatorArgs:
    settings: GpuSettings
    # Ships the DCGM dashboard (when the stack has monitoring).
    context: AddonContext | None
    # The ServiceMonitor CRD: the operator creates dcgm-exporter's ServiceMonitor only if
    # the CRD exists when it reconciles, and does not look again.
    depends_on: Sequence[pulumi.Resource]


def time_slicing_config(replicas: int) -> str:
    """The device plugin's config: each GPU advertised as `replicas` nvidia.com/gpu."""
    return yamltext.dump(
        {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "timeSlicing": {
                    "renameByDefault": False,
                    # A pod asking for two slices would get two slices of one GPU.
                    "failRequestsGreaterThanOne": True,
                    "resources": [{"name": "nvidia.com/gpu", "replicas": replicas}],
                }
            },
        }
    )


def gpu_operator_values(settings: GpuSettings) -> dict[str, Any]:
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
    if settings.time_slicing_replicas > 1:
        values["devicePlugin"] = {
            "config": {
                "create": True,
                "name": DEVICE_PLUGIN_CONFIG,
                "default": "any",
                "data": {"any": time_slicing_config(settings.time_slicing_replicas)},
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
            gpu_operator_values(args.settings),
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
    args = GpuOperatorArgs(settings, context, context.depends_on)
    return Deployed(GpuOperator("gpu-operator", args, context.opts))


ADDON: Addon[GpuSettings] = Addon(
    name="gpu",
    summary="the NVIDIA GPU operator: device plugin (time-slicing), container toolkit, DCGM exporter",
    deploy=_deploy,
    settings=GpuSettings,
    section="gpu",
    needs=("prometheus-crds",),
    charts=(versions.GPU_OPERATOR,),
    enabled=lambda settings, _context: settings.enabled,
    when="`enabled` (by default when a host has a GPU)",
    check=_check,
)
