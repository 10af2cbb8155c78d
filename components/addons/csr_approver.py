"""The approver of kubelet serving certificates: kubeadm's kubelets ask for them
(serverTLSBootstrap), so that metrics-server and `kubectl logs` verify kubelets over TLS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import CONTROL_PLANE_TOLERATION, release


@dataclass(frozen=True)
class CsrApproverArgs:
    # Node names the approver accepts, and the addresses their certificates may carry.
    node_name_regex: str
    node_network: str
    # Lab node names are not in DNS; on AWS they resolve to the node's own address.
    bypass_dns_resolution: bool
    depends_on: Sequence[pulumi.Resource]


def csr_approver_values(args: CsrApproverArgs) -> dict[str, Any]:
    return {
        "providerRegex": args.node_name_regex,
        "providerIpPrefixes": [args.node_network],
        "bypassDnsResolution": args.bypass_dns_resolution,
        "maxExpirationSeconds": "31622400",  # 366 days, as kubelet asks
        "replicas": 2,
        "tolerations": [CONTROL_PLANE_TOLERATION],
        "metrics": {"serviceMonitor": {"enabled": True}},
    }


class KubeletCsrApprover(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: CsrApproverArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:KubeletCsrApprover", name, None, opts)
        self.release = release(
            "kubelet-csr-approver",
            versions.KUBELET_CSR_APPROVER,
            "kube-system",
            csr_approver_values(args),
            self,
            depends_on=args.depends_on,
        )
        self.register_outputs({})


def _deploy(_settings: None, context: AddonContext) -> Deployed:
    site = context.site
    # The approver checks that a kubelet asks only for its own node name and for addresses in
    # the node network; the site's node-name pattern is the second fence.
    args = CsrApproverArgs(
        site.node_name_pattern, site.node_network, not site.node_names_resolve, context.depends_on
    )
    return Deployed(KubeletCsrApprover("kubelet-csr-approver", args, context.opts))


ADDON: Addon[None] = Addon(
    name="kubelet-csr-approver",
    summary="approves kubelet serving certificates, so metrics-server verifies kubelets",
    deploy=_deploy,
    needs=("prometheus-crds",),
    charts=(versions.KUBELET_CSR_APPROVER,),
)
