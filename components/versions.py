"""The one place for versions: Kubernetes, host packages, charts and images.

Bump a version here and nowhere else; `pulumi preview --diff` then shows exactly what moves.
"""

from __future__ import annotations

from dataclasses import dataclass

# Exact patch installed by default; kubeadm, kubelet and kubectl are pinned and held at it.
KUBERNETES_VERSION = "1.36.4"


def minor(version: str) -> str:
    """`1.20` of `v1.20.6`, `26.7` of `v26.7.0`: the release line a version belongs to."""
    return ".".join(version.removeprefix("v").split(".")[:2])


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

# containerd 2.x comes from Docker's apt repository (distribution packages are 1.x), pinned to
# this upstream release (the package version is `<release>-<build>~<distro>`) and held.
CONTAINERD_PACKAGE = "containerd.io"
CONTAINERD_VERSION = "2.2.1"
# containerd's sandbox (pause) image, pinned to what kubeadm expects, so its preflight does not
# warn and no node pulls another: kubeadm's constants.PauseVersion is 3.10.1 at v1.35.8
# (kubernetes/kubernetes cmd/kubeadm/app/constants/constants.go); re-check on a minor bump.
SANDBOX_IMAGE = "registry.k8s.io/pause:3.10.1"

# Calico through the tigera-operator chart, whose CRDs come from their own chart since v3.32
# (CALICO_CRDS below); Canal (flannel + Calico policy) from its manifest.
CALICO_VERSION = "v3.32.1"
CALICO_CHART = "tigera-operator"
CALICO_CHART_REPO = "https://docs.tigera.io/calico/charts"
CANAL_MANIFEST_URL = (
    f"https://raw.githubusercontent.com/projectcalico/calico/{CALICO_VERSION}/manifests/canal.yaml"
)


@dataclass(frozen=True)
class HelmChart:
    """A chart pinned to one version; `repo` is empty for an OCI reference in `chart`."""

    chart: str
    version: str
    repo: str = ""


# Calico's CRDs (crd.projectcalico.org and operator.tigera.io), installed before the operator
# chart; charts/crd.projectcalico.org.v1 in projectcalico/calico, published with each release.
CALICO_CRDS = HelmChart("crd.projectcalico.org.v1", CALICO_VERSION, CALICO_CHART_REPO)

