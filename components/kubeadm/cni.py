"""The pod network: Calico through the tigera-operator chart, or Canal from its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_kubernetes as kubernetes

from components import versions
from components.kubeadm.scripts import RUN_FROM_STDIN, script_bundle
from stacks.inventory import Host


@dataclass(frozen=True)
class CniArgs:
    plugin: str  # calico | canal
    pod_subnet: str
    # Canal is applied from the first control plane, once init has run.
    first_control_plane: Host
    init: pulumi.Resource


def calico_values(pod_subnet: str) -> dict:
    """tigera-operator chart values: `installation` becomes the operator's Installation spec."""
    return {
        "installation": {
            "calicoNetwork": {
                "ipPools": [
                    {
                        "cidr": pod_subnet,
                        # Encapsulate only across subnets (AZs on AWS); plain routing inside one.
                        "encapsulation": "VXLANCrossSubnet",
                        "natOutgoing": "Enabled",
                        "nodeSelector": "all()",
                    }
                ]
            }
        }
    }


def canal_patch(pod_subnet: str) -> str:
    """Merge patch of canal-config: flannel's network is the cluster's pod subnet."""
    net_conf = {"Network": pod_subnet, "Backend": {"Type": "vxlan"}}
    return json.dumps({"data": {"net-conf.json": json.dumps(net_conf)}})


class Cni(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: CniArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:kubeadm:Cni", name, None, opts)
        if args.plugin == "calico":
            # helm.v3.Release: its preview works before the cluster exists (first `pulumi up`).
            kubernetes.helm.v3.Release(
                f"{name}-calico",
                # Fixed: without it Pulumi names the release with a random suffix.
                name="calico",
                chart=versions.CALICO_CHART,
                version=versions.CALICO_VERSION,
                repository_opts=kubernetes.helm.v3.RepositoryOptsArgs(
                    repo=versions.CALICO_CHART_REPO
                ),
                namespace="tigera-operator",
                create_namespace=True,
                values=calico_values(args.pod_subnet),
                opts=pulumi.ResourceOptions(parent=self),
            )
        else:
            params = {
                "NODE_NAME": args.first_control_plane.name,
                "MANIFEST_URL": versions.CANAL_MANIFEST_URL,
                "CALICO_VERSION": versions.CALICO_VERSION,
                "CANAL_PATCH_JSON": canal_patch(args.pod_subnet),
            }
            command.remote.Command(
                f"{name}-canal",
                connection=args.first_control_plane.connection,
                create=RUN_FROM_STDIN,
                stdin=script_bundle("install-canal", params),
                add_previous_output_in_env=False,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[args.init], ignore_changes=["connection"]
                ),
            )
        self.register_outputs({})
