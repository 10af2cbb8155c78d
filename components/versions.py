"""The one place for versions: Kubernetes, host packages, charts and images.

Bump a version here and nowhere else; `pulumi preview --diff` then shows exactly what moves.
"""

from __future__ import annotations

from dataclasses import dataclass

# Exact patch installed by default; kubeadm, kubelet and kubectl are pinned and held at it.
KUBERNETES_VERSION = "1.36.4"


@dataclass(frozen=True)
class KubernetesSupport:
    """The Kubernetes minors a pinned add-on release is documented to run on."""

    component: str
    release: str
    oldest_minor: int
    newest_minor: int


# Every pinned add-on constrains the cluster version; the platform supports the intersection.
# Upper bounds are the support matrices recorded in DESIGN.md (checked late 2026); lower bounds
# are each project's documented floor for that release.
ADDON_KUBERNETES_SUPPORT: tuple[KubernetesSupport, ...] = (
    KubernetesSupport("rancher", "2.15", oldest_minor=34, newest_minor=36),
    KubernetesSupport("rook-ceph", "1.20", oldest_minor=31, newest_minor=36),
    KubernetesSupport("gpu-operator", "26.7", oldest_minor=32, newest_minor=36),
)


def supported_kubernetes_minors() -> range:
    """Minor versions of 1.x that every pinned add-on supports."""
    oldest = max(s.oldest_minor for s in ADDON_KUBERNETES_SUPPORT)
    newest = min(s.newest_minor for s in ADDON_KUBERNETES_SUPPORT)
    return range(oldest, newest + 1)


# Canonical's Ubuntu 24.04 images, looked up by owner and name when no AMI is configured.
UBUNTU_AMI_OWNER = "099720109477"
UBUNTU_AMI_NAME = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"

# kube-vip announces the control-plane VIP on bare metal (static pod on each control plane).
KUBE_VIP_IMAGE = "ghcr.io/kube-vip/kube-vip:v1.2.3"

# containerd 2.x comes from Docker's apt repository (distribution packages are 1.x).
CONTAINERD_PACKAGE = "containerd.io"

# Calico through the tigera-operator chart; Canal (flannel + Calico policy) from its manifest.
CALICO_VERSION = "v3.32.1"
CALICO_CHART = "tigera-operator"
CALICO_CHART_REPO = "https://docs.tigera.io/calico/charts"
CANAL_MANIFEST_URL = (
    f"https://raw.githubusercontent.com/projectcalico/calico/{CALICO_VERSION}/manifests/canal.yaml"
)