# Platform add-ons (checked against the charts' own repositories, August 2026). Every values
# key the program sets is checked against the pinned chart's values.yaml in
# tests/fixtures/chart_values/<chart>.keys; regenerate that file with tools/chart_keys.py
# whenever a version here moves.
METALLB = HelmChart("metallb", "0.16.1", "https://metallb.github.io/metallb")
AWS_CLOUD_CONTROLLER_MANAGER = HelmChart(
    "aws-cloud-controller-manager", "0.0.11", "https://kubernetes.github.io/cloud-provider-aws"
)
# The chart's default image is v1.35.0; v1.36.1 is the only published 1.36 build.
AWS_CLOUD_CONTROLLER_MANAGER_IMAGE_TAG = "v1.36.1"
TRAEFIK = HelmChart("traefik", "41.3.0", "https://traefik.github.io/charts")
CERT_MANAGER = HelmChart("cert-manager", "v1.21.1", "https://charts.jetstack.io")
KUBELET_CSR_APPROVER = HelmChart(
    "kubelet-csr-approver", "1.2.14", "https://postfinance.github.io/kubelet-csr-approver"
)
# The resolver of lab node names the approver checks certificates against: CoreDNS, at the
# release kubeadm itself deploys (constants.CoreDNSVersion, v1.13.1 at kubeadm v1.35.8).
NODE_NAMES_DNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.13.1"
ROOK = "v1.20.6"  # the operator and the cluster chart move together
ROOK_CEPH = HelmChart("rook-ceph", ROOK, "https://charts.rook.io/release")
ROOK_CEPH_CLUSTER = HelmChart("rook-ceph-cluster", ROOK, "https://charts.rook.io/release")
# Rook 1.20 no longer deploys the CSI drivers; this chart (from ceph-csi-operator) does.
CEPH_CSI_DRIVERS = HelmChart(
    "ceph-csi-drivers", "1.0.4", "https://ceph.github.io/ceph-csi-operator"
)
CEPH_IMAGE_REPOSITORY = "quay.io/ceph/ceph"
CEPH_IMAGE_TAG = "v20.2.4"
AWS_EBS_CSI_DRIVER = HelmChart(
    "aws-ebs-csi-driver", "2.64.0", "https://kubernetes-sigs.github.io/aws-ebs-csi-driver"
)
AWS_EFS_CSI_DRIVER = HelmChart(
    "aws-efs-csi-driver", "4.4.1", "https://kubernetes-sigs.github.io/aws-efs-csi-driver"
)
GPU_OPERATOR = HelmChart("gpu-operator", "v26.7.0", "https://helm.ngc.nvidia.com/nvidia")
PROMETHEUS_OPERATOR_CRDS = HelmChart(
    "prometheus-operator-crds", "31.0.1", "https://prometheus-community.github.io/helm-charts"
)
PROMETHEUS_PUSHGATEWAY = HelmChart(
    "prometheus-pushgateway", "3.8.0", "https://prometheus-community.github.io/helm-charts"
)
KUBE_PROMETHEUS_STACK = HelmChart(
    "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack", "88.5.3"
)
METRICS_SERVER = HelmChart(
    "metrics-server", "3.13.1", "https://kubernetes-sigs.github.io/metrics-server/"
)
VERTICAL_POD_AUTOSCALER = HelmChart(
    "vertical-pod-autoscaler", "0.11.0", "https://kubernetes.github.io/autoscaler"
)

