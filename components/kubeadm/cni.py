"""The pod network: Calico through the tigera-operator chart (after its CRD chart, and ready
once calico-node is Ready), or Canal from its manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_kubernetes as kubernetes

from components import versions
from components.kubeadm.scripts import RUN_FROM_STDIN, script_bundle
from model.inventory import Host


@dataclass(frozen=True)
class CniArgs:
    plugin: str  # calico | canal
    pod_subnet: str
    # Canal is applied, and Calico's readiness checked, from the first control plane.
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


# How long the CNI may take to become ready before `pulumi up` stops with a message naming
# what is not ready (pulling Calico's images onto every node takes most of it).
CALICO_READY_TIMEOUT_SECONDS = 900
CALICO_READY_POLL_SECONDS = 10


class Cni(pulumi.ComponentResource):
    """The pod network. Whatever waits for this component waits for all of its children, so
    for Calico for the readiness gate: calico-node Ready on the nodes."""

    def __init__(
        self, name: str, args: CniArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:kubeadm:Cni", name, None, opts)
        if args.plugin == "calico":
            self._calico(name, args)
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
                opts=pulumi.ResourceOptions(parent=self, depends_on=[args.init]),
            )
        self.register_outputs({})

    def _calico(self, name: str, args: CniArgs) -> None:
        repository = kubernetes.helm.v3.RepositoryOptsArgs(repo=versions.CALICO_CHART_REPO)
        # Since v3.32 the operator chart ships no CRDs: without these Helm cannot map the
        # Installation it renders. helm.v3.Release: its preview works before the cluster
        # exists (first `pulumi up`). Never atomic: a failed upgrade must not delete CRDs,
        # and with them every Calico resource.
        crds = kubernetes.helm.v3.Release(
            f"{name}-calico-crds",
            name="calico-crds",
            chart=versions.CALICO_CRDS.chart,
            version=versions.CALICO_CRDS.version,
            repository_opts=repository,
            namespace="tigera-operator",
            create_namespace=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        values = calico_values(args.pod_subnet)
        operator = kubernetes.helm.v3.Release(
            f"{name}-calico",
            # Fixed: without it Pulumi names the release with a random suffix.
            name="calico",
            chart=versions.CALICO_CHART,
            version=versions.CALICO_VERSION,
            repository_opts=repository,
            namespace="tigera-operator",
            create_namespace=True,
            values=values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[crds]),
        )
        # Helm's wait ends when the operator Deployment is up; calico-node comes after.
        # The gate runs again when the version or the values change (its stdin does).
        params = {
            "NODE_NAME": args.first_control_plane.name,
            "CALICO_VERSION": versions.CALICO_VERSION,
            "TIMEOUT_SECONDS": str(CALICO_READY_TIMEOUT_SECONDS),
            "POLL_SECONDS": str(CALICO_READY_POLL_SECONDS),
            "VALUES_DIGEST": hashlib.sha256(
                json.dumps(values, sort_keys=True).encode()
            ).hexdigest(),
        }
        command.remote.Command(
            f"{name}-calico-ready",
            connection=args.first_control_plane.connection,
            create=RUN_FROM_STDIN,
            stdin=script_bundle("calico-ready", params),
            add_previous_output_in_env=False,
            # No ignore_changes on the connection: commands follow the machine (a rotated key, a
            # new init host reach the host as it is now; the gate is idempotent).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[operator]),
        )
