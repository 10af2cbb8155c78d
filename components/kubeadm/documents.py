"""The YAML documents kubeadm and the control plane read, built as dicts and dumped with pyyaml.

Functions here are pure: they take plain values (already-resolved secrets included) and return
text, so they run inside `apply` without creating anything and are tested directly.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from components import versions, yamltext
from model.formats import LABEL_VALUE
from model.identity import KUBERNETES_GROUPS_PREFIX, KUBERNETES_USERNAME_PREFIX
from model.inventory import DEVICE_PLUGIN_CONFIG_LABEL

KUBEADM_API = "kubeadm.k8s.io/v1beta4"
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
CRI_SOCKET = "unix:///run/containerd/containerd.sock"
ENCRYPTION_CONFIG_PATH = "/etc/kubernetes/encryption/config.yaml"
# With an OIDC provider: next to the encryption config, in the directory the API server
# already mounts (so no other volume).
AUTHENTICATION_CONFIG_PATH = "/etc/kubernetes/encryption/authentication.yaml"
AUDIT_POLICY_PATH = "/etc/kubernetes/audit/policy.yaml"
AUDIT_LOG_DIR = "/var/log/kubernetes/audit"
GPU_MODEL_LABEL = "ml-platform.io/gpu-model"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@dataclass(frozen=True)
class NodeSettings:
    """What kubeadm needs to know of one node."""

    name: str
    address: str
    control_plane: bool
    gpu_model: str | None = None
    external_cloud_provider: bool = False
    # `exclusive` or `shared`: the device plugin config the node's GPUs are served with.
    gpu_sharing: str | None = None


@dataclass(frozen=True)
class OidcIssuer:
    """The OIDC provider the API server trusts (model/identity.py Oidc, without its secret:
    the API server only checks tokens)."""

    url: str
    audience: str
    username_claim: str
    groups_claim: str


@dataclass(frozen=True)
class ClusterSettings:
    cluster_name: str
    kubernetes_version: str
    control_plane_endpoint: str
    api_port: int
    pod_subnet: str
    service_subnet: str
    external_cloud_provider: bool
    oidc: OidcIssuer | None = None


def b64(text: str) -> str:
    """Multi-line documents travel to the scripts base64-encoded, one line per parameter."""
    return base64.b64encode(text.encode()).decode()


def _args(pairs: dict[str, str]) -> list[dict[str, str]]:
    # v1beta4 takes extra arguments as a list of {name, value}, not a map.
    return [{"name": name, "value": value} for name, value in pairs.items()]


def node_labels(node: NodeSettings) -> str:
    """The kubelet's --node-labels: `key=value,...`. Each value is checked again here, as a
    comma or a space in it would start another label or flag."""
    labels = {GPU_MODEL_LABEL: node.gpu_model, DEVICE_PLUGIN_CONFIG_LABEL: node.gpu_sharing}
    for key, value in labels.items():
        if value is not None and not LABEL_VALUE.parse(value)[0]:
            raise ValueError(f"node {node.name}: {key}={value!r} {LABEL_VALUE.problem}")
    return ",".join(f"{key}={value}" for key, value in labels.items() if value)


def node_registration(node: NodeSettings) -> dict:
    kubelet_args = {"node-ip": node.address}
    if labels := node_labels(node):
        kubelet_args["node-labels"] = labels
    if node.external_cloud_provider:
        kubelet_args["cloud-provider"] = "external"
    return {
        "name": node.name,
        "criSocket": CRI_SOCKET,
        # Control planes run no workloads; an explicit empty list keeps workers untainted.
        "taints": [CONTROL_PLANE_TAINT] if node.control_plane else [],
        "kubeletExtraArgs": _args(kubelet_args),
    }


def kubelet_configuration() -> dict:
    return {
        "apiVersion": KUBELET_API,
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
        # Serving certificates signed by the cluster CA, so metrics-server can verify kubelets;
        # the CSRs are approved by the kubelet serving-certificate approver of the platform.
        "serverTLSBootstrap": True,
    }


def kube_proxy_configuration() -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        # Prometheus scrapes kube-proxy from its node (the default binds to 127.0.0.1).
        "metricsBindAddress": "0.0.0.0:10249",
    }


def _hostpath_volume(name: str, path: str, read_only: bool, path_type: str) -> dict:
    return {
        "name": name,
        "hostPath": path,
        "mountPath": path,
        "readOnly": read_only,
        "pathType": path_type,
    }


def cluster_configuration(cluster: ClusterSettings) -> dict:
    api_args = {
        **({"authentication-config": AUTHENTICATION_CONFIG_PATH} if cluster.oidc else {}),
        "encryption-provider-config": ENCRYPTION_CONFIG_PATH,
        "audit-policy-file": AUDIT_POLICY_PATH,
        "audit-log-path": f"{AUDIT_LOG_DIR}/audit.log",
        "audit-log-maxage": "30",
        "audit-log-maxbackup": "10",
        "audit-log-maxsize": "100",
    }
    controller_args = {"bind-address": "0.0.0.0"}
    if cluster.external_cloud_provider:
        # Since 1.33 only the kubelet and the controller manager take --cloud-provider.
        controller_args["cloud-provider"] = "external"
    return {
        "apiVersion": KUBEADM_API,
        "kind": "ClusterConfiguration",
        "clusterName": cluster.cluster_name,
        "kubernetesVersion": f"v{cluster.kubernetes_version}",
        "controlPlaneEndpoint": f"{cluster.control_plane_endpoint}:{cluster.api_port}",
        "networking": {"podSubnet": cluster.pod_subnet, "serviceSubnet": cluster.service_subnet},
        "apiServer": {
            "certSANs": [cluster.control_plane_endpoint],
            "extraArgs": _args(api_args),
            "extraVolumes": [
                _hostpath_volume(
                    "encryption", "/etc/kubernetes/encryption", True, "DirectoryOrCreate"
                ),
                _hostpath_volume(
                    "audit-policy", "/etc/kubernetes/audit", True, "DirectoryOrCreate"
                ),
                _hostpath_volume("audit-log", AUDIT_LOG_DIR, False, "DirectoryOrCreate"),
            ],
        },
        # Prometheus scrapes these; they listen on localhost only by default.
        "controllerManager": {"extraArgs": _args(controller_args)},
        "scheduler": {"extraArgs": _args({"bind-address": "0.0.0.0"})},
        "etcd": {"local": {"extraArgs": _args({"listen-metrics-urls": "http://0.0.0.0:2381"})}},
    }


def init_configuration(node: NodeSettings, token: str, certificate_key: str) -> dict:
    return {
        "apiVersion": KUBEADM_API,
        "kind": "InitConfiguration",
        "bootstrapTokens": [
            {
                "token": token,
                "description": "ml-platform joins (renewed before each join)",
                "ttl": "24h",
                "usages": ["signing", "authentication"],
                "groups": ["system:bootstrappers:kubeadm:default-node-token"],
            }
        ],
        "certificateKey": certificate_key,
        "nodeRegistration": node_registration(node),
        "localAPIEndpoint": {"advertiseAddress": node.address},
    }


def join_configuration(
    node: NodeSettings, cluster: ClusterSettings, token: str, certificate_key: str
) -> dict:
    document = {
        "apiVersion": KUBEADM_API,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "token": token,
                "apiServerEndpoint": f"{cluster.control_plane_endpoint}:{cluster.api_port}",
                # The CA is pinned through the token's cluster-info signature (kubeadm's
                # token-based discovery); the hash is unknown until init has run.
                "unsafeSkipCAVerification": True,
            }
        },
        "nodeRegistration": node_registration(node),
    }
    if node.control_plane:
        document["controlPlane"] = {
            "certificateKey": certificate_key,
            "localAPIEndpoint": {"advertiseAddress": node.address},
        }
    return document


def dump_all(documents: Sequence[dict]) -> str:
    return yamltext.dump_all(documents)


def init_documents(
    node: NodeSettings, cluster: ClusterSettings, token: str, certificate_key: str
) -> str:
    return dump_all(
        [
            init_configuration(node, token, certificate_key),
            cluster_configuration(cluster),
            kubelet_configuration(),
            kube_proxy_configuration(),
        ]
    )


def join_documents(
    node: NodeSettings, cluster: ClusterSettings, token: str, certificate_key: str
) -> str:
    return dump_all(
        [join_configuration(node, cluster, token, certificate_key), kubelet_configuration()]
    )


def upload_certs_documents(
    node: NodeSettings, cluster: ClusterSettings, token: str, certificate_key: str
) -> str:
    """What `kubeadm init phase upload-certs --config` reads to re-upload the certificates."""
    return dump_all(
        [init_configuration(node, token, certificate_key), cluster_configuration(cluster)]
    )


def encryption_configuration(key_base64: str) -> str:
    """Secrets encrypted at rest with secretbox (XSalsa20-Poly1305), the strongest provider
    that needs no external KMS; identity last so data written before stays readable."""
    document = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [
                    {"secretbox": {"keys": [{"name": "key1", "secret": key_base64}]}},
                    {"identity": {}},
                ],
            }
        ],
    }
    return yamltext.dump(document)


def authentication_configuration(oidc: OidcIssuer) -> str:
    """The API server's structured authentication config (apiserver.config.k8s.io/v1, GA and
    locked on since 1.34: kubernetes/apiserver@release-1.36:pkg/features/kube_features.go;
    fields from pkg/apis/apiserver/v1/types.go). Usernames and groups get the `oidc:` prefix
    (model/identity.py) so that no token names a `system:` user or group; with the `email`
    claim the API server also requires `email_verified`. It reloads the file when it changes."""
    document = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AuthenticationConfiguration",
        "jwt": [
            {
                "issuer": {"url": oidc.url, "audiences": [oidc.audience]},
                "claimMappings": {
                    "username": {"claim": oidc.username_claim, "prefix": KUBERNETES_USERNAME_PREFIX},
                    "groups": {"claim": oidc.groups_claim, "prefix": KUBERNETES_GROUPS_PREFIX},
                },
            }
        ],
    }  # fmt: skip
    return yamltext.dump(document)


def audit_policy() -> str:
    """Metadata for everything, no bodies of Secrets or tokens, no noise from health checks."""
    document = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "nonResourceURLs": ["/healthz*", "/readyz*", "/livez*", "/version"]},
            {
                "level": "None",
                "users": ["system:kube-proxy"],
                "verbs": ["watch"],
                "resources": [{"group": "", "resources": ["endpoints", "services"]}],
            },
            {
                "level": "Metadata",
                "resources": [
                    {"group": "", "resources": ["secrets", "configmaps", "serviceaccounts/token"]},
                    {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
                ],
            },
            {"level": "Metadata"},
        ],
    }
    return yamltext.dump(document)


def kube_vip_pod(vip: str, interface: str, kubeconfig_path: str) -> str:
    """kube-vip as a static pod announcing the API VIP by ARP, with leader election.

    On the first control plane during `kubeadm init`, admin.conf has no rights yet (since 1.29
    it is bound through a ClusterRoleBinding that init creates later), so kube-vip must read
    super-admin.conf there until init is done; the mount path stays admin.conf either way."""
    env = {
        "vip_arp": "true",
        "port": "6443",
        "vip_interface": interface,
        "vip_subnet": "32",
        "dns_mode": "first",
        "cp_enable": "true",
        "cp_namespace": "kube-system",
        "vip_leaderelection": "true",
        "vip_leasename": "plndr-cp-lock",
        "vip_leaseduration": "15",
        "vip_renewdeadline": "10",
        "vip_retryperiod": "2",
        "address": vip,
        "prometheus_server": ":2112",
    }
    env_list = [{"name": k, "value": v} for k, v in env.items()]
    env_list.insert(
        2, {"name": "vip_nodename", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "containers": [
                {
                    "name": "kube-vip",
                    "image": versions.KUBE_VIP_IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["manager"],
                    "env": env_list,
                    "securityContext": {
                        "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}
                    },
                    "volumeMounts": [
                        {"name": "kubeconfig", "mountPath": "/etc/kubernetes/admin.conf"}
                    ],
                }
            ],
            "hostNetwork": True,
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}],
            "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig_path}}],
        },
    }
    return yamltext.dump(pod)