# Data services (checked against the charts' own repositories, snapshots of August 2026; the
# tags named are the newest those snapshots hold, so re-check when you bump).
# Longhorn: longhorn/longhorn@v1.12.1:chart/Chart.yaml.
LONGHORN = HelmChart("longhorn", "1.12.1", "https://charts.longhorn.io")
# CloudNativePG: the operator chart 0.29.0 runs operator 1.30.0, whose CRDs include
# DatabaseRole (cloudnative-pg/charts@cloudnative-pg-v0.29.0:charts/cloudnative-pg/Chart.yaml).
CLOUDNATIVE_PG = HelmChart("cloudnative-pg", "0.29.0", "https://cloudnative-pg.github.io/charts")
# The Barman Cloud plugin chart 0.7.0 runs plugin v0.13.0
# (cloudnative-pg/charts@plugin-barman-cloud-v0.7.0:charts/plugin-barman-cloud/Chart.yaml).
BARMAN_CLOUD_PLUGIN = HelmChart(
    "plugin-barman-cloud", "0.7.0", "https://cloudnative-pg.github.io/charts"
)
# PostgreSQL of the platform's cluster: the image operator 1.30.0 defaults to, named here so
# that an operator bump does not move the database (cloudnative-pg/cloudnative-pg@v1.30.0:
# pkg/versions/versions.go, DefaultImageName).
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie"
# MLflow's community chart (its home since the project moved from the maintainer's own repo:
# community-charts/helm-charts@mlflow-1.11.5:charts/mlflow/Chart.yaml, appVersion 3.15.1, the
# image burakince/mlflow with psycopg2, boto3 and mlflow-oidc-auth).
MLFLOW = HelmChart("mlflow", "1.11.5", "https://community-charts.github.io/helm-charts")
# Rancher 2.15: its chart allows Kubernetes `< 1.37.0-0` (rancher/rancher@v2.15.0:
# chart/Chart.yaml); Rancher's own support range for 2.15 starts at 1.34 (rancher/rancher
# issue 55306, "Remove support for K8s 1.33 for rancher 2.15.0").
RANCHER = HelmChart("rancher", "2.15.0", "https://releases.rancher.com/server-charts/latest")
RANCHER_KUBE_VERSION = "< 1.37.0-0"
RANCHER_OLDEST_MINOR = 34
# MinIO's last community image: the project publishes source only since
# RELEASE.2025-10-15T17-29-55Z (minio/minio@RELEASE.2025-10-15T17-29-55Z, "point to source
# only releases"), so RELEASE.2025-09-07T16-13-09Z is the last image; quay.io still serves it
# (Docker Hub no longer does), pinned here by its index digest. The image carries `mc`
# (minio/minio@RELEASE.2025-09-07T16-13-09Z:Dockerfile.release).
# rclone ships the etcd snapshots (and fetches them back for a restore): a crypt remote over
# the bucket (rclone/rclone@v1.75.0: backend/crypt, cmd/obscure; the 1.75.1 image, pinned by
# its index digest as public repositories pin it).
RCLONE_IMAGE = (
    "docker.io/rclone/rclone:1.75.1"
    "@sha256:45401ad7410db1d67ffdb58e19059ad20b0d8e0285a60e38bbec55cc1019c7a5"
)
MINIO_IMAGE = (
    "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
    "@sha256:14cea493d9a34af32f524e538b8346cf79f3321eff8e708c1e2960462bd8936e"
)
# KubeRay (ray-project/kuberay tags; v1.7.0 is the newest in the August 2026 snapshot checked
# in November 2026). The chart's crds/ are applied by the program on every bump, from the same
# tag (components/addons/ray.py): Helm installs crds/ once and never upgrades them.
KUBERAY = "v1.7.0"
KUBERAY_OPERATOR = HelmChart(
    "kuberay-operator", KUBERAY.removeprefix("v"), "https://ray-project.github.io/kuberay-helm/"
)
# Kubeflow Trainer v2 (kubeflow/trainer tags, newest v2.3.0 in the same snapshot); its chart is
# published to oci://ghcr.io/kubeflow/charts (.github/workflows/publish-helm-charts.yaml).
KUBEFLOW_TRAINER = HelmChart("oci://ghcr.io/kubeflow/charts/kubeflow-trainer", "2.3.0")
# The JobSet release the Trainer chart depends on (kubeflow/trainer@v2.3.0:
# charts/kubeflow-trainer/Chart.yaml, dependency jobset 0.12.0): its CRD sits in the subchart's
# crds/, so the program applies it on every bump like KubeRay's. Move it with the Trainer pin.
JOBSET = "v0.12.0"
# Kubeflow Pipelines standalone (kubeflow/pipelines tags, newest 2.17.0 in the same snapshot):
# upstream publishes kustomize manifests, no Helm chart; fetched at deploy time from this tag.
KUBEFLOW_PIPELINES = "2.17.0"

# Kueue (kubernetes-sigs/kueue, newest release in the upstream snapshot checked: v0.19.2,
# August 2026); its chart is published as OCI and the controller image under the same tag.
KUEUE = HelmChart("oci://registry.k8s.io/kueue/charts/kueue", "0.19.2")
KUEUE_IMAGE = "registry.k8s.io/kueue/kueue"
KUEUE_IMAGE_TAG = f"v{KUEUE.version}"

# JupyterHub's chart (z2jh 4.4.0: JupyterHub 5.5.0, KubeSpawner 7.0.0, oauthenticator 17.4.0,
# nativeauthenticator 1.3.0; jupyterhub/zero-to-jupyterhub-k8s@4.4.0:images/hub/requirements.txt).
JUPYTERHUB = HelmChart("jupyterhub", "4.4.0", "https://hub.jupyter.org/helm-chart/")
# The notebook image: Jupyter's docker-stacks PyTorch build with CUDA 12 (its tags are
# `cuda12-<build date>`; the 2026-08-24 build is on the project's wiki, page 2026-08).
NOTEBOOK_IMAGE = "quay.io/jupyter/pytorch-notebook:cuda12-2026-08-24"


