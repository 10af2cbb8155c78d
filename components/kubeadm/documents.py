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
# Per-node kubeadm patches (v1beta4 `patches.directory`: files `<target>[suffix][+patchtype]
# .<json|yaml>`, applied to the static pods kubeadm writes on that node).
PATCHES_DIR = "/etc/kubernetes/ml-platform-patches"
ETCD_METRICS_PORT = 2381
# The token kubeadm init creates (it always creates one: v1beta4 SetDefaults_BootstrapTokens
# adds a default token when the list is empty). Joins never use it: each join gets its own.
INIT_TOKEN_TTL = "15m"


@dataclass(frozen=True)
class NodeSettings:
    """What kubeadm needs to know of one node."""

    name: str
    address: str
    control_plane: bool
    gpu_model: str | None = None
    external_cloud_provider: bool = False
    # Also a worker: a host with both roles runs workloads, so it is not tainted.
    worker: bool = False
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
    # Other names clients reach the API server by (an internet-facing load balancer).
    extra_names: tuple[str, ...] = ()
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
        # Dedicated control planes run no workloads; an explicit empty list keeps workers (and
        # hosts with both roles) untainted (v1beta4: nil means "taint control planes").
        "taints": [CONTROL_PLANE_TAINT] if node.control_plane and not node.worker else [],
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
        # Loopback only. kubeadm carries one cluster-wide kube-proxy config in v1alpha1, whose
        # metricsBindAddress is a single ip:port (k8s.io/kubernetes pkg/proxy/apis/config/v1alpha1
        # conversion: host -> host/32), so "each node's own address" cannot be said there, and
        # 0.0.0.0 would expose it on every interface; Prometheus does not scrape kube-proxy.
        "metricsBindAddress": "127.0.0.1:10249",
    }


def etcd_patch(address: str) -> str:
    """Strategic merge patch of one control plane's etcd static pod: metrics on loopback (where
    kubeadm's liveness probe looks) and on the node's own address, not 0.0.0.0.

    etcd's URL-list flags take the last value given, and this `args` entry comes after the
    kubeadm-built `command` (which carries kubeadm's default --listen-metrics-urls loopback
    URL), so a node without the patch simply keeps the loopback default."""
    urls = f"http://127.0.0.1:{ETCD_METRICS_PORT},http://{address}:{ETCD_METRICS_PORT}"
    pod = {"spec": {"containers": [{"name": "etcd", "args": [f"--listen-metrics-urls={urls}"]}]}}
    return yamltext.dump(pod)


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
            # Loopback names too: `pulumi up` may reach the API through an SSH tunnel.
            "certSANs": [
                cluster.control_plane_endpoint,
                *cluster.extra_names,
                "127.0.0.1",
                "localhost",
            ],
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
        # etcd's metrics listen on each control plane's own address: a per-node patch
        # (etcd_patch), as the ClusterConfiguration is the same for every node.
    }


@dataclass(frozen=True)
class JoinSecrets:
    """What a node needs to init or join, resolved: its own bootstrap token, the certificate
    key (control planes), and the pin of the cluster CA."""

    token: str
    certificate_key: str
    ca_cert_hash: str


def init_configuration(node: NodeSettings, secrets: JoinSecrets) -> dict:
    return {
        "apiVersion": KUBEADM_API,
        "kind": "InitConfiguration",
        "bootstrapTokens": [
            {
                "token": secrets.token,
                "description": "ml-platform: created by kubeadm init, used by no join",
                "ttl": INIT_TOKEN_TTL,
                "usages": ["signing", "authentication"],
                "groups": ["system:bootstrappers:kubeadm:default-node-token"],
            }
        ],
        "certificateKey": secrets.certificate_key,
        "nodeRegistration": node_registration(node),
        "localAPIEndpoint": {"advertiseAddress": node.address},
        "patches": {"directory": PATCHES_DIR},
    }


def join_configuration(node: NodeSettings, cluster: ClusterSettings, secrets: JoinSecrets) -> dict:
    document = {
        "apiVersion": KUBEADM_API,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "token": secrets.token,
                "apiServerEndpoint": f"{cluster.control_plane_endpoint}:{cluster.api_port}",
                # The cluster CA is generated by the program, so its public key is pinned:
                # discovery refuses any API server whose CA does not match (v1beta4
                # BootstrapTokenDiscovery.caCertHashes: sha256 of the DER SubjectPublicKeyInfo).
                "caCertHashes": [secrets.ca_cert_hash],
            }
        },
        "nodeRegistration": node_registration(node),
    }
    if node.control_plane:
        document["controlPlane"] = {
            "certificateKey": secrets.certificate_key,
            "localAPIEndpoint": {"advertiseAddress": node.address},
        }
        document["patches"] = {"directory": PATCHES_DIR}
    return document


def dump_all(documents: Sequence[dict]) -> str:
    return yamltext.dump_all(documents)


def init_documents(node: NodeSettings, cluster: ClusterSettings, secrets: JoinSecrets) -> str:
    return dump_all(
        [
            init_configuration(node, secrets),
            cluster_configuration(cluster),
            kubelet_configuration(),
            kube_proxy_configuration(),
        ]
    )


def join_documents(node: NodeSettings, cluster: ClusterSettings, secrets: JoinSecrets) -> str:
    return dump_all([join_configuration(node, cluster, secrets), kubelet_configuration()])


def upload_certs_documents(
    node: NodeSettings, cluster: ClusterSettings, secrets: JoinSecrets
) -> str:
    """What `kubeadm init phase upload-certs --config` reads on the init host to upload the
    control-plane certificates again, encrypted with the certificate key (they live 2 hours)."""
    return dump_all([init_configuration(node, secrets), cluster_configuration(cluster)])


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
