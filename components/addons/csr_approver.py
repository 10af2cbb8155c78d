"""The approver of kubelet serving certificates: kubeadm's kubelets ask for them
(serverTLSBootstrap), so that metrics-server and `kubectl logs` verify kubelets over TLS.

Each node gets a certificate for its own addresses only. postfinance/kubelet-csr-approver
(v1.2.14, internal/controller/regex_ip_checks.go) checks that the CSR's DNS names start with the
node's name and match `providerRegex`, resolves them, and requires every SAN IP to be among the
resolved addresses (unless `bypassDnsResolution`), and every IP (SAN and resolved) to lie in
`providerIpPrefixes`. So:

- `providerIpPrefixes` lists each node's own address (a /32), not the whole host network: no
  node gets a certificate for the API VIP, a load-balancer address or an address no node has;
- names are always resolved, so a node's IPs must be what its own name resolves to: on AWS the
  VPC resolves private DNS names; on bare metal, where lab names are in no DNS, a small resolver
  of the node names alone (CoreDNS with a `hosts` file of name -> address) answers the approver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components import versions
from components.addons.addon import Addon, AddonContext, Deployed
from components.addons.helm import CONTROL_PLANE_TOLERATION, release

NAMESPACE = "kube-system"
NODE_NAMES = "kubelet-csr-approver-node-names"
DNS_PORT = 1053  # unprivileged: the resolver runs as non-root with no capabilities


@dataclass(frozen=True)
class CsrApproverArgs:
    # Node names the approver accepts.
    node_name_regex: str
    # Every node's name and address: its certificate may carry these and nothing else.
    node_addresses: Mapping[pulumi.Input[str], pulumi.Input[str]]
    # Node names resolve in the cluster's DNS (AWS); otherwise the program serves them.
    names_resolve: bool
    depends_on: Sequence[pulumi.Resource]


def csr_approver_values(
    args: CsrApproverArgs, nameserver: pulumi.Input[str] | None
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "providerRegex": args.node_name_regex,
        "providerIpPrefixes": [
            pulumi.Output.concat(address, "/32")
            if isinstance(address, pulumi.Output)
            else f"{address}/32"
            for address in args.node_addresses.values()
        ],
        "bypassDnsResolution": False,
        "maxExpirationSeconds": "31622400",  # 366 days, as kubelet asks
        "replicas": 2,
        "tolerations": [CONTROL_PLANE_TOLERATION],
        "metrics": {"serviceMonitor": {"enabled": True}},
    }
    if nameserver is not None:
        # Only the node-name resolver: the approver talks to the API server by address.
        values["dnsPolicy"] = "None"
        values["dnsConfig"] = {"nameservers": [nameserver]}
    return values


def hosts_file(node_addresses: Mapping[str, str]) -> str:
    """`<address> <name>` per node, sorted by name: the order of the hosts in the config does not
    matter."""
    return "".join(f"{node_addresses[name]} {name}\n" for name in sorted(node_addresses))


COREFILE = f""".:{DNS_PORT} {{
    errors
    health :8080
    ready :8181
    hosts /etc/coredns/hosts {{
        reload 10s
        no_reverse
    }}
}}
"""


class NodeNameResolver(pulumi.ComponentResource):
    """CoreDNS answering the node names of the lab, nothing else."""

    cluster_ip: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        node_addresses: Mapping[str, str],
        depends_on: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-platform:platform:NodeNameResolver", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))
        labels = {"app.kubernetes.io/name": NODE_NAMES, "app.kubernetes.io/part-of": "ml-platform"}
        metadata = {"name": NODE_NAMES, "namespace": NAMESPACE, "labels": labels}
        config = kubernetes.core.v1.ConfigMap(
            NODE_NAMES,
            metadata=metadata,
            data={"Corefile": COREFILE, "hosts": hosts_file(node_addresses)},
            opts=child,
        )
        restricted = {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        kubernetes.apps.v1.Deployment(
            NODE_NAMES,
            metadata=metadata,
            spec={
                "replicas": 2,
                "selector": {"matchLabels": {"app.kubernetes.io/name": NODE_NAMES}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "tolerations": [CONTROL_PLANE_TOLERATION],
                        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [
                            {
                                "name": "coredns",
                                "image": versions.NODE_NAMES_DNS_IMAGE,
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": DNS_PORT, "protocol": "UDP"},
                                    {
                                        "name": "dns-tcp",
                                        "containerPort": DNS_PORT,
                                        "protocol": "TCP",
                                    },
                                ],
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}},
                                "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
                                "resources": {
                                    "requests": {"cpu": "10m", "memory": "32Mi"},
                                    "limits": {"memory": "64Mi"},
                                },
                                "securityContext": restricted,
                                "volumeMounts": [
                                    {
                                        "name": "config",
                                        "mountPath": "/etc/coredns",
                                        "readOnly": True,
                                    }
                                ],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": NODE_NAMES}}],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[config]),
        )
        service = kubernetes.core.v1.Service(
            NODE_NAMES,
            metadata=metadata,
            spec={
                "selector": {"app.kubernetes.io/name": NODE_NAMES},
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": DNS_PORT, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": DNS_PORT, "protocol": "TCP"},
                ],
            },
            opts=child,
        )
        self.cluster_ip = service.spec.cluster_ip
        self.register_outputs({"cluster_ip": self.cluster_ip})


class KubeletCsrApprover(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: CsrApproverArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:KubeletCsrApprover", name, None, opts)
        nameserver = None
        if not args.names_resolve:
            resolver = NodeNameResolver(
                f"{name}-node-names",
                {str(k): str(v) for k, v in args.node_addresses.items()},
                args.depends_on,
                opts=pulumi.ResourceOptions(parent=self),
            )
            nameserver = resolver.cluster_ip
        self.release = release(
            "kubelet-csr-approver",
            versions.KUBELET_CSR_APPROVER,
            NAMESPACE,
            csr_approver_values(args, nameserver),
            self,
            depends_on=args.depends_on,
        )
        self.register_outputs({})


def _deploy(_settings: None, context: AddonContext) -> Deployed:
    site = context.site
    hosts = sorted(context.inventory.hosts, key=lambda host: host.name)
    args = CsrApproverArgs(
        node_name_regex=site.node_name_pattern,
        node_addresses={host.node_name or host.name: host.address for host in hosts},
        names_resolve=site.node_names_resolve,
        depends_on=context.depends_on,
    )
    return Deployed(KubeletCsrApprover("kubelet-csr-approver", args, context.opts))


ADDON: Addon[None] = Addon(
    name="kubelet-csr-approver",
    summary="approves kubelet serving certificates for each node's own name and addresses only",
    deploy=_deploy,
    needs=("prometheus-crds",),
    charts=(versions.KUBELET_CSR_APPROVER,),
)