@dataclass(frozen=True)
class Dashboard:
    """An upstream Grafana dashboard, pinned by URL and content (fetched at deploy time)."""

    name: str
    url: str
    sha256: str


# dcgm-exporter's dashboard (grafana.com 12239). The GPU operator v26.7.0 runs dcgm-exporter
# 4.6.0-4.8.3; its dashboard is taken from 4.5.3-4.8.2, the newest tag whose content was
# verified here (NVIDIA/dcgm-exporter@4.5.3-4.8.2:grafana/dcgm-exporter-dashboard.json).
DCGM_DASHBOARD = Dashboard(
    "nvidia-dcgm-exporter",
    "https://raw.githubusercontent.com/NVIDIA/dcgm-exporter/4.5.3-4.8.2/grafana/"
    "dcgm-exporter-dashboard.json",
    "7c2172e582524efb70d9f585502366f7fec22b2464c3b89f75418ca648353e71",
)
# Rook's Ceph dashboards at the pinned Rook (rook/rook@<ROOK>:deploy/examples/monitoring/grafana).
CEPH_DASHBOARDS = tuple(
    Dashboard(
        name,
        f"https://raw.githubusercontent.com/rook/rook/{ROOK}/deploy/examples/monitoring/grafana/"
        f"{file}",
        sha256,
    )
    for name, file, sha256 in (
        ("ceph-cluster", "Ceph%20Cluster%20Dashboard.json",
         "6e2ab529f65613487ac50f461a975e829fe201d7785987817234281ff23380fd"),
        ("ceph-osd", "Ceph%20OSD%20Single%20Dashboard.json",
         "dbfade210b3bbe3a7fb89ce3c0516e6a3bc65ba5c28d09cb7541f075c791a218"),
        ("ceph-pools", "Ceph%20Pools%20Dashboard.json",
         "abb0c1b01698632e4420fe57a5a765f67406f75d2e9ba4e7caf8b24141f648b8"),
    )
)  # fmt: skip


@dataclass(frozen=True)
class KubernetesSupport:
    """The Kubernetes minors a pinned add-on release is documented to run on."""

    component: str
    release: str
    oldest_minor: int
    newest_minor: int


def newest_minor_below(constraint: str) -> int:
    """36 for a chart's `kubeVersion: < 1.37.0-0`: the newest 1.x minor it installs on."""
    bound = constraint.removeprefix("<").strip()
    major, minor_text = bound.split(".")[:2]
    if constraint.lstrip()[:1] != "<" or major != "1":
        raise ValueError(f"not an upper bound on 1.x: {constraint!r}")
    return int(minor_text) - 1


# Every pinned add-on constrains the cluster version; the platform supports the intersection.
# Upper bounds are the support matrices recorded in DESIGN.md (checked late 2026); lower bounds
# are each project's documented floor for that release. Rancher's come from its pinned chart:
# the cluster is kept inside its range even where Rancher is off, so that turning it on
# changes no cluster version.
ADDON_KUBERNETES_SUPPORT: tuple[KubernetesSupport, ...] = (
    KubernetesSupport(
        "rancher",
        minor(RANCHER.version),
        oldest_minor=RANCHER_OLDEST_MINOR,
        newest_minor=newest_minor_below(RANCHER_KUBE_VERSION),
    ),
    KubernetesSupport("rook-ceph", minor(ROOK), oldest_minor=31, newest_minor=36),
    KubernetesSupport(
        "gpu-operator", minor(GPU_OPERATOR.version), oldest_minor=32, newest_minor=36
    ),
    # "Requires Kubernetes 1.29 or newer" (kubernetes-sigs/kueue@v0.19.2:README.md), built
    # against k8s.io/api v0.36.2 (go.mod).
    KubernetesSupport("kueue", minor(KUEUE.version), oldest_minor=29, newest_minor=36),
)
