"""NetworkPolicy semantics, evaluated: may this pod open a connection to that pod (or address)
on this port, given every policy of the cluster? As the API documents it
(kubernetes/api@release-1.36:networking/v1/types.go): a pod selected by no policy of a type is
open in that direction; once selected, only what some rule of a selecting policy allows
passes; a connection needs both the source's egress and the destination's ingress."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    # Pods get addresses from the pod network; only ipBlock peers look at it.
    ip: str = "10.244.7.7"


@dataclass(frozen=True)
class Address:
    """Something outside the cluster (the internet, the instance metadata service)."""

    ip: str


@dataclass(frozen=True)
class Policy:
    namespace: str
    spec: Mapping[str, Any]


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector; an empty one selects everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _in_block(ip: str, block: Mapping[str, Any]) -> bool:
    address = ipaddress.ip_address(ip)
    if address not in ipaddress.ip_network(block["cidr"]):
        return False
    return not any(address in ipaddress.ip_network(e) for e in block.get("except", []))


class Cluster:
    """Namespaces (by name, with their labels) and every NetworkPolicy in them."""

    def __init__(self, namespaces: Mapping[str, Mapping[str, str]], policies: Iterable[Policy]):
        # The API server labels every namespace with its name.
        self.namespaces = {
            name: {**labels, "kubernetes.io/metadata.name": name}
            for name, labels in namespaces.items()
        }
        self.policies = list(policies)

    def _peer_matches(self, peer: Mapping[str, Any], policy_namespace: str, other: Any) -> bool:
        if "ipBlock" in peer:
            return _in_block(other.ip, peer["ipBlock"])
        if not isinstance(other, Pod):
            return False
        if "namespaceSelector" in peer:
            labels = self.namespaces.get(other.namespace, {})
            if not selects(peer["namespaceSelector"], labels):
                return False
        elif other.namespace != policy_namespace:
            return False
        return selects(peer.get("podSelector", {}), other.labels)

    @staticmethod
    def _port_matches(ports: list[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
        if not ports:
            return True
        return any(
            p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports
        )

    def _allows(self, pod: Pod, direction: str, other: Any, port: int, protocol: str) -> bool:
        kind = "Egress" if direction == "egress" else "Ingress"
        peers_key = "to" if direction == "egress" else "from"
        selecting = [
            p
            for p in self.policies
            if p.namespace == pod.namespace
            and selects(p.spec.get("podSelector", {}), pod.labels)
            and kind in p.spec.get("policyTypes", ["Ingress"])
        ]
        if not selecting:
            return True
        for policy in selecting:
            for rule in policy.spec.get(direction) or []:
                peers = rule.get(peers_key)
                if peers is not None and not any(
                    self._peer_matches(peer, policy.namespace, other) for peer in peers
                ):
                    continue
                if self._port_matches(rule.get("ports"), port, protocol):
                    return True
        return False

    def connects(
        self, source: Pod, target: Pod | Address, port: int, protocol: str = "TCP"
    ) -> bool:
        if not self._allows(source, "egress", target, port, protocol):
            return False
        if isinstance(target, Address):
            return True
        return self._allows(target, "ingress", source, port, protocol)


def cluster_of(
    registrations: Iterable[Any], extra_namespaces: Mapping[str, Mapping[str, str]] = ()
) -> Cluster:
    """The namespaces and NetworkPolicies an evaluation registers (plus namespaces it does not
    make, such as kube-system)."""
    namespaces = dict(extra_namespaces or {})
    policies = []
    for r in registrations:
        if r.type == "kubernetes:core/v1:Namespace":
            metadata = r.inputs["metadata"]
            namespaces[metadata["name"]] = metadata.get("labels", {})
        elif r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy":
            policies.append(Policy(r.inputs["metadata"]["namespace"], r.inputs["spec"]))
    return Cluster(namespaces, policies)
